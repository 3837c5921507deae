package bench

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// The compute reference is the prefill kernels' inner loop from cache: the register-blocked
// GEMM micro-kernel that prefill runs (tensor.Kernels.GemmF32 in exact precision, GemmBF16 in
// fast precision where the CPU has it, as backend/cpu/matmul.go chooses), called on a packed
// panel and a block of W small enough to stay in L2, on every thread at once. Prefill adds
// packing, widening, transposing, attention and memory traffic; its ratio to this peak is how
// much of the vector units' speed it keeps.

// peakK is the columns of the panel and of W: a 48-row f32 panel of 512 columns is 96 KiB and
// a block of 64 W rows 128 KiB, well inside the 1-2 MiB L2 of the machines seen, as the
// backend's panels (kBlock 2048 columns) are.
const peakK = 512

// PeakKernel names the kernel PeakGFLOPS runs for kn: "GemmBF16" when bf16 is set and kn has
// one, else "GemmF32", with kn's level.
func PeakKernel(kn *tensor.Kernels, bf16 bool) string {
	if bf16 && kn.GemmBF16 != nil {
		return "GemmBF16 " + kn.Level.String()
	}
	return "GemmF32 " + kn.Level.String()
}

// PeakGFLOPS measures kn's GEMM micro-kernel from cache on threads goroutines, in GFLOP/s
// (2 per multiply-add): the bf16 one when bf16 is set and kn has one, else the float32 one.
// It is the best of rounds passes of about dur each.
func PeakGFLOPS(kn *tensor.Kernels, bf16 bool, threads, rounds int, dur time.Duration) float64 {
	threads = max(threads, 1)
	R, C, k := kn.GemmRows, kn.GemmCols, peakK
	wRows := 8 * C
	useBF16 := bf16 && kn.GemmBF16 != nil
	rng := rand.New(rand.NewPCG(3, 3))
	type bufs struct {
		tile, xp, w []float32
		xb, wb      []uint16
	}
	bs := make([]bufs, threads)
	for t := range bs {
		b := &bs[t]
		b.tile = make([]float32, wRows*R)
		if useBF16 {
			b.xb, b.wb = make([]uint16, k*R), make([]uint16, wRows*k)
			for i := range b.xb {
				b.xb[i] = tensor.Float32ToBF16(float32(rng.NormFloat64()))
			}
			for i := range b.wb {
				b.wb[i] = tensor.Float32ToBF16(float32(rng.NormFloat64()) * 0.02)
			}
		} else {
			b.xp, b.w = make([]float32, k*R), make([]float32, wRows*k)
			for i := range b.xp {
				b.xp[i] = float32(rng.NormFloat64())
			}
			for i := range b.w {
				b.w[i] = float32(rng.NormFloat64()) * 0.02
			}
		}
	}
	// pass multiplies the panel by the block of W, C rows of W per call, as gemmTask does.
	pass := func(b *bufs) {
		for j0 := 0; j0 < wRows; j0 += C {
			if useBF16 {
				kn.GemmBF16(b.tile[j0*R:], b.xb, b.wb[j0*k:], k, k, C, true)
			} else {
				kn.GemmF32(b.tile[j0*R:], b.xp, b.w[j0*k:], k, k, C, true)
			}
		}
	}
	flopsPerPass := 2 * float64(R) * float64(wRows) * float64(k)

	// As many passes as take about dur on one thread.
	passes := 1
	for {
		t0 := time.Now()
		for range passes {
			pass(&bs[0])
		}
		if el := time.Since(t0); el > dur/8 || passes > 1<<24 {
			passes = max(1, int(float64(passes)*float64(dur)/float64(el)))
			break
		}
		passes *= 4
	}
	var best float64
	for range rounds {
		var wg sync.WaitGroup
		start := time.Now()
		for t := range threads {
			wg.Go(func() {
				for range passes {
					pass(&bs[t])
				}
			})
		}
		wg.Wait()
		best = max(best, float64(threads*passes)*flopsPerPass/time.Since(start).Seconds()/1e9)
	}
	return best
}

// PrefillFLOPs is the arithmetic of the matrix products of a prefill of n tokens: 2 per
// weight per token for every matrix of the layers, and the head once (prefill computes the
// last position's logits only). Attention's products (4·n²/2·heads·headDim a layer, about 2%
// at n = 512 for Minitron-4B) and the element-wise work are not counted.
func PrefillFLOPs(cfg nemotron.Config, n int) float64 {
	var layers float64
	for _, p := range cfg.Params() {
		if !p.Role.Matrix() || p.Role == nemotron.RoleHead {
			continue
		}
		layers += float64(p.Shape[0]) * float64(p.Shape[1])
	}
	return 2*float64(n)*layers + 2*float64(cfg.VocabSize)*float64(cfg.Hidden)
}
