package tensor

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkReadRows4 reads 1 GiB in the decode kernels' pattern: rows of 6144 and 18432 bytes (3072 and 9216 bf16 columns), four at a time, with
// and without their prefetch, on one and two threads (each over half). Beside
// BenchmarkReadBandwidth and BenchmarkGemvBF16 it separates what the access pattern costs
// from what the arithmetic does.
func BenchmarkReadRows4(b *testing.B) {
	all := make([]byte, 1<<30)
	for i := 0; i < len(all); i += 4096 {
		all[i] = 1 // touched: no zero page stands in for memory
	}
	for _, rowBytes := range []int{6144, 18432} {
		for _, pf := range []bool{false, true} {
			for _, threads := range []int{1, 2} {
				share := len(all) / threads / (4 * rowBytes) * (4 * rowBytes)
				b.Run(fmt.Sprintf("row=%d/prefetch=%v/threads=%d", rowBytes, pf, threads), func(b *testing.B) {
					b.SetBytes(int64(threads * share))
					for b.Loop() {
						var wg sync.WaitGroup
						for t := 1; t < threads; t++ {
							wg.Go(func() { ReadRows4(all[t*share:(t+1)*share], rowBytes, pf) })
						}
						ReadRows4(all[:share], rowBytes, pf)
						wg.Wait()
					}
				})
			}
		}
	}
}
