// Package backendtest is the conformance suite every backend passes: each operation of
// backend.Backend against a float64 reference computed here, over awkward shapes and every
// weight dtype. A backend's tests call Run.
package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// Tolerance is the largest error allowed, relative to the magnitude of the reference values
// (max(1, mean |ref|)). Exact mode computes in float32: a few ulps per accumulated term. Fast
// mode rounds activations to bfloat16 (8 significant bits) before matrix products.
func Tolerance(p backend.Precision) float64 {
	if p == backend.Fast {
		return 2e-2
	}
	return 2e-5
}

// Run checks every operation of b, created with precision p.
func Run(t *testing.T, b backend.Backend, p backend.Precision) {
	s := &suite{b: b, tol: Tolerance(p), rng: rand.New(rand.NewPCG(1, 2))}
	t.Run("MatMul", s.matMul)
	t.Run("LayerNorm1P", s.layerNorm)
	t.Run("Rotary", s.rotary)
	t.Run("Attention", s.attention)
	t.Run("ReLU2", s.relu2)
	t.Run("Add", s.add)
	t.Run("Embed", s.embed)
	t.Run("RowsAndCopy", s.rowsAndCopy)
}

type suite struct {
	b   backend.Backend
	tol float64
	rng *rand.Rand
}

func (s *suite) randn(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(s.rng.NormFloat64() * scale)
	}
	return v
}

// host builds a host tensor of dtype dt from values, returning the values as that dtype
// represents them (the reference computes with exactly what the backend sees).
func host(dt tensor.DType, v []float32, shape ...int) (tensor.Host, []float64) {
	h := tensor.Zeros(dt, shape...)
	exact := make([]float64, len(v))
	switch dt {
	case tensor.F32:
		copy(h.F32(), v)
		for i, x := range v {
			exact[i] = float64(x)
		}
	case tensor.BF16:
		u := h.U16()
		for i, x := range v {
			u[i] = tensor.Float32ToBF16(x)
			exact[i] = float64(tensor.BF16ToFloat32(u[i]))
		}
	case tensor.F16:
		u := h.U16()
		for i, x := range v {
			u[i] = tensor.Float32ToF16(x)
			exact[i] = float64(tensor.F16ToFloat32(u[i]))
		}
	}
	return h, exact
}

func (s *suite) upload(t *testing.T, h tensor.Host) backend.Tensor {
	t.Helper()
	bt, err := s.b.Upload(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.b.Free(bt) })
	return bt
}

func (s *suite) alloc(t *testing.T, shape ...int) backend.Tensor {
	t.Helper()
	bt, err := s.b.Alloc(tensor.F32, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.b.Free(bt) })
	return bt
}

func (s *suite) activations(t *testing.T, v []float32, shape ...int) (backend.Tensor, []float64) {
	h, exact := host(tensor.F32, v, shape...)
	return s.upload(t, h), exact
}

func (s *suite) read(t *testing.T, bt backend.Tensor) []float32 {
	t.Helper()
	out := make([]float32, tensor.NumElements(bt.Shape()))
	if err := s.b.Read(out, bt); err != nil {
		t.Fatal(err)
	}
	return out
}

// check compares got with the reference, relative to the reference's mean magnitude.
func (s *suite) check(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var mag float64
	for _, w := range want {
		mag += math.Abs(w)
	}
	scale := max(1, mag/float64(max(1, len(want))))
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale) {
			t.Errorf("%s: element %d is %v, want %v (|diff| %.3g > %.3g)", what, i, got[i], want[i], d, tol*scale)
			return
		}
	}
}

var weightTypes = []tensor.DType{tensor.F32, tensor.F16, tensor.BF16}

func (s *suite) matMul(t *testing.T) {
	// k and m around vector widths and register blocks; n from a decode step to a prefill.
	for _, dt := range weightTypes {
		for _, sh := range [][3]int{{1, 1, 1}, {1, 7, 3}, {1, 64, 17}, {1, 95, 33}, {3, 17, 5}, {5, 128, 64}, {16, 96, 40}, {33, 257, 31}, {70, 130, 67}, {100, 2100, 70}} {
			n, k, m := sh[0], sh[1], sh[2]
			t.Run(fmt.Sprintf("%s/n%d_k%d_m%d", dt, n, k, m), func(t *testing.T) {
				xh, x := host(tensor.F32, s.randn(n*k, 1), n, k)
				wh, w := host(dt, s.randn(m*k, 0.5), m, k)
				dst := s.alloc(t, n, m)
				s.b.MatMul(dst, s.upload(t, xh), s.upload(t, wh))
				want := make([]float64, n*m)
				for i := range n {
					for j := range m {
						var sum float64
						for p := range k {
							sum += x[i*k+p] * w[j*k+p]
						}
						want[i*m+j] = sum
					}
				}
				// Sums of k terms: the error grows with sqrt(k).
				s.check(t, "matmul", s.read(t, dst), want, s.tol*math.Sqrt(float64(k)))
			})
		}
	}
}

func (s *suite) layerNorm(t *testing.T) {
	for _, sh := range [][2]int{{1, 1}, {1, 7}, {3, 64}, {5, 333}} {
		n, c := sh[0], sh[1]
		xv := s.randn(n*c, 3)
		for i := range xv {
			xv[i] += 5 // an offset mean that a one-pass variance would lose precision on
		}
		x, xr := s.activations(t, xv, n, c)
		w, wr := s.activations(t, s.randn(c, 0.3), c)
		bb, br := s.activations(t, s.randn(c, 0.3), c)
		dst := s.alloc(t, n, c)
		const eps = 1e-5
		s.b.LayerNorm1P(dst, x, w, bb, eps)
		want := make([]float64, n*c)
		for r := range n {
			row := xr[r*c : (r+1)*c]
			var mean, vr float64
			for _, v := range row {
				mean += v
			}
			mean /= float64(c)
			for _, v := range row {
				vr += (v - mean) * (v - mean)
			}
			vr /= float64(c)
			for i, v := range row {
				want[r*c+i] = (v-mean)/math.Sqrt(vr+eps)*(1+wr[i]) + br[i]
			}
		}
		s.check(t, fmt.Sprintf("layernorm %dx%d", n, c), s.read(t, dst), want, s.tol*4)
		// In place.
		s.b.LayerNorm1P(x, x, w, bb, eps)
		s.check(t, "layernorm in place", s.read(t, x), want, s.tol*4)
	}
}

func (s *suite) rotary(t *testing.T) {
	for _, tc := range []struct{ n, heads, headDim, rot, pos0 int }{
		{1, 1, 4, 4, 0}, {3, 2, 16, 8, 5}, {4, 3, 32, 32, 100}, {2, 4, 128, 64, 4000},
	} {
		const theta = 10000.0
		xv := s.randn(tc.n*tc.heads*tc.headDim, 1)
		x, xr := s.activations(t, xv, tc.n, tc.heads*tc.headDim)
		s.b.Rotary(x, tc.heads, tc.headDim, tc.rot, tc.pos0, theta)
		want := append([]float64(nil), xr...)
		half := tc.rot / 2
		for r := range tc.n {
			for h := range tc.heads {
				base := r*tc.heads*tc.headDim + h*tc.headDim
				for i := range half {
					// The angle as transformers forms it (float32), its cos/sin in float64.
					invFreq := float32(1 / float32(math.Pow(theta, float64(float32(2*i)/float32(tc.rot)))))
					a := float64(float32(tc.pos0+r) * invFreq)
					c, sn := math.Cos(a), math.Sin(a)
					x0, x1 := xr[base+i], xr[base+i+half]
					want[base+i] = x0*c - x1*sn
					want[base+i+half] = x1*c + x0*sn
				}
			}
		}
		s.check(t, fmt.Sprintf("rotary %+v", tc), s.read(t, x), want, s.tol*4)
	}
}

func (s *suite) attention(t *testing.T) {
	for _, tc := range []struct{ n, pos0, heads, kvHeads, headDim int }{
		{1, 0, 1, 1, 4}, {1, 9, 4, 2, 16}, {5, 0, 4, 4, 8}, {3, 17, 8, 2, 32}, {7, 60, 6, 3, 128},
		{16, 0, 2, 1, 8}, {50, 13, 6, 3, 128}, {100, 30, 4, 2, 32}, // prompts: attention on panels
	} {
		rows := tc.pos0 + tc.n + 2 // cache rows past pos0+n must be ignored
		qc, kvc := tc.heads*tc.headDim, tc.kvHeads*tc.headDim
		q, qr := s.activations(t, s.randn(tc.n*qc, 1), tc.n, qc)
		k, kr := s.activations(t, s.randn(rows*kvc, 1), rows, kvc)
		v, vr := s.activations(t, s.randn(rows*kvc, 1), rows, kvc)
		dst := s.alloc(t, tc.n, qc)
		s.b.Attention(dst, q, k, v, tc.heads, tc.kvHeads, tc.pos0)
		want := make([]float64, tc.n*qc)
		group := tc.heads / tc.kvHeads
		scale := 1 / math.Sqrt(float64(tc.headDim))
		for i := range tc.n {
			for h := range tc.heads {
				off := (h / group) * tc.headDim
				seen := tc.pos0 + i + 1
				sc := make([]float64, seen)
				mx := math.Inf(-1)
				for j := range seen {
					for d := range tc.headDim {
						sc[j] += qr[i*qc+h*tc.headDim+d] * kr[j*kvc+off+d]
					}
					sc[j] *= scale
					mx = max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					for d := range tc.headDim {
						want[i*qc+h*tc.headDim+d] += sc[j] / sum * vr[j*kvc+off+d]
					}
				}
			}
		}
		s.check(t, fmt.Sprintf("attention %+v", tc), s.read(t, dst), want, s.tol*math.Sqrt(float64(tc.headDim)))
	}
}

func (s *suite) relu2(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 1000, 40000} {
		x, xr := s.activations(t, s.randn(n, 2), n)
		s.b.ReLU2(x)
		want := make([]float64, n)
		for i, v := range xr {
			want[i] = max(v, 0) * max(v, 0)
		}
		s.check(t, fmt.Sprintf("relu2 %d", n), s.read(t, x), want, s.tol)
	}
}

func (s *suite) add(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 1000, 40000} {
		d, dr := s.activations(t, s.randn(n, 1), 1, n)
		x, xr := s.activations(t, s.randn(n, 1), 1, n)
		s.b.Add(d, x)
		want := make([]float64, n)
		for i := range want {
			want[i] = dr[i] + xr[i]
		}
		s.check(t, fmt.Sprintf("add %d", n), s.read(t, d), want, s.tol)
	}
}

func (s *suite) embed(t *testing.T) {
	for _, dt := range weightTypes {
		const vocab, width = 50, 24
		th, tr := host(dt, s.randn(vocab*width, 1), vocab, width)
		table := s.upload(t, th)
		ids := []int32{0, 49, 7, 7, 3}
		dst := s.alloc(t, len(ids), width)
		s.b.Embed(dst, table, ids)
		want := make([]float64, 0, len(ids)*width)
		for _, id := range ids {
			want = append(want, tr[int(id)*width:(int(id)+1)*width]...)
		}
		s.check(t, "embed "+dt.String(), s.read(t, dst), want, 0)
	}
}

func (s *suite) rowsAndCopy(t *testing.T) {
	src, sr := s.activations(t, s.randn(6*4, 1), 6, 4)
	dst := s.alloc(t, 6, 4)
	// Rows 2..4 of src into rows 1..3 of dst, through a view of src and a row offset.
	s.b.Copy(dst, 1, s.b.Rows(src, 2, 4))
	want := make([]float64, 24)
	copy(want[4:12], sr[8:16])
	s.check(t, "copy of a view to a row offset", s.read(t, dst), want, 0)
	if got := s.b.Rows(dst, 1, 3).Shape(); len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Errorf("view shape %v", got)
	}
	s.check(t, "read of a view", s.read(t, s.b.Rows(dst, 1, 2)), want[4:8], 0)
	// Writes through a view land in the viewed tensor.
	s.b.Copy(s.b.Rows(dst, 4, 6), 1, s.b.Rows(src, 0, 1))
	copy(want[20:24], sr[0:4])
	s.check(t, "copy into a view", s.read(t, dst), want, 0)
}
