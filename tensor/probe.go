package tensor

import (
	"math/rand/v2"
	"sync"
	"time"
)

// BF16GemmFaster reports whether kn's bf16 GEMM micro-kernel (GemmBF16) multiplies
// faster than its float32 one (GemmF32) on this CPU, timed once per level from cache:
// the choice fast precision's prefill makes between rounding x to bf16 and widening w.
// Which wins differs between CPUs with AVX512-BF16 (one core, go test -bench
// 'GemmF32$|GemmBF16$'): on the AMD Zen 4 VDPBF16PS ran 408 GFLOP/s with 2 threads against
// 230 for the float32 FMA kernel; on an Intel Xeon without AMX (family 6 model 207) 77
// GFLOP/s a core against 106–136, so fast prefill there is faster in float32.
//
// The bf16 kernel is kept unless the float32 one is at least 1.25 times as fast, so that a
// CPU near the tie does not flip between runs. False where kn has no GemmBF16.
func BF16GemmFaster(kn *Kernels) bool {
	if kn.GemmBF16 == nil {
		return false
	}
	probes.Lock()
	defer probes.Unlock()
	if v, ok := probes.bf16Faster[kn.Level]; ok {
		return v
	}
	f32, bf16 := probeGemm(kn)
	v := f32 < 1.25*bf16
	probes.bf16Faster[kn.Level] = v
	return v
}

var probes = struct {
	sync.Mutex
	bf16Faster map[Level]bool
}{bf16Faster: map[Level]bool{}}

// probeGemm times kn's two GEMM micro-kernels on one thread over a panel of 512 columns and
// a block of w in L1 and L2, in turns (five rounds of about half a millisecond each), and
// returns the best rate of each in multiply-adds per second.
func probeGemm(kn *Kernels) (f32, bf16 float64) {
	const k, calls, rounds = 512, 128, 5
	R, C := kn.GemmRows, kn.GemmCols
	rng := rand.New(rand.NewPCG(5, 5))
	tile := make([]float32, R*C)
	xp, w := make([]float32, R*k), make([]float32, C*k)
	xb, wb := make([]uint16, R*k), make([]uint16, C*k)
	for i := range xp {
		xp[i] = float32(rng.NormFloat64())
		xb[i] = Float32ToBF16(xp[i])
	}
	for i := range w {
		w[i] = float32(rng.NormFloat64()) * 0.02
		wb[i] = Float32ToBF16(w[i])
	}
	rate := func(run func()) float64 {
		t0 := time.Now()
		for range calls {
			run()
		}
		return float64(calls*R*C*k) / time.Since(t0).Seconds()
	}
	for range rounds {
		clear(tile)
		f32 = max(f32, rate(func() { kn.GemmF32(tile, xp, w, k, k, C, true) }))
		clear(tile)
		bf16 = max(bf16, rate(func() { kn.GemmBF16(tile, xb, wb, k, k, C, true) }))
	}
	return f32, bf16
}
