//go:build !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Prefill kernels at the model's shapes (hidden 3072, MLP 9216), every implementation.
//
// "cache": one panel and one block of GemmCols W rows, both reused from cache, so the
// kernel's arithmetic rate shows; "stream": the panel stays in cache while successive calls
// walk the rows of a 9216×k W (the up projection's shape, 56 MB in bf16) from memory, as a
// prefill does. GFLOP/s counts 2·GemmRows·nw·k per call; compare levels within one run.

func BenchmarkGemmF32(b *testing.B)  { benchGemm(b, false) }
func BenchmarkGemmBF16(b *testing.B) { benchGemm(b, true) }

func benchGemm(b *testing.B, bf16 bool) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, kn := range Implementations() {
		if bf16 && kn.GemmBF16 == nil {
			continue
		}
		R, C := kn.GemmRows, kn.GemmCols
		for _, k := range []int{3072, 9216} {
			x := randSlice(rng, R*k, 1)
			xp := make([]float32, R*k)
			xb := make([]uint16, R*k)
			kn.PackF32(xp, x, k, R, k)
			kn.PackBF16(xb, x, k, R, k)
			tile := make([]float32, R*C)
			for _, where := range []string{"cache", "stream"} {
				m := C
				if where == "stream" {
					m = 9216
				}
				var wf []float32
				var wb []uint16
				if bf16 {
					wb = bf16Slice(rng, m*k)
				} else {
					wf = randSlice(rng, m*k, 1)
				}
				b.Run(fmt.Sprintf("%s/k=%d/%s", kn.Level, k, where), func(b *testing.B) {
					j0 := 0
					for b.Loop() {
						if bf16 {
							kn.GemmBF16(tile, xb, wb[j0*k:], k, k, C, false)
						} else {
							kn.GemmF32(tile, xp, wf[j0*k:], k, k, C, false)
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
}

// Packing reads a panel of x once per matrix product; GB/s counts the float32 bytes read.
func BenchmarkPackF32(b *testing.B)  { benchPack(b, false) }
func BenchmarkPackBF16(b *testing.B) { benchPack(b, true) }

func benchPack(b *testing.B, bf16 bool) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, kn := range Implementations() {
		R := kn.GemmRows
		for _, k := range []int{3072, 9216} {
			x := randSlice(rng, R*k, 1)
			xp := make([]float32, R*k)
			xb := make([]uint16, R*k)
			b.Run(fmt.Sprintf("%s/k=%d", kn.Level, k), func(b *testing.B) {
				for b.Loop() {
					if bf16 {
						kn.PackBF16(xb, x, k, R, k)
					} else {
						kn.PackF32(xp, x, k, R, k)
					}
				}
				b.ReportMetric(4*float64(R*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
