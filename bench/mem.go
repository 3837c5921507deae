package bench

import (
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// The read reference is the best of several ways of reading memory, each doing only loads.
// One of them is the decode kernels' own pattern over the decoder's own matrices, so a
// decode that streams its weights faster than the reference would have to read the same
// rows, the same way, faster than loads alone: the weights' ratio cannot exceed 1 but for
// noise between the two measurements.
const (
	// PatternStream is one sequential stream per thread over a contiguous share of a buffer
	// (the reference before there were several).
	PatternStream = "stream"
	// PatternStream4 and PatternStream4PF read each thread's share as four streams at once,
	// 128 bytes of each per step, without and with the decode kernels' prefetch.
	PatternStream4   = "stream4"
	PatternStream4PF = "stream4_prefetch"
	// PatternDecode is the decode kernels' pattern: every matrix that decoding reads, its rows
	// handed out to the threads in chunks of the CPU backend's grain by an atomic counter,
	// read as the kernels read a chunk: four streams, one per quarter of its rows, with the
	// kernels' prefetch (tensor.ReadRows4). PatternDecodeNoPF is
	// the same without prefetch.
	PatternDecode     = "decode_rows"
	PatternDecodeNoPF = "decode_rows_noprefetch"
)

// Matrix is a weight matrix as decoding reads it: rows of equal length in bytes.
type Matrix struct {
	Data []byte
	Rows int
}

// DecodeMatrices are the matrices one decoded token reads in full, in the order of
// cfg.Params(): every matrix except an untied embedding table, of which decoding reads one
// row (DecodeBytes counts it; the read patterns leave it out).
func DecodeMatrices(cfg nemotron.Config, src nemotron.Source) []Matrix {
	var ms []Matrix
	for _, p := range cfg.Params() {
		t, _, ok := src.Tensor(p.Name)
		if !ok || !p.Role.Matrix() && !(p.Role == nemotron.RoleEmbedding && cfg.TieEmbeddings) {
			continue
		}
		ms = append(ms, Matrix{Data: t.Data, Rows: p.Shape[0]})
	}
	return ms
}

// Over lays the matrices' shapes over buf, one after another, wrapping around at its end: the
// decode patterns then read memory that is there (a source's own pages may have been given
// back once a backend copied them, and read as zeros from one shared page).
func Over(ms []Matrix, buf []byte) []Matrix {
	out := make([]Matrix, 0, len(ms))
	off := 0
	for _, m := range ms {
		n := len(m.Data)
		if n > len(buf) {
			continue
		}
		if off+n > len(buf) {
			off = 0
		}
		out = append(out, Matrix{Data: buf[off : off+n : off+n], Rows: m.Rows})
		off += n
	}
	return out
}

// ReadPatterns measures each read pattern on threads goroutines, the best of rounds passes,
// in bytes per second: the stream patterns over buf, the decode patterns over ms (either may
// be empty, and its patterns are then left out). The patterns take turns, one pass each per
// round, so that a change in the machine's load falls on all of them.
func ReadPatterns(buf []byte, ms []Matrix, threads, rounds int) map[string]float64 {
	threads = max(threads, 1)
	type pattern struct {
		name string
		pass func() float64
	}
	var ps []pattern
	share := len(buf) / threads &^ 511 // four rows of a multiple of 128 bytes
	if share > 0 {
		shares := func(read func([]byte) uint64) func() float64 {
			return func() float64 { return readShares(buf, share, threads, 1, read) }
		}
		ps = append(ps,
			pattern{PatternStream, shares(tensor.StreamSum)},
			pattern{PatternStream4, shares(func(b []byte) uint64 { return tensor.ReadRows4(b, len(b)/4, false) })},
			pattern{PatternStream4PF, shares(func(b []byte) uint64 { return tensor.ReadRows4(b, len(b)/4, true) })})
	}
	if len(ms) > 0 {
		ps = append(ps,
			pattern{PatternDecode, func() float64 { return readRows(ms, threads, 1, true) }},
			pattern{PatternDecodeNoPF, func() float64 { return readRows(ms, threads, 1, false) }})
	}
	out := map[string]float64{}
	for range rounds {
		for _, p := range ps {
			out[p.name] = max(out[p.name], p.pass())
		}
	}
	return out
}

// Best is the highest rate of a ReadPatterns result, and its pattern's name.
func Best(rates map[string]float64) (string, float64) {
	var name string
	var best float64
	for _, n := range slices.Sorted(maps.Keys(rates)) {
		if rates[n] > best {
			name, best = n, rates[n]
		}
	}
	return name, best
}

// ReadBandwidth is the stream pattern alone: how fast threads goroutines stream buf, in
// bytes per second, the best of rounds passes.
func ReadBandwidth(buf []byte, threads, rounds int) float64 {
	threads = max(threads, 1)
	share := len(buf) / threads &^ 63
	if share == 0 {
		return 0
	}
	return readShares(buf, share, threads, rounds, tensor.StreamSum)
}

var sink atomic.Uint64 // keeps the sums, so that no read is dead

// readShares runs read over share bytes per thread, the best of rounds passes.
func readShares(buf []byte, share, threads, rounds int, read func([]byte) uint64) float64 {
	var best float64
	for range rounds {
		var wg sync.WaitGroup
		start := time.Now()
		for t := range threads {
			wg.Go(func() { sink.Add(read(buf[t*share : (t+1)*share])) })
		}
		wg.Wait()
		best = max(best, float64(threads*share)/time.Since(start).Seconds())
	}
	return best
}

// readRows reads every matrix of ms as the CPU backend's gemv hands it out
// (backend/cpu/matmul.go): chunks of grain rows claimed from an atomic counter, each read four
// rows at a time. The threads go on to the next matrix without waiting for each other, which
// the backend's pool does at the end of every matmul: the reference is at least as fast.
func readRows(ms []Matrix, threads, rounds int, prefetch bool) float64 {
	var total int64
	for _, m := range ms {
		total += int64(len(m.Data))
	}
	next := make([]atomic.Int64, len(ms))
	var best float64
	for range rounds {
		for i := range next {
			next[i].Store(0)
		}
		var wg sync.WaitGroup
		start := time.Now()
		for range threads {
			wg.Go(func() {
				var s uint64
				for i, m := range ms {
					rb := len(m.Data) / m.Rows
					g := gemvGrain(m.Rows, threads)
					for {
						lo := int(next[i].Add(int64(g))) - g
						if lo >= m.Rows {
							break
						}
						hi := min(lo+g, m.Rows)
						if rb%8 != 0 { // rows not in whole words (odd f16 columns): read them in one stream
							s += tensor.StreamSum(m.Data[lo*rb : hi*rb])
							continue
						}
						s += tensor.ReadRows4(m.Data[lo*rb:hi*rb], rb, prefetch)
					}
				}
				sink.Add(s)
			})
		}
		wg.Wait()
		best = max(best, float64(total)/time.Since(start).Seconds())
	}
	return best
}

// gemvGrain is the CPU backend's chunk of rows for a matrix-vector product of m rows
// (backend/cpu/matmul.go, gemv): keep the two in step.
func gemvGrain(m, threads int) int { return max(16, min(256, m/(threads*32))&^3) }

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
