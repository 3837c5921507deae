//go:build !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The column kernels against the row-major ones on the same amount of W held in L2: one
// packed group's 128 rows by k = 1024 (512 KiB of f32, 256 KiB of bf16, and a panel of
// 192 KiB or 96 KiB beside it; the Zen 4 has 1 MiB of L2 a core), walked in blocks of
// GemmCols rows, by columns ("cols": the layout UnpackF32 writes, or a packed group's pairs
// read in place) and row-major ("rows"). GFLOP/s counts 2·GemmRows·GemmCols·k per call.

func BenchmarkGemmF32Cols(b *testing.B)  { benchGemmCols(b, false) }
func BenchmarkGemmBF16Cols(b *testing.B) { benchGemmCols(b, true) }

func benchGemmCols(b *testing.B, bf16 bool) {
	rng := rand.New(rand.NewPCG(13, 13))
	const k, m = 1024, PackedRows
	for _, kn := range Implementations() {
		if bf16 && kn.GemmBF16Cols == nil {
			continue
		}
		R, C := kn.GemmRows, kn.GemmCols
		xp := randSlice(rng, R*k, 1)
		xb := bf16Slice(rng, R*k)
		tile := make([]float32, R*C)
		w := randSlice(rng, m*k, 1) // row-major, or by columns: ldp = m
		wb := bf16Slice(rng, m*k)   // row-major, or a packed group's pairs
		for _, layout := range []string{"cols", "rows", "panel"} {
			b.Run(fmt.Sprintf("%s/k=%d/%s", kn.Level, k, layout), func(b *testing.B) {
				j0 := 0
				for b.Loop() {
					switch {
					case bf16 && layout == "cols":
						kn.GemmBF16Cols(tile, xb, wb[2*j0:], m, k, C, false)
					case bf16:
						kn.GemmBF16(tile, xb, wb[j0*k:], k, k, C, false)
					case layout == "cols":
						kn.GemmF32Cols(tile, xp, w[j0:], m, k, C, false)
					case layout == "panel":
						kn.GemmF32Cols(tile, xp, w[j0*k:], C, k, C, false)
					default:
						kn.GemmF32(tile, xp, w[j0*k:], k, k, C, false)
					}
					if j0 += C; j0+C > m {
						j0 = 0
					}
				}
				b.ReportMetric(2*float64(R*C*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
