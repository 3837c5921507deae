package bench

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

var small = nemotron.Config{VocabSize: 512, Hidden: 64, Intermediate: 128, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
	MaxPositions: 256, NormEps: 1e-5, RopeTheta: 1e4, PartialRotary: 0.5, BOS: 2, EOS: []int{3}}

func TestRandomWeightsDeterministic(t *testing.T) {
	a, err := RandomWeights(small, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := RandomWeights(small, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("weights depend on the number of threads")
	}
	up, _, _ := a.Tensor("model.layers.1.mlp.up_proj.weight")
	for _, v := range up.U16() {
		if f := tensor.BF16ToFloat32(v); f == 0 || f > 0.04 || f < -0.04 {
			t.Fatalf("weight %v out of range", f)
		}
	}
	if n, _, _ := a.Tensor("model.norm.bias"); n.ToF32()[0] != 0 {
		t.Error("norm bias not zero")
	}
}

func TestRun(t *testing.T) {
	m, w := smallModel(t)
	r, err := Run(context.Background(), m, w, w.Bytes(), Options{Prompts: []int{8, 32}, DecodeContexts: []int{4, 32}, DecodeTokens: 3, Threads: 2, PeakTime: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Prefill["32"] <= 0 || r.DecodeTokS <= 0 || r.Decode["32"] <= 0 || r.ReadGBps <= 0 || r.WeightGBps <= 0 || r.PeakRSS <= 0 {
		t.Errorf("incomplete report %+v", r)
	}
	// The reference is the best pattern, and every pattern is there.
	for _, p := range []string{PatternStream, PatternStream4, PatternStream4PF, PatternDecode, PatternDecodeNoPF} {
		v, ok := r.ReadPatterns[p]
		if !ok || !(v > 0) || v > r.ReadGBps {
			t.Errorf("pattern %s: %v GB/s (present %v) against a reference of %v", p, v, ok, r.ReadGBps)
		}
	}
	if r.ReadPatterns[r.ReadBest] != r.ReadGBps {
		t.Errorf("best pattern %q has %v GB/s, reference %v", r.ReadBest, r.ReadPatterns[r.ReadBest], r.ReadGBps)
	}
	if !(r.Ratio > 0) || math.Abs(r.Ratio-r.WeightGBps/r.ReadGBps) > 1e-12 {
		t.Errorf("ratio %v for %v / %v", r.Ratio, r.WeightGBps, r.ReadGBps)
	}
	if !(r.PeakGFLOPS > 0) || !(r.Prefill512Flops == 0) || r.PeakKernel == "" {
		// No 512-token prompt here: its GFLOP/s stay zero, the reference does not.
		t.Errorf("compute reference %v GFLOP/s (%q), prefill512 %v", r.PeakGFLOPS, r.PeakKernel, r.Prefill512Flops)
	}
	// Decoding reads every matrix but the embedding table, and one row of it.
	want := int64(2 * (small.NumParams() - int64(small.VocabSize*small.Hidden) - int64(small.Layers*4*small.Hidden+2*small.Hidden) + int64(small.Hidden)))
	if r.WeightBytes != want {
		t.Errorf("weight bytes per token %d, want %d", r.WeightBytes, want)
	}
}

// With batch sizes and a mix asked for, Run reports the total decode rate of each batch, the
// batch-8 step against the compute reference, and the engine's mix of prefill and decoding.
func TestRunBatches(t *testing.T) {
	m, w := smallModel(t)
	opts := Options{Prompts: []int{8}, DecodeContexts: []int{4}, DecodeTokens: 3, Threads: 2, PeakTime: 10 * time.Millisecond,
		Batches: []int{1, 3, 8}, BatchContext: 5, Mix: MixOptions{Decoding: 2, Prompt: 40, StepTokens: 16}}
	r, err := Run(context.Background(), m, w, w.Bytes(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.DecodeByBatch) != 3 {
		t.Errorf("decode by batch %v", r.DecodeByBatch)
	}
	for _, k := range []string{"1", "3", "8"} {
		if v := r.DecodeByBatch[k]; !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("batch %s: %v tok/s", k, v)
		}
	}
	if !(r.Batch8Flops > 0) || !(r.PeakGFLOPS > 0) || math.Abs(r.Batch8Ratio-r.Batch8Flops/r.PeakGFLOPS) > 1e-12 {
		t.Errorf("batch 8 at %v GFLOP/s, ratio %v to %v", r.Batch8Flops, r.Batch8Ratio, r.PeakGFLOPS)
	}
	// 40 positions in steps of 16 less 2 decoding rows: three steps at least read the prompt
	// beside the decoding.
	mix := r.Mix
	if mix == nil || mix.MixedSteps < 3 || !(mix.DecodeTokS > 0) || !(mix.PrefillTokS > 0) || !(mix.DecodeOnlyTokS > 0) ||
		mix.Decoding != 2 || mix.Prompt != 40 || mix.StepTokens != 16 {
		t.Errorf("mix %+v", mix)
	}

	// Without them, neither is measured.
	r, err = Run(context.Background(), m, w, w.Bytes(), Options{Prompts: []int{8}, DecodeContexts: []int{4}, DecodeTokens: 2, Threads: 2, PeakTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.DecodeByBatch != nil || r.Mix != nil || r.Batch8Flops != 0 {
		t.Errorf("measured without being asked: %v %v %v", r.DecodeByBatch, r.Mix, r.Batch8Flops)
	}
	for _, bad := range []Options{{Batches: []int{0}}, {Mix: MixOptions{Decoding: 16, Prompt: 4, StepTokens: 16}}, {Mix: MixOptions{Decoding: 1}}} {
		bad.DecodeTokens = 1
		if _, err := Run(context.Background(), m, w, w.Bytes(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestReadPatterns checks that each pattern reads at a finite, positive rate on small
// buffers, that Best picks the highest, and that the decode patterns are left out without
// matrices.
func TestReadPatterns(t *testing.T) {
	buf := make([]byte, 1<<20)
	ms := []Matrix{{buf[:64*256], 64}, {buf[:37*6144], 37}, {buf[:3*24], 3}} // 24-byte rows: not a multiple of 128
	rates := ReadPatterns(buf, ms, 2, 2)
	if len(rates) != 5 {
		t.Errorf("%d patterns: %v", len(rates), rates)
	}
	name, best := Best(rates)
	for p, v := range rates {
		if !(v > 0) || math.IsInf(v, 0) || v > best {
			t.Errorf("%s: %v bytes/s, best %v (%s)", p, v, best, name)
		}
	}
	if rates := ReadPatterns(buf, nil, 1, 1); len(rates) != 3 {
		t.Errorf("without matrices: %v", rates)
	}
}

// TestPeakGFLOPS runs the compute reference with each kernel this CPU has.
func TestPeakGFLOPS(t *testing.T) {
	for _, kn := range tensor.Implementations() {
		for _, bf16 := range []bool{false, true} {
			g := PeakGFLOPS(kn, bf16, 2, 1, time.Millisecond)
			if !(g > 0) || math.IsInf(g, 0) {
				t.Errorf("%s: %v GFLOP/s", PeakKernel(kn, bf16), g)
			}
		}
	}
}

func TestPrefillFLOPs(t *testing.T) {
	c := nemotron.Minitron4B()
	// 32 layers of q, o (3072²), k, v (1024×3072), up, down (9216×3072), and the head once.
	layer := 2*3072*3072 + 2*1024*3072 + 2*9216*3072
	want := 2*512*32*float64(layer) + 2*256000*3072
	if got := PrefillFLOPs(c, 512); got != want {
		t.Errorf("PrefillFLOPs = %v, want %v", got, want)
	}
}

func TestHostReferences(t *testing.T) {
	for name, want := range map[string]bool{"cpu/avx512bf16 fast, 2 threads": true, "cpu/generic exact, 1 threads": true,
		"cuda/NVIDIA H200 sm_90 fast": false} {
		if got := hostReferences(name); got != want {
			t.Errorf("hostReferences(%q) = %v", name, got)
		}
	}
}

// With WarmUp, each length runs once untimed first (a GPU backend always does this), and the
// timed figures are still all there. The decode warm-up fits the state: the longest context is
// followed by exactly DecodeTokens positions, and the longest prompt by none.
func TestRunWarmUp(t *testing.T) {
	m, w := smallModel(t)
	var log bytes.Buffer
	r, err := Run(context.Background(), m, w, w.Bytes(), Options{Prompts: []int{8, 40}, DecodeContexts: []int{4, 32}, DecodeTokens: 1,
		Threads: 2, PeakTime: time.Millisecond, WarmUp: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"4", "8", "32", "40"} {
		if !bytes.Contains(log.Bytes(), []byte("warmed up at "+n+" tokens\n")) {
			t.Errorf("no warm-up at %s tokens:\n%s", n, log.Bytes())
		}
	}
	if r.Prefill["40"] <= 0 || r.Decode["4"] <= 0 || r.Decode["32"] <= 0 {
		t.Errorf("incomplete report %+v", r)
	}
	// Without it the CPU runs as before: no warm-up.
	log.Reset()
	if _, err := Run(context.Background(), m, w, w.Bytes(), Options{Prompts: []int{8}, DecodeContexts: []int{4}, DecodeTokens: 1,
		Threads: 2, PeakTime: time.Millisecond, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(log.Bytes(), []byte("warmed up")) {
		t.Errorf("the CPU warmed up unasked:\n%s", log.Bytes())
	}
}

// smallModel is the small shape on random weights, on a 2-thread CPU backend, closed when the
// test ends.
func smallModel(t *testing.T) (*nemotron.Model, *Weights) {
	t.Helper()
	w, err := RandomWeights(small, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	b, err := cpu.New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	m, err := nemotron.New(small, w, b)
	if err != nil {
		t.Fatal(err)
	}
	return m, w
}
