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

					a := NewQ8Act(k)
					impl.QuantizeQ8Act(a, x)
					xa := make([]float32, k)
					for i, q := range a.Q {
						xa[i] = a.D[i/32] * float32(q)
					}
					if impl.Level != Generic {
						g := NewQ8Act(k)
						quantizeQ8ActGeneric(g, x)
						for i := range g.Q {
							if g.Q[i] != a.Q[i] || g.D[i/32] != a.D[i/32] || g.DS[i/32] != a.DS[i/32] || g.S16[i/16] != a.S16[i/16] {
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

// TestQ8ActQuantization checks the activation quantizer's definition on edge values: zeros,
// a block whose maximum is negative, and the ±127 range.
func TestQ8ActQuantization(t *testing.T) {
	x := make([]float32, 64)
	for i := range 32 {
		x[32+i] = float32(i-16) / 4
	}
	x[32+5] = -8 // max |x| is negative
	for _, impl := range Implementations() {
		a := NewQ8Act(64)
		impl.QuantizeQ8Act(a, x)
		if a.D[0] != 0 || a.DS[0] != 0 || a.S16[0] != 0 {
			t.Errorf("%s: an all-zero block quantized to D=%g DS=%g", impl.Level, a.D[0], a.DS[0])
		}
		if a.Q[32+5] != -127 || a.D[1] != 8.0/127 {
			t.Errorf("%s: block max -8 gave q=%d d=%g, want -127 and 8/127", impl.Level, a.Q[32+5], a.D[1])
		}
		var s int32
		for _, q := range a.Q[48:] {
			s += int32(q)
		}
		if a.S16[3] != s {
			t.Errorf("%s: S16[3] = %d, want %d", impl.Level, a.S16[3], s)
		}
	}
}
