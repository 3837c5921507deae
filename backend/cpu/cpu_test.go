package cpu_test

import (
	"fmt"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/backendtest"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/tensor"
)

// config describes what this CPU's backend does to the activations of a matrix product, as
// matmul.go decides: in fast precision, against bf16 weights, x is rounded to bf16 for the
// VDPBF16PS kernels, gemv below GemmMinRows rows and GEMM (whose bf16 panels pair columns,
// so k must be even) above; everything else multiplies float32 x (AMX's exact mode splits x
// into three bf16 terms whose sum is x).
func config(p backend.Precision) backendtest.Config {
	kn := tensor.Active()
	return backendtest.Config{Precision: p, MatMulActivations: func(w tensor.DType, n, k int) backendtest.Activations {
		if p != backend.Fast || w != tensor.BF16 {
			return backendtest.Float32
		}
		if n < cpu.GemmMinRows && kn.GemvBF16Fast != nil || n >= cpu.GemmMinRows && kn.GemmBF16 != nil && k%2 == 0 {
			return backendtest.BF16
		}
		return backendtest.Float32
	}}
}

func TestConformance(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", p, threads), func(t *testing.T) {
				b, err := cpu.New(backend.Options{Threads: threads, Precision: p})
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				t.Log(b.Name())
				backendtest.Run(t, b, config(p))
			})
		}
	}
}
