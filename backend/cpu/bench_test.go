package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/tensor"
)

// BenchmarkPackedMatMul multiplies one and eight rows of x by a packed bf16 matrix of a
// quarter of the head's rows (400 MB, past most L3s), 2 threads; MB/s counts the weights.
// Eight rows take turns over blocks of w that stay in L2: on the Intel Xeon of bench/README.md
// that read 6.8–9.7 GB/s of weights against 5.4–6.0 when the turns went over all of a task's
// groups.
func BenchmarkPackedMatMul(b *testing.B) {
	be, err := cpu.New(backend.Options{Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	const k, m = 3072, 65536
	wh := tensor.Zeros(tensor.BF16, m, k)
	w := wh.U16()
	for i := range w {
		w[i] = tensor.Float32ToBF16(float32(rng.NormFloat64() * 0.02))
	}
	wt, _ := be.Upload(wh)
	for _, n := range []int{1, 4, 8} {
		x := make([]float32, n*k)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		xt, _ := be.Upload(tensor.FromF32(x, n, k))
		d, _ := be.Alloc(tensor.F32, n, m)
		b.Run(fmt.Sprint("n=", n), func(b *testing.B) {
			b.SetBytes(int64(m * k * 2))
			for b.Loop() {
				be.MatMul(d, xt, wt)
			}
		})
	}
}

// BenchmarkPackedGemm is prefill's matrix product: 512 rows of x by a packed bf16 matrix of
// the up projection's shape (9216×3072), 2 threads, in GFLOP/s (2 a weight a row) to set
// beside bench's compute reference.
func BenchmarkPackedGemm(b *testing.B) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		be, err := cpu.New(backend.Options{Threads: 2, Precision: p})
		if err != nil {
			b.Fatal(err)
		}
		defer be.Close()
		rng := rand.New(rand.NewPCG(2, 2))
		const n, k, m = 512, 3072, 9216
		wh := tensor.Zeros(tensor.BF16, m, k)
		w := wh.U16()
		for i := range w {
			w[i] = tensor.Float32ToBF16(float32(rng.NormFloat64() * 0.02))
		}
		wt, _ := be.Upload(wh)
		x := make([]float32, n*k)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		xt, _ := be.Upload(tensor.FromF32(x, n, k))
		d, _ := be.Alloc(tensor.F32, n, m)
		b.Run(p.String(), func(b *testing.B) {
			for b.Loop() {
				be.MatMul(d, xt, wt)
			}
			b.ReportMetric(2*n*k*m*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
