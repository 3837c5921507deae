//go:build !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestGemvPackedStreams runs TestGemvPacked with the AVX-512 packed kernels reading one group
// at a time and two, whichever this CPU's vendor chose: both must give the generic twin's
// chains bit for bit.
func TestGemvPackedStreams(t *testing.T) {
	defer func(v bool) { packedTwoStreams = v }(packedTwoStreams)
	for _, two := range []bool{false, true} {
		packedTwoStreams = two
		t.Run(fmt.Sprintf("two=%v", two), TestGemvPacked)
	}
}

// BenchmarkGemvBF16PackedStreams is BenchmarkGemvBF16Packed(Fast) at the AVX-512 levels with
// one stream and with two: the figures packedTwoStreams is chosen from.
func BenchmarkGemvBF16PackedStreams(b *testing.B) {
	defer func(v bool) { packedTwoStreams = v }(packedTwoStreams)
	for _, two := range []bool{false, true} {
		packedTwoStreams = two
		b.Run(fmt.Sprintf("two=%v", two), func(b *testing.B) {
			b.Run("exact", BenchmarkGemvBF16Packed)
			b.Run("fast", BenchmarkGemvBF16PackedFast)
		})
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
