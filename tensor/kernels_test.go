package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	// Aliased: this package's own near checks a tolerance relative to term magnitudes.
	nearly "github.com/minitron-go/minitron/internal/near"
)

// Every implementation on this machine is checked against the plain-Go one, over lengths
// around vector widths and register blocks, with guard values around every output.

var lengths = []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 3072}

const guard = 12345.5 // written around outputs; a kernel that touches it wrote out of bounds

func randSlice(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func bf16Slice(rng *rand.Rand, n int) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		v[i] = Float32ToBF16(float32(rng.NormFloat64()))
	}
	return v
}

func f16Slice(rng *rand.Rand, n int) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		v[i] = Float32ToF16(float32(rng.NormFloat64()))
	}
	return v
}

// guarded returns a slice of n elements inside a larger one filled with guard values, and a
// check that the guards are intact.
func guarded(n int) ([]float32, func(t *testing.T, what string)) {
	const pad = 19
	buf := make([]float32, n+2*pad)
	for i := range buf {
		buf[i] = guard
	}
	return buf[pad : pad+n : pad+n], func(t *testing.T, what string) {
		t.Helper()
		for i := range pad {
			if buf[i] != guard || buf[pad+n+i] != guard {
				t.Fatalf("%s: wrote outside its output", what)
			}
		}
	}
}

// near checks got against want with a tolerance relative to mag, the sum of the magnitudes
// of the terms that formed each value (float32 sums in another order differ by a few ulps
// of it).
func near(t *testing.T, what string, got, want, mag []float32, rel float64) {
	t.Helper()
	for i := range want {
		tol := rel*float64(mag[i]) + 1e-30
		if d := nearly.Diff(got[i], want[i]); !(d <= tol) {
			t.Fatalf("%s: element %d = %v, want %v (|diff| %g > %g)", what, i, got[i], want[i], d, tol)
		}
	}
}

func forEachImpl(t *testing.T, f func(t *testing.T, k *Kernels)) {
	for _, k := range Implementations() {
		t.Run(k.Level.String(), func(t *testing.T) { f(t, k) })
	}
}

func TestGemv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, k := range lengths {
			for _, rows := range []int{1, 2, 3, 4, 5, 7, 8, 9, 17} {
				x := randSlice(rng, k, 1)
				xb := make([]uint16, k)
				f32ToBF16Generic(xb, x)
				wb, wh, wf := bf16Slice(rng, rows*k), f16Slice(rng, rows*k), randSlice(rng, rows*k, 1)
				// Magnitudes: Σ|w·x| per row, computed from the f32 weights as a common bound.
				mag := make([]float32, rows)
				for r := range rows {
					for p := range k {
						mag[r] += float32(math.Abs(float64(wf[r*k+p]*x[p]))) + float32(math.Abs(float64(BF16ToFloat32(wb[r*k+p])*x[p]))) + float32(math.Abs(float64(F16ToFloat32(wh[r*k+p])*x[p])))
					}
				}
				name := fmt.Sprintf("rows=%d k=%d", rows, k)
				want := make([]float32, rows)
				type gemv struct {
					label string
					run   func(dst []float32)
					ref   func(dst []float32)
				}
				cases := []gemv{
					{"bf16", func(d []float32) { kn.GemvBF16(d, wb, x) }, func(d []float32) { gemvBF16Generic(d, wb, x) }},
					{"f16", func(d []float32) { kn.GemvF16(d, wh, x) }, func(d []float32) { gemvF16Generic(d, wh, x) }},
					{"f32", func(d []float32) { kn.GemvF32(d, wf, x) }, func(d []float32) { gemvF32Generic(d, wf, x) }},
				}
				if kn.GemvBF16Fast != nil {
					cases = append(cases, gemv{"bf16 fast", func(d []float32) { kn.GemvBF16Fast(d, wb, xb) }, func(d []float32) { gemvBF16FastGeneric(d, wb, xb) }})
				}
				for _, c := range cases {
					dst, check := guarded(rows)
					c.run(dst)
					check(t, c.label+" "+name)
					c.ref(want)
					near(t, c.label+" "+name, dst, want, mag, 1e-6)
				}
			}
		}
	})
}

func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		R, C := kn.GemmRows, kn.GemmCols
		refF32, refBF16 := gemmF32Generic(R), gemmBF16Generic(R)
		for _, k := range []int{2, 4, 6, 16, 18, 30, 64, 130, 256, 1000} {
			for _, rows := range []int{1, 3, R - 1, R} {
				for nw := 1; nw <= C; nw++ {
					ldx, ldw := k+3, k+5 // strides wider than the rows
					x := randSlice(rng, rows*ldx, 1)
					w := randSlice(rng, nw*ldw, 1)
					wb := bf16Slice(rng, nw*ldw)
					mag := make([]float32, nw*R)
					for j := range nw {
						for i := range rows {
							for p := range k {
								mag[j*R+i] += float32(math.Abs(float64(x[i*ldx+p]*w[j*ldw+p]))) + float32(math.Abs(float64(x[i*ldx+p]*BF16ToFloat32(wb[j*ldw+p]))))
							}
						}
					}
					name := fmt.Sprintf("k=%d rows=%d nw=%d", k, rows, nw)

					xp, checkXP := guarded(k * R)
					kn.PackF32(xp, x, ldx, rows, k)
					checkXP(t, "PackF32 "+name)
					wantXP := make([]float32, k*R)
					packF32Generic(R)(wantXP, x, ldx, rows, k)
					near(t, "PackF32 "+name, xp, wantXP, make([]float32, k*R), 0)

					for _, acc := range []bool{false, true} {
						tile, check := guarded(nw * R)
						want := make([]float32, nw*R)
						for i := range tile {
							tile[i], want[i] = float32(i), float32(i) // what acc adds to
						}
						kn.GemmF32(tile, xp, w, ldw, k, nw, acc)
						check(t, "GemmF32 "+name)
						refF32(want, wantXP, w, ldw, k, nw, acc)
						near(t, fmt.Sprintf("GemmF32 %s acc=%v", name, acc), tile, want, addOnes(mag, nw*R), 1e-6)
					}

					xb := make([]uint16, k*R+8)
					for i := range xb {
						xb[i] = 0xdead
					}
					kn.PackBF16(xb, x, ldx, rows, k)
					if xb[k*R] != 0xdead {
						t.Fatalf("PackBF16 %s wrote past the panel", name)
					}
					wantXB := make([]uint16, k*R)
					packBF16Generic(R)(wantXB, x, ldx, rows, k)
					for i := range wantXB {
						if xb[i] != wantXB[i] {
							t.Fatalf("PackBF16 %s: element %d = %#x, want %#x", name, i, xb[i], wantXB[i])
						}
					}
					if kn.GemmBF16 == nil {
						continue
					}
					for _, acc := range []bool{false, true} {
						tile, check := guarded(nw * R)
						want := make([]float32, nw*R)
						for i := range tile {
							tile[i], want[i] = float32(i), float32(i)
						}
						kn.GemmBF16(tile, xb, wb, ldw, k, nw, acc)
						check(t, "GemmBF16 "+name)
						refBF16(want, wantXB, wb, ldw, k, nw, acc)
						near(t, fmt.Sprintf("GemmBF16 %s acc=%v", name, acc), tile, want, addOnes(mag, nw*R), 1e-5)
					}
				}
			}
		}
	})
}

// addOnes widens a tolerance bound by the magnitude of the values an accumulating call adds to.
func addOnes(mag []float32, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = mag[i] + float32(i)
	}
	return out
}

func TestVectorKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, n := range lengths {
			name := fmt.Sprintf("n=%d", n)
			x, y := randSlice(rng, n, 1), randSlice(rng, n, 1)
			var mag float32
			for i := range x {
				mag += float32(math.Abs(float64(x[i] * y[i])))
			}
			near(t, "Dot "+name, []float32{kn.Dot(x, y)}, []float32{dotGeneric(x, y)}, []float32{mag}, 1e-6)

			elementwise := []struct {
				label string
				run   func(k *Kernels, dst []float32)
				rel   float64
			}{
				{"Axpy", func(k *Kernels, d []float32) { k.Axpy(0.7, x, d) }, 1e-7},
				{"Add", func(k *Kernels, d []float32) { k.Add(d, x) }, 0},
				{"ReLU2", func(k *Kernels, d []float32) { k.ReLU2(d) }, 0},
				{"Softmax", func(k *Kernels, d []float32) { k.Softmax(d) }, 2e-6},
				{"LayerNorm1P", func(k *Kernels, d []float32) { k.LayerNorm1P(d, x, y, x, 1e-5) }, 2e-6},
				{"RotateHalf", func(k *Kernels, d []float32) { k.RotateHalf(d, x[:n/2], y[:n/2]) }, 1e-7},
			}
			for _, e := range elementwise {
				got, check := guarded(n)
				copy(got, y)
				e.run(kn, got)
				check(t, e.label+" "+name)
				want := append([]float32(nil), y...)
				e.run(&generic, want)
				mag := make([]float32, n)
				for i := range mag {
					mag[i] = 4 * (1 + float32(math.Abs(float64(want[i]))))
				}
				near(t, e.label+" "+name, got, want, mag, e.rel)
			}

			// Conversions are exact.
			src16 := bf16Slice(rng, n)
			got, check := guarded(n)
			kn.BF16ToF32(got, src16)
			check(t, "BF16ToF32 "+name)
			for i, b := range src16 {
				if got[i] != BF16ToFloat32(b) {
					t.Fatalf("BF16ToF32 %s: element %d", name, i)
				}
			}
			h16 := f16Slice(rng, n)
			kn.F16ToF32(got, h16)
			for i, h := range h16 {
				if got[i] != F16ToFloat32(h) {
					t.Fatalf("F16ToF32 %s: element %d", name, i)
				}
			}
			xs := randSlice(rng, n, 1)
			if n > 2 {
				xs[0], xs[1] = math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000) // ties
			}
			out := make([]uint16, n+1)
			out[n] = 0xbeef
			kn.F32ToBF16(out[:n], xs)
			if out[n] != 0xbeef {
				t.Fatalf("F32ToBF16 %s wrote past its output", name)
			}
			for i, f := range xs {
				if out[i] != Float32ToBF16(f) {
					t.Fatalf("F32ToBF16 %s: element %d of %v = %#x, want %#x", name, i, f, out[i], Float32ToBF16(f))
				}
			}
		}
	})
}

// Softmax must survive the values attention produces: large, equal, and -Inf (masked).
func TestSoftmaxExtremes(t *testing.T) {
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, in := range [][]float32{
			{1000, 1000, 1000},
			{-1000, 0, 1000},
			{float32(math.Inf(-1)), 0, 1},
			{88, -88, 0, 3, 17, -30, 60, 1e-3, -1e-3, 42, 7, 9, 11, 13, 15, 19, 21},
		} {
			got := append([]float32(nil), in...)
			kn.Softmax(got)
			// A float64 reference, not the generic kernel: a generic softmax returning NaN
			// would agree with itself. A few float32 ulps of each probability.
			want := make([]float64, len(in))
			mx := math.Inf(-1)
			for _, v := range in {
				mx = max(mx, float64(v))
			}
			var sum float64
			for i, v := range in {
				want[i] = math.Exp(float64(v) - mx)
				sum += want[i]
			}
			for i := range want {
				want[i] /= sum
			}
			for i := range got {
				if d := nearly.Diff(got[i], want[i]); !(d <= 2e-6*want[i]+1e-37) {
					t.Errorf("softmax(%v)[%d] = %v, want %v", in, i, got[i], want[i])
				}
			}
		}
	})
}

// TestDots requires Dots to give Dot's bits, times the scale, for every row.
func TestDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, n := range []int{1, 31, 32, 64, 100, 128, 192, 256} {
			for _, rows := range []int{0, 1, 7} {
				ldy := n + 3
				x, ys := randSlice(rng, n, 1), randSlice(rng, rows*ldy, 1)
				got, check := guarded(rows)
				kn.Dots(got, x, ys, ldy, 0.125)
				check(t, fmt.Sprintf("Dots of %d rows of %d", rows, n))
				for j := range rows {
					if want := kn.Dot(x, ys[j*ldy:]) * 0.125; math.Float32bits(got[j]) != math.Float32bits(want) {
						t.Fatalf("Dots of %d rows of %d: [%d] = %v, Dot gives %v", rows, n, j, got[j], want)
					}
				}
			}
		}
	})
}

// TestDots4 requires Dots4, where a level has it, to give Dots's bits for each of its four
// queries.
func TestDots4(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 6))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		if kn.Dots4 == nil {
			t.Skipf("%s has no Dots4: callers call Dots", kn.Level)
		}
		for _, n := range []int{1, 31, 64, 128, 192} {
			for _, rows := range []int{0, 1, 9} {
				ldy := n + 5
				ys := randSlice(rng, rows*ldy, 1)
				var x, got [4][]float32
				var checks [4]func(*testing.T, string)
				for q := range 4 {
					x[q] = randSlice(rng, n, 1)
					got[q], checks[q] = guarded(rows)
				}
				kn.Dots4(got, x, ys, ldy, 0.125)
				for q := range 4 {
					name := fmt.Sprintf("Dots4 of %d rows of %d, query %d", rows, n, q)
					checks[q](t, name)
					want := make([]float32, rows)
					kn.Dots(want, x[q], ys, ldy, 0.125)
					for j := range rows {
						if math.Float32bits(got[q][j]) != math.Float32bits(want[j]) {
							t.Fatalf("%s: [%d] = %v, Dots gives %v", name, j, got[q][j], want[j])
						}
					}
				}
			}
		}
	})
}

func TestTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, sh := range [][2]int{{1, 1}, {8, 8}, {16, 16}, {15, 17}, {48, 64}, {33, 8}, {47, 70}, {5, 32}, {24, 128}} {
			rows, cols := sh[0], sh[1]
			lds, ldd := rows+3, cols+5
			src := randSlice(rng, cols*lds, 1)
			got, check := guarded(rows * ldd)
			for i := range got {
				got[i] = -1
			}
			kn.Transpose(got, ldd, src, lds, rows, cols)
			check(t, fmt.Sprintf("Transpose %dx%d", rows, cols))
			for i := range rows {
				for j := range ldd {
					want := float32(-1)
					if j < cols {
						want = src[j*lds+i]
					}
					if got[i*ldd+j] != want {
						t.Fatalf("Transpose %dx%d: [%d][%d] = %v, want %v", rows, cols, i, j, got[i*ldd+j], want)
					}
				}
			}
		}
	})
}
