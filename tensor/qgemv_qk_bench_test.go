//go:build !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// BenchmarkGemvQK runs the Q4_K, Q5_K and Q6_K matrix-vector products, exact and fast, of every
// implementation whose kernel differs from the level below, at k = 3072 over two sizes of
// weights: 64 MiB, twice this project's largest L3, streamed from memory as in decoding, and
// 256 KiB, which stays in L2 and shows the kernel's own ceiling. MB/s counts weight bytes.
// The fast products' activations are quantized once, outside the timed loop, e.g.
//
//	go test -run '^$' -bench GemvQK -benchtime 1s -count 3 ./tensor/
func BenchmarkGemvQK(b *testing.B) {
	const k = 3072
	rng := rand.New(rand.NewPCG(9, 9))
	x := randSlice(rng, k, 1)
	for _, dt := range []DType{Q4_K, Q5_K, Q6_K} {
		rowBytes := dt.Bytes(k)
		// 64 rows quantized once, copied through the whole matrix.
		seed := make([]byte, 64*rowBytes)
		Quantize(seed, dt, randSlice(rng, 64*k, 0.05))
		for _, size := range []struct {
			name  string
			bytes int
		}{{"mem", 64 << 20}, {"L2", 256 << 10}} {
			rows := size.bytes / rowBytes
			w := make([]byte, rows*rowBytes)
			for i := 0; i < len(w); i += len(seed) {
				copy(w[i:], seed)
			}
			dst := make([]float32, rows)
			exactOf := func(kn *Kernels) any { e, _ := kn.GemvQuant(dt); return e }
			fastOf := func(kn *Kernels) any { _, f := kn.GemvQuant(dt); return f }
			for _, kn := range distinct(exactOf) {
				exact, _ := kn.GemvQuant(dt)
				b.Run(fmt.Sprintf("%s/exact/%s/%s", dt, kn.Level, size.name), func(b *testing.B) {
					b.SetBytes(int64(len(w)))
					for b.Loop() {
						exact(dst, w, x)
					}
				})
			}
			for _, kn := range distinct(fastOf) {
				_, fast := kn.GemvQuant(dt)
				a := NewQ8Act(k, ActBlock(dt))
				kn.QuantizeQ8Act(a, x)
				b.Run(fmt.Sprintf("%s/fast/%s/%s", dt, kn.Level, size.name), func(b *testing.B) {
					b.SetBytes(int64(len(w)))
					for b.Loop() {
						fast(dst, w, a)
					}
				})
			}
		}
	}
}

// BenchmarkGemvQKThreads is BenchmarkGemvQK's fast products from memory with the rows split
// between two goroutines, as the CPU backend's two workers run them while decoding: compare
// with BenchmarkReadBandwidth/threads=2 and with one goroutine's rate above.
func BenchmarkGemvQKThreads(b *testing.B) {
	const k = 3072
	rng := rand.New(rand.NewPCG(9, 9))
	x := randSlice(rng, k, 1)
	kn := Active()
	for _, dt := range []DType{Q4_K, Q6_K} {
		rowBytes := dt.Bytes(k)
		seed := make([]byte, 64*rowBytes)
		Quantize(seed, dt, randSlice(rng, 64*k, 0.05))
		rows := (256 << 20) / rowBytes &^ 127
		w := make([]byte, rows*rowBytes)
		for i := 0; i < len(w); i += len(seed) {
			copy(w[i:], seed)
		}
		dst := make([]float32, rows)
		_, fast := kn.GemvQuant(dt)
		a := NewQ8Act(k, ActBlock(dt))
		kn.QuantizeQ8Act(a, x)
		half := rows / 2
		b.Run(fmt.Sprintf("%s/%s/threads=2", dt, kn.Level), func(b *testing.B) {
			b.SetBytes(int64(len(w)))
			for b.Loop() {
				var wg sync.WaitGroup
				wg.Go(func() { fast(dst[:half], w[:half*rowBytes], a) })
				fast(dst[half:], w[half*rowBytes:], a)
				wg.Wait()
			}
		})
	}
}
