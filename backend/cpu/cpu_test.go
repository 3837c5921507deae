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
// into three bf16 terms whose sum is x). Against block-dtype weights, fast precision
// quantizes x to int8 blocks below GemmMinRows rows, and above rounds x and the dequantized
// weights to bf16 where the CPU has the bf16 GEMM. Where the float32 GEMM multiplies faster
// (tensor.BF16GemmFaster), fast prefill rounds x to bf16 and keeps the weights as they are.
func config(p backend.Precision) backendtest.Config {
	return configGemm(p, tensor.BF16GemmFaster(tensor.Active()))
}

// configGemm is config for a backend whose fast prefill takes the bf16 GEMM or not.
func configGemm(p backend.Precision, bf16Gemm bool) backendtest.Config {
	kn := tensor.Active()
	fastQuantGemm := func(w tensor.DType, n int) bool {
		return p == backend.Fast && w.Quantized() && n >= cpu.GemmMinRows && kn.GemmBF16 != nil
	}
	return backendtest.Config{Precision: p, MatMulActivations: func(w tensor.DType, n, k int) backendtest.Activations {
		switch {
		case p == backend.Fast && w.Quantized() && n < cpu.GemmMinRows:
			return backendtest.Q8
		case fastQuantGemm(w, n):
			return backendtest.BF16
		case p != backend.Fast || w != tensor.BF16:
			return backendtest.Float32
		}
		if n < cpu.GemmMinRows && kn.GemvBF16Fast != nil || n >= cpu.GemmMinRows && kn.GemmBF16 != nil && k%2 == 0 {
			return backendtest.BF16
		}
		return backendtest.Float32
	}, MatMulWeightsBF16: func(w tensor.DType, n, k int) bool { return fastQuantGemm(w, n) && bf16Gemm }}
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

// TestConformanceFastGemm runs the fast-precision conformance with prefill on the GEMM this
// CPU's probe did not choose, so that both are tested wherever the bf16 one exists.
func TestConformanceFastGemm(t *testing.T) {
	if tensor.Active().GemmBF16 == nil {
		t.Skip("this CPU has no bf16 GEMM: fast prefill always takes the float32 one")
	}
	b, err := cpu.New(backend.Options{Threads: 2, Precision: backend.Fast})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other := !cpu.BF16Gemm(b)
	cpu.SetBF16Gemm(b, other)
	t.Logf("%s, bf16 GEMM %v", b.Name(), other)
	backendtest.Run(t, b, configGemm(backend.Fast, other))
}

// The packed GEMM's k-block from L2's size stays a multiple of 64 columns, at least 128,
// and 1024 from 1 MiB up, where it was measured before L2 chose it.
func TestPackedKBlock(t *testing.T) {
	for _, c := range []struct{ l2, want int }{
		{0, 1024}, {32 << 10, 128}, {256 << 10, 256}, {512 << 10, 512}, {1 << 20, 1024}, {2 << 20, 1024}, {600 << 10, 576},
	} {
		if got := cpu.PackedKBlock(c.l2); got != c.want || got%64 != 0 {
			t.Errorf("L2 %d KiB: k-block %d, want %d", c.l2>>10, got, c.want)
		}
	}
}
