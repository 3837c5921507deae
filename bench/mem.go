package bench

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minitron-go/minitron/tensor"
)

// ReadBandwidth measures how fast threads goroutines stream buf, in bytes per second: the
// best of rounds passes, each thread summing its share.
func ReadBandwidth(buf []byte, threads, rounds int) float64 {
	threads = max(threads, 1)
	share := len(buf) / threads &^ 63
	if share == 0 {
		return 0
	}
	var best float64
	var sink uint64
	var mu sync.Mutex
	for range rounds {
		var wg sync.WaitGroup
		start := time.Now()
		for t := range threads {
			wg.Go(func() {
				s := tensor.StreamSum(buf[t*share : (t+1)*share])
				mu.Lock()
				sink += s
				mu.Unlock()
			})
		}
		wg.Wait()
		best = max(best, float64(threads*share)/time.Since(start).Seconds())
	}
	_ = sink
	return best
}

// PeakRSS is the most resident memory the process has had, in bytes (0 where unknown).
func PeakRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
