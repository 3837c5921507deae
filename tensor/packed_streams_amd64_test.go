//go:build !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// packedStreamModes are the ways the AVX-512 packed kernels read a matrix: one group at a
// time, or two, prefetched (packedTwoStreams).
var packedStreamModes = []struct {
	name string
	two  bool
}{{"one", false}, {"two", true}}

// withPackedStreams runs f with the kernels reading two streams or one, the choice restored
// after.
func withPackedStreams(two bool, f func()) {
	defer func(t bool) { packedTwoStreams = t }(packedTwoStreams)
	packedTwoStreams = two
	f()
}

// TestGemvPackedStreams runs TestGemvPacked with the AVX-512 packed kernels reading one group
// at a time and two, whichever this CPU's vendor chose: both must give the generic twin's
// chains bit for bit.
func TestGemvPackedStreams(t *testing.T) {
	for _, m := range packedStreamModes {
		withPackedStreams(m.two, func() { t.Run(m.name, TestGemvPacked) })
	}
}

// BenchmarkGemvBF16PackedStreams is BenchmarkGemvBF16Packed(Fast) at the AVX-512 levels
// reading one stream and two, one goroutine: the figures packedTwoStreams is chosen from.
// BenchmarkGemvBF16PackedThreads is the same on two goroutines, as decoding runs them.
func BenchmarkGemvBF16PackedStreams(b *testing.B) {
	for _, m := range packedStreamModes {
		withPackedStreams(m.two, func() {
			b.Run(m.name, func(b *testing.B) {
				b.Run("exact", BenchmarkGemvBF16Packed)
				b.Run("fast", BenchmarkGemvBF16PackedFast)
			})
		})
	}
}

// BenchmarkGemvBF16PackedThreads splits each matrix's groups between two goroutines, each
// streaming its half from memory as the CPU backend's workers do, for each way of reading
// the streams; compare with BenchmarkReadBandwidth/threads=2.
func BenchmarkGemvBF16PackedThreads(b *testing.B) {
	u, _ := benchPools()
	rng := rand.New(rand.NewPCG(8, 8))
	kn := Active()
	for _, m := range packedStreamModes {
		for _, s := range gemvShapes {
			rows, k := s[0], s[1]
			ws := benchCopies(u, rows, k)
			x := randSlice(rng, k, 1)
			xb := make([]uint16, k)
			kn.F32ToBF16(xb, x)
			dst := make([]float32, rows)
			half := rows / 2
			for _, fast := range []bool{false, true} {
				if fast && kn.GemvBF16PackedFast == nil {
					continue
				}
				gemv := func(d []float32, w []uint16) {
					if fast {
						kn.GemvBF16PackedFast(d, w, xb, PackedRows*k, false)
					} else {
						kn.GemvBF16Packed(d, w, x, PackedRows*k, false)
					}
				}
				withPackedStreams(m.two, func() {
					b.Run(fmt.Sprintf("%s/%s/fast=%v/%dx%d", kn.Level, m.name, fast, rows, k), func(b *testing.B) {
						b.SetBytes(int64(rows * k * 2))
						i := 0
						for b.Loop() {
							w := ws[i]
							var wg sync.WaitGroup
							wg.Go(func() { gemv(dst[:half], w[:half*k]) })
							gemv(dst[half:], w[half*k:])
							wg.Wait()
							i = (i + 1) % len(ws)
						}
					})
				})
			}
		}
	}
}

// BenchmarkGemvPackedRows multiplies four rows of x by a packed block that stays in L2
// (256 rows × 512 columns, 256 KiB), one core, in GFLOP/s: the passes after the first over
// a block of w when a few sequences decode together (backend/cpu packedGemvTask).
func BenchmarkGemvPackedRows(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	const m, k = 256, 512
	p := make([]uint16, PackedLen(m, k))
	PackBF16(p, bf16Slice(rng, m*k), m, k)
	var d, x [4][]float32
	for i := range 4 {
		d[i], x[i] = make([]float32, m), randSlice(rng, k, 1)
	}
	for _, kn := range Implementations() {
		if kn.GemvBF16Packed2 == nil {
			continue
		}
		flops := func(b *testing.B) {
			b.ReportMetric(2*4*m*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(kn.Level.String()+"/two-twice", func(b *testing.B) {
			for b.Loop() {
				kn.GemvBF16Packed2(d[0], d[1], p, x[0], x[1], PackedRows*k, false)
				kn.GemvBF16Packed2(d[2], d[3], p, x[2], x[3], PackedRows*k, false)
			}
			flops(b)
		})
		if kn.GemvBF16Packed2Fast != nil {
			var xb [4][]uint16
			for i := range 4 {
				xb[i] = make([]uint16, k)
				kn.F32ToBF16(xb[i], x[i])
			}
			b.Run(kn.Level.String()+"/fast/two-twice", func(b *testing.B) {
				for b.Loop() {
					kn.GemvBF16Packed2Fast(d[0], d[1], p, xb[0], xb[1], PackedRows*k, false)
					kn.GemvBF16Packed2Fast(d[2], d[3], p, xb[2], xb[3], PackedRows*k, false)
				}
				flops(b)
			})
		}
		if kn.GemvBF16Packed4 != nil {
			b.Run(kn.Level.String()+"/four", func(b *testing.B) {
				for b.Loop() {
					kn.GemvBF16Packed4(d, p, x, PackedRows*k, false)
				}
				flops(b)
			})
		}
	}
}
