package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/backendtest"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/tensor"
)

// A test of the test: the conformance suite's matrix-product check must reject a backend
// that drops the k-blocks after the first (the defect fast precision's old tolerance hid) or
// gets one output row 10% wrong, in either precision and for float and block-dtype weights,
// and accept the real backend.
func TestSabotage(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		b, err := cpu.New(backend.Options{Threads: 2, Precision: p})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		rng := rand.New(rand.NewPCG(3, 4))
		least := map[string]float64{}
		for _, sh := range [][3]int{{2, 4100, 9}, {5, 2100, 13}, {12, 4099, 9}, {2, 4352, 9}, {40, 2304, 13}} {
			n, k, m := sh[0], sh[1], sh[2]
			types := backendtest.WeightTypes
			if k%256 == 0 {
				types = backendtest.QuantWeightTypes
			}
			for _, dt := range types {
				if _, err := backendtest.CheckMatMul(b, config(p), rng, dt, n, k, m); err != nil {
					t.Errorf("%s: the real backend fails: %v", p, err)
				}
				for _, bad := range []backend.Backend{droppedBlocks{b}, rowOff{b}} {
					rel, err := backendtest.CheckMatMul(bad, config(p), rng, dt, n, k, m)
					name := fmt.Sprintf("%T", bad)
					if l, ok := least[name]; !ok || rel < l {
						least[name] = rel
					}
					if err == nil {
						t.Errorf("%s %T: %s n=%d k=%d m=%d accepted (error %.3g of √k·mean|ref|)", p, bad, dt, n, k, m, rel)
					}
				}
			}
		}
		t.Logf("%s: smallest error of a sabotaged product, relative to √k·max(1, mean|ref|): %v (tolerance %g)", p, least, backendtest.MatMulTol)
	}
}

// droppedBlocks multiplies only the first cpu.KBlock columns of x and w.
type droppedBlocks struct{ backend.Backend }

func (s droppedBlocks) MatMul(dst, x, w backend.Tensor) {
	n, k := x.Shape()[0], x.Shape()[1]
	if k <= cpu.KBlock {
		s.Backend.MatMul(dst, x, w)
		return
	}
	h := tensor.Zeros(tensor.F32, n, k)
	v := h.F32()
	if err := s.Read(v, x); err != nil {
		panic(err)
	}
	for i := range n {
		clear(v[i*k+cpu.KBlock : (i+1)*k])
	}
	xt, err := s.Upload(h)
	if err != nil {
		panic(err)
	}
	defer s.Free(xt)
	s.Backend.MatMul(dst, xt, w)
}

// rowOff scales the middle row of the product by 1.1.
type rowOff struct{ backend.Backend }

func (s rowOff) MatMul(dst, x, w backend.Tensor) {
	s.Backend.MatMul(dst, x, w)
	n, m := dst.Shape()[0], dst.Shape()[1]
	h := tensor.Zeros(tensor.F32, 1, m)
	row := h.F32()
	if err := s.Read(row, s.Rows(dst, n/2, n/2+1)); err != nil {
		panic(err)
	}
	for j := range row {
		row[j] *= 1.1
	}
	up, err := s.Upload(h)
	if err != nil {
		panic(err)
	}
	defer s.Free(up)
	s.Copy(dst, n/2, up)
}

// The model of what fast precision does to x and to block-dtype weights matters: a reference
// that multiplied float32 x (and the unrounded weights) where the backend quantizes x to int8
// blocks (decode) or rounds both to bf16 (prefill) must reject the real backend.
func TestFastQuantModel(t *testing.T) {
	b, err := cpu.New(backend.Options{Threads: 2, Precision: backend.Fast})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	naive := backendtest.Config{Precision: backend.Fast}
	for _, sh := range [][3]int{{2, 4352, 9}, {40, 2304, 13}} {
		n, k, m := sh[0], sh[1], sh[2]
		if n >= cpu.GemmMinRows && tensor.Active().GemmBF16 == nil {
			continue // no bf16 GEMM: fast prefill multiplies what exact does
		}
		for _, dt := range backendtest.QuantWeightTypes {
			if rel, err := backendtest.CheckMatMul(b, naive, rng, dt, n, k, m); err == nil {
				t.Errorf("%s n=%d k=%d m=%d: fast product accepted by a float32 model (error %.3g)", dt, n, k, m, rel)
			}
		}
	}
}
