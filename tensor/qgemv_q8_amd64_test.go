//go:build !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestQ8_0Kernels runs every build of the Q8_0 assembly (with and without prefetch, AVX2
// and AVX-512) on what TestGemvQuant leaves out: k an odd number of blocks (the one-block
// step after the two-block loop), k = 0, every row count around the groups of four, and
// x with zeros, a block of zeros and large values. The fast products and the quantizer
// must equal their plain-Go twins bit for bit; the exact ones stay within
// TestGemvQuant's tolerance of a float64 sum.
func TestQ8_0Kernels(t *testing.T) {
	f := hostCPU().Features
	avx2 := f.AVX2 && f.FMA && f.F16C
	avx512 := avx2 && f.AVX512F && f.AVX512BW && f.AVX512DQ && f.AVX512VL
	type exact struct {
		name string
		ok   bool
		f    func(dst []float32, w []byte, x []float32)
	}
	type fast struct {
		name string
		ok   bool
		f    func(dst []float32, w []byte, q []int8, d []float32)
	}
	type quant struct {
		name string
		ok   bool
		f    func(q []int8, d []float32, sums []int16, x []float32, chunks int)
	}
	exacts := []exact{
		{"gemvQ8_0AVX2", avx2, gemvQ8_0AVX2}, {"gemvQ8_0AVX2NoPF", avx2, gemvQ8_0AVX2NoPF},
		{"gemvQ8_0AVX512", avx512, gemvQ8_0AVX512}, {"gemvQ8_0AVX512NoPF", avx512, gemvQ8_0AVX512NoPF},
	}
	fasts := []fast{
		{"gemvQ8_0Q8AVX2", avx2, gemvQ8_0Q8AVX2}, {"gemvQ8_0Q8AVX2NoPF", avx2, gemvQ8_0Q8AVX2NoPF},
		{"gemvQ8_0Q8VNNI", avx512 && f.AVX512VNNI, gemvQ8_0Q8VNNI},
		{"gemvQ8_0Q8VNNINoPF", avx512 && f.AVX512VNNI, gemvQ8_0Q8VNNINoPF},
	}
	quants := []quant{
		{"quantizeQ8ActAVX2", avx2, quantizeQ8ActAVX2},
	}
	for _, e := range exacts {
		if !e.ok {
			t.Logf("%s: skipped, this CPU cannot run it", e.name)
		}
	}
	for _, e := range fasts {
		if !e.ok {
			t.Logf("%s: skipped, this CPU cannot run it", e.name)
		}
	}

	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{0, 32, 64, 96, 160, 224, 416, 512, 1056, 1536} {
		for _, rows := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 17} {
			w, deq := quantRows(rng, Q8_0, rows, k)
			x := randSlice(rng, k, 1)
			if k >= 96 {
				for j := range 32 {
					x[32+j] = 0 // a block of zeros
				}
				x[70], x[71] = 3e4, -5e4
			}
			ref, mag := refGemv(deq, x, rows)
			for _, e := range exacts {
				if !e.ok {
					continue
				}
				dst := make([]float32, rows+2)
				dst[0], dst[rows+1] = guard, guard
				e.f(dst[1:rows+1], w, x)
				checkGemvQuant(t, fmt.Sprintf("%s/k=%d/rows=%d", e.name, k, rows), dst, ref, mag)
			}

			for _, block := range []int{32, 256} {
				if k%block != 0 {
					continue
				}
				g := NewQ8Act(k, block)
				quantizeQ8ActGeneric(g, x)
				for _, qk := range quants {
					if !qk.ok {
						continue
					}
					a := NewQ8Act(k, block)
					qk.f(a.Q, a.D, a.Sums, x, block/32)
					for i := range g.Q {
						if g.Q[i] != a.Q[i] || !sameF32(g.D[i/block], a.D[i/block]) || g.Sums[i/16] != a.Sums[i/16] {
							t.Fatalf("%s/k=%d/block=%d: differs from quantizeQ8ActGeneric at %d", qk.name, k, block, i)
						}
					}
				}
			}

			g := NewQ8Act(k, 32)
			quantizeQ8ActGeneric(g, x)

			want := make([]float32, rows)
			gemvQ8_0Q8Generic(want, w, g)
			for _, fk := range fasts {
				if !fk.ok {
					continue
				}
				dst := make([]float32, rows+2)
				dst[0], dst[rows+1] = guard, guard
				fk.f(dst[1:rows+1], w, g.Q, g.D)
				if dst[0] != guard || dst[rows+1] != guard {
					t.Fatalf("%s/k=%d/rows=%d: wrote outside dst", fk.name, k, rows)
				}
				for r := range rows {
					if !sameF32(dst[1+r], want[r]) {
						t.Fatalf("%s/k=%d/rows=%d: row %d = %g, want %g (gemvQ8_0Q8Generic)", fk.name, k, rows, r, dst[1+r], want[r])
					}
				}
			}
		}
	}
}

func sameF32(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
