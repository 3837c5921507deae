package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var quantDTypes = []DType{Q8_0, Q4_K, Q5_K, Q6_K}

// quantRows returns rows×k weights quantized to dt and their dequantized values.
func quantRows(rng *rand.Rand, dt DType, rows, k int) ([]byte, []float32) {
	x := randSlice(rng, rows*k, 0.05)
	q := make([]byte, dt.Bytes(rows*k))
	Quantize(q, dt, x)
	deq := make([]float32, rows*k)
	Dequantize(deq, dt, q)
	return q, deq
}

// refGemv is dst[r] = Σ w[r·k+p]·x[p] in float64, with the summed magnitudes for a
// tolerance relative to them.
func refGemv(w, x []float32, rows int) (ref, mag []float64) {
	k := len(x)
	ref, mag = make([]float64, rows), make([]float64, rows)
	for r := range rows {
		for p, v := range x {
			t := float64(w[r*k+p]) * float64(v)
			ref[r] += t
			mag[r] += math.Abs(t)
		}
	}
	return ref, mag
}

// TestGemvQuant checks every implementation's quantized products against float64 sums: the
// exact ones over the dequantized weights and x, the fast ones over the dequantized weights
// and the dequantized activations D·Q (their integer sums are exact, so only the float32
// combination of sub-blocks rounds).
func TestGemvQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, impl := range Implementations() {
		for _, dt := range quantDTypes {
			for _, k := range []int{256, 512, 3072, 9216} {
				for _, rows := range []int{1, 3, 4, 5, 8, 13, 16, 33} {
					name := fmt.Sprintf("%s/%s/k=%d/rows=%d", impl.Level, dt, k, rows)
					w, deq := quantRows(rng, dt, rows, k)
					x := randSlice(rng, k, 1)
					exact, fast := impl.GemvQuant(dt)

					dst := make([]float32, rows+2)
					dst[0], dst[rows+1] = guard, guard
					exact(dst[1:rows+1], w, x)
					ref, mag := refGemv(deq, x, rows)
					checkGemvQuant(t, name+"/exact", dst, ref, mag)

					bs := ActBlock(dt)
					a := NewQ8Act(k, bs)
					impl.QuantizeQ8Act(a, x)
					xa := make([]float32, k)
					for i, q := range a.Q {
						xa[i] = a.D[i/bs] * float32(q)
					}
					if impl.Level != Generic {
						g := NewQ8Act(k, bs)
						quantizeQ8ActGeneric(g, x)
						for i := range g.Q {
							if g.Q[i] != a.Q[i] || g.D[i/bs] != a.D[i/bs] || g.Sums[i/16] != a.Sums[i/16] {
								t.Fatalf("%s: QuantizeQ8Act differs from the plain-Go one at %d", name, i)
							}
						}
					}
					dst[0], dst[rows+1] = guard, guard
					fast(dst[1:rows+1], w, a)
					ref, mag = refGemv(deq, xa, rows)
					checkGemvQuant(t, name+"/fast", dst, ref, mag)
				}
			}
		}
	}
}

func checkGemvQuant(t *testing.T, name string, dst []float32, ref, mag []float64) {
	t.Helper()
	rows := len(ref)
	if dst[0] != guard || dst[rows+1] != guard {
		t.Fatalf("%s: wrote outside dst", name)
	}
	for r := range rows {
		got := float64(dst[1+r])
		// float32 sums of k terms: a few ulps of the summed magnitudes.
		if d := math.Abs(got - ref[r]); !(d <= 1e-6*mag[r]+1e-30) {
			t.Fatalf("%s: row %d = %g, want %g (|diff| %.3g, %.3g of Σ|terms|)", name, r, got, ref[r], d, d/mag[r])
		}
	}
}

// TestQ8ActQuantization checks the activation quantizer's definition on edge values, in
// both block sizes: zeros, a block whose maximum is negative, the ±127 range and the sums.
func TestQ8ActQuantization(t *testing.T) {
	for _, bs := range []int{32, 256} {
		x := make([]float32, 2*bs)
		for i := range bs {
			x[bs+i] = float32(i%32-16) / 4
		}
		x[bs+5] = -8 // max |x| is negative
		for _, impl := range Implementations() {
			a := NewQ8Act(2*bs, bs)
			impl.QuantizeQ8Act(a, x)
			name := fmt.Sprintf("%s/block=%d", impl.Level, bs)
			if a.D[0] != 0 || a.Sums[0] != 0 {
				t.Errorf("%s: an all-zero block quantized to D=%g, sum %d", name, a.D[0], a.Sums[0])
			}
			if a.Q[bs+5] != -127 || a.D[1] != 8.0/127 {
				t.Errorf("%s: block max -8 gave q=%d d=%g, want -127 and 8/127", name, a.Q[bs+5], a.D[1])
			}
			for j := range 2 * bs / 16 {
				var s int16
				for _, q := range a.Q[16*j : 16*j+16] {
					s += int16(q)
				}
				if a.Sums[j] != s {
					t.Fatalf("%s: Sums[%d] = %d, want %d", name, j, a.Sums[j], s)
				}
			}
		}
	}
}
