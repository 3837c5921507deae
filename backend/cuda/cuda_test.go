package cuda_test

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/backendtest"
	_ "github.com/minitron-go/minitron/backend/cpu" // for "auto" to fall back to
	"github.com/minitron-go/minitron/backend/cuda"
	"github.com/minitron-go/minitron/bench"
	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
	"github.com/minitron-go/minitron/tensor"
)

// requireEnv, set to 1 (bench/gpu-check.sh sets it), makes a CUDA backend that cannot be
// opened a failure instead of a skip: on a GPU machine, a broken library path must not pass
// as "no GPU here".
const requireEnv = "MINITRON_CUDA_REQUIRE"

// unavailable skips the test for want of a GPU, or fails it under MINITRON_CUDA_REQUIRE=1.
func unavailable(t *testing.T, err error) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("CUDA backend unavailable with %s=1: %v", requireEnv, err)
	}
	t.Skipf("CUDA backend unavailable: %v", err)
}

// open opens the GPU backend, or skips the test with the reason: no library, no device, or a
// build without cgo, as on machines without an NVIDIA GPU.
func open(t *testing.T, p backend.Precision) backend.Backend {
	t.Helper()
	b, err := cuda.New(backend.Options{Precision: p})
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	t.Log(b.Name())
	return b
}

func TestRegistered(t *testing.T) {
	if b, err := backend.Open("cuda", backend.Options{}); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Errorf("cuda unavailable with %s=1: %v", requireEnv, err)
		}
		t.Logf("cuda unavailable: %v", err)
	} else {
		b.Close()
	}
	found := false
	for _, n := range backend.Names() {
		found = found || n == "cuda"
	}
	if !found {
		t.Fatalf("cuda is not registered: %v", backend.Names())
	}
}

// When CUDA cannot be opened, "auto" falls back to the CPU and says why.
func TestAutoFallsBack(t *testing.T) {
	g, cerr := cuda.New(backend.Options{})
	if cerr == nil {
		g.Close()
		t.Skip("CUDA is available here")
	}
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("CUDA backend unavailable with %s=1: %v", requireEnv, cerr)
	}
	var warned string
	b, err := backend.Open("auto", backend.Options{Threads: 1, Warn: func(msg string) { warned = msg }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.Name(), "cpu") || !strings.Contains(warned, cerr.Error()) {
		t.Errorf("auto gave %s, warning %q; want the CPU and a warning quoting %q", b.Name(), warned, cerr)
	}
}

// config describes what MatMul does to the activations, as cuda.go decides: up to
// GemvMaxRows rows (and in exact precision up to 32) the gemv kernel multiplies float32 x;
// above, fast precision against bf16 weights runs tensor-core bf16 GEMMs on x split into two
// bf16 terms, or rounded once with FastRoundingEnv=single; exact precision against bf16
// weights splits x into three bf16 terms whose sum is x (TestExactGEMMSplitsX), so float32 x
// is the model there too; everything else is a float32 GEMM.
// (A device before compute capability 8.0 has no bf16 GEMM and multiplies float32 x, within
// MatMulTol of the two-term model but not of the single rounding.)
func config(p backend.Precision) backendtest.Config {
	single := os.Getenv(cuda.FastRoundingEnv) == "single"
	return backendtest.Config{Precision: p, MatMulActivations: func(w tensor.DType, n, k int) backendtest.Activations {
		switch {
		case p != backend.Fast || w != tensor.BF16 || n <= cuda.GemvMaxRows:
			return backendtest.Float32
		case single:
			return backendtest.BF16
		}
		return backendtest.BF16x2
	}}
}

func TestConformance(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		t.Run(p.String(), func(t *testing.T) {
			backendtest.Run(t, open(t, p), config(p))
		})
	}
}

// Golden models against the float64 transformers references (testdata/GOLDEN.md), as the
// CPU's tests check them, with the tolerances doc.go claims: 1e-4 in exact precision and in
// fast precision's two bf16 terms (measured on the emulated GPU, tiny-a fast: 9.4e-5 in
// prefill, 3.8e-6 decoding); with FastRoundingEnv=single, 0.1 (doc.go: "up to 0.08";
// measured on the emulated GPU, tiny-a: 0.078).
func goldenTolerance(p backend.Precision) goldentest.Tolerance {
	if p == backend.Fast && os.Getenv(cuda.FastRoundingEnv) == "single" {
		return goldentest.Tolerance{Logits: 0.1, Margin: 0.2}
	}
	return goldentest.Tolerance{Logits: 1e-4}
}

// batchTolerance is goldenTolerance for sequences batched in one step. In fast precision a
// batch sends more matrix products through the two-term bf16 GEMM than a decoding sequence
// alone does, and that error sits at the 1e-4 bound (measured on the emulated GPU, tiny-a
// fast batched: 1.2e-4); 2e-4 there.
func batchTolerance(p backend.Precision) goldentest.Tolerance {
	tol := goldenTolerance(p)
	if p == backend.Fast {
		tol.Logits = max(tol.Logits, 2e-4)
	}
	return tol
}

func TestGoldenLogits(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		t.Run(p.String(), func(t *testing.T) {
			b := open(t, p)
			for _, name := range goldentest.Models {
				t.Run(name, func(t *testing.T) {
					dir := goldentest.Dir(2, name)
					m, g := goldentest.LoadModel(t, dir, b), goldentest.Load(t, dir)
					goldentest.CheckLogits(t, m, g, goldenTolerance(p))
					goldentest.CheckBatch(t, m, g, batchTolerance(p))  // several sequences in one step
					goldentest.CheckPrefix(t, m, g, batchTolerance(p)) // rows copied between caches
				})
			}
		})
	}
}

// Greedy decoding reproduces transformers' ids exactly in exact precision. In fast precision
// an id is asserted wherever the top two logits are more than twice the logit tolerance apart
// (goldentest.CheckGreedy): at 1e-4 that is every id of the goldens (their smallest reference
// margin is 0.008); with single rounding, the steps that are not near ties.
func TestGoldenGreedy(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		t.Run(p.String(), func(t *testing.T) {
			b := open(t, p)
			margin := 0.0
			if p == backend.Fast {
				margin = 2 * goldenTolerance(p).Logits
			}
			for _, name := range goldentest.Models {
				t.Run(name, func(t *testing.T) {
					dir := goldentest.Dir(2, name)
					goldentest.CheckGreedy(t, goldentest.LoadModel(t, dir, b), goldentest.Load(t, dir), margin)
				})
			}
		})
	}
}

// A BF16 KV cache keeps the golden models' logits, by a prefill and then a token at a time,
// within what the CPU's measured (nemotron's TestKVCacheHalf: 3.1e-3 of the largest |logit|,
// tolerance 6e-3) of the F32 cache's; an F16 cache is refused.
func TestGoldenKVCacheBF16(t *testing.T) {
	const tol = 6e-3
	b := open(t, backend.Exact)
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			dir := goldentest.Dir(2, name)
			m, g := goldentest.LoadModel(t, dir, b), goldentest.Load(t, dir)
			worst := 0.0
			for _, gc := range g.Greedy {
				ids := slices.Concat(gc.PromptIDs, gc.NewIDs)
				split := min(20, len(ids)-1)
				f32, err := m.NewState(len(ids))
				if err != nil {
					t.Fatal(err)
				}
				half, err := m.NewStateKV(len(ids), tensor.BF16)
				if err != nil {
					t.Fatal(err)
				}
				want, got := goldentest.PrefillThenDecode(t, f32, ids, split), goldentest.PrefillThenDecode(t, half, ids, split)
				f32.Close()
				half.Close()
				for i := range want {
					scale := 1.0
					for _, v := range want[i] {
						scale = max(scale, math.Abs(float64(v)))
					}
					d, _ := near.Max(got[i], want[i])
					if !(d/scale <= tol) {
						t.Fatalf("%s row %d: logits %.3g from the F32 cache's (relative), tolerance %g", gc.Case, i, d/scale, tol)
					}
					worst = max(worst, d/scale)
				}
			}
			t.Logf("%s BF16 KV cache: max |diff| %.3g of the largest logit from the F32 cache's (tolerance %g)", name, worst, tol)
			if _, err := m.NewStateKV(8, tensor.F16); !errors.Is(err, nemotron.ErrBadOption) {
				t.Errorf("an F16 KV cache on the GPU: %v, want ErrBadOption", err)
			}
		})
	}
}

// TestSpeedMinitronShape times prefill and decoding on random weights of Minitron-4B's shape
// in both precisions, as `minitron bench -backend cuda` does; it needs about 9 GB of host and
// device memory, so it runs only when MINITRON_CUDA_SPEED is set (bench/gpu-check.sh).
func TestSpeedMinitronShape(t *testing.T) {
	if os.Getenv("MINITRON_CUDA_SPEED") == "" {
		t.Skip("set MINITRON_CUDA_SPEED=1 to time random weights of Minitron-4B's shape")
	}
	g, err := cuda.New(backend.Options{})
	if err != nil {
		unavailable(t, err)
	}
	g.Close()
	cfg := nemotron.Minitron4B()
	w, err := bench.RandomWeights(cfg, 1, runtime.NumCPU())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, v := range []struct {
		name     string
		p        backend.Precision
		rounding string
	}{{"exact", backend.Exact, ""}, {"fast", backend.Fast, ""}, {"fast-single-rounding", backend.Fast, "single"}} {
		t.Run(v.name, func(t *testing.T) {
			t.Setenv(cuda.FastRoundingEnv, v.rounding)
			b := open(t, v.p)
			m, err := nemotron.New(cfg, w, b)
			if err != nil {
				t.Fatal(err)
			}
			r, err := bench.Run(context.Background(), m, w, nil, bench.Options{
				Prompts: []int{128, 512}, DecodeContexts: []int{16, 512}, DecodeTokens: 16, Threads: runtime.NumCPU(), Seed: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: prefill 512: %.0f tok/s; decode: %.1f tok/s at context 16, %.1f at 512 (%.0f GB/s of weights)",
				r.Backend, r.Prefill512, r.DecodeTokS, r.Decode["512"], r.WeightGBps)
		})
	}
}

// tinyA loads the golden tiny-a on b and returns a State with room for its first greedy
// case, prompt and continuation, and those ids.
func tinyA(t *testing.T, b backend.Backend) (*nemotron.State, []int32) {
	dir := goldentest.Dir(2, "tiny-a")
	m, g := goldentest.LoadModel(t, dir, b), goldentest.Load(t, dir)
	ids := slices.Concat(g.Greedy[0].PromptIDs, g.Greedy[0].NewIDs)
	s, err := m.NewState(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, ids
}

// TestGraphReplay decodes a golden model with CUDA graphs and without (GraphsEnv=0): the
// logits must be bit for bit the same, and with graphs a decode step must be one graph
// launch, replayed with the nodes whose position or token changed updated, not rebuilt.
func TestGraphReplay(t *testing.T) {
	run := func(graphs string) ([][]float32, cuda.GraphStats, cuda.GraphStats) {
		t.Setenv(cuda.GraphsEnv, graphs)
		b := open(t, backend.Exact)
		s, ids := tinyA(t, b)
		rows := goldentest.PrefillThenDecode(t, s, ids[:len(ids)-1], 8)
		before := b.(*cuda.Backend).Graphs()
		lg, err := s.Forward(context.Background(), ids[len(ids)-1:], nemotron.LastLogits, nil)
		if err != nil {
			t.Fatal(err)
		}
		return append(rows, slices.Clone(lg)), before, b.(*cuda.Backend).Graphs()
	}
	want, _, off := run("0")
	got, before, on := run("1")
	// Greedy decoding's path: each step's id found on the device, in the step's graph.
	b := open(t, backend.Exact)
	s, ids := tinyA(t, b)
	var last cuda.GraphStats
	for i := 8; i <= len(ids); i++ {
		in := ids[i-1 : i]
		if i == 8 {
			in = ids[:8]
		}
		last = b.(*cuda.Backend).Graphs()
		next, err := s.ForwardArgmax(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if w := tensor.Argmax(want[i-1]); int(next) != w {
			t.Fatalf("after %d tokens: ForwardArgmax %d, the largest logit %d", i, next, w)
		}
	}
	if st := b.(*cuda.Backend).Graphs(); st.Replays-last.Replays != 1 || st.Direct != last.Direct {
		t.Errorf("the last greedy step: %+v before, %+v after; want one replay and no direct launch", last, st)
	} else {
		t.Logf("a decode step of tiny-a by ForwardArgmax: %d kernels in one graph launch", st.Launches-last.Launches)
	}
	if off.Replays != 0 || off.Direct != off.Launches {
		t.Errorf("%s=0: %+v, want every launch direct", cuda.GraphsEnv, off)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			d, at := near.Max(got[i], want[i])
			t.Fatalf("row %d: logit %d is %v with graphs, %v without (|diff| %.3g)", i, at, got[i][at], want[i][at], d)
		}
	}
	steps := len(want) - 8 // decoded a token at a time after the 8-token prefill
	step := on.Launches - before.Launches
	t.Logf("a decode step of tiny-a: %d kernels in one graph launch; %+v over the run", step, on)
	if on.Replays-before.Replays != 1 || on.Direct != before.Direct {
		t.Errorf("the last decode step: %+v before, %+v after; want one replay and no direct launch", before, on)
	}
	if on.Replays < steps-2 || on.Builds > 3 {
		t.Errorf("%d decode steps: %d replays, %d graphs built; want a replay a step and few builds", steps, on.Replays, on.Builds)
	}
}

// TestGraphFallback: a graph call that fails turns graphs off with a warning, and the launches
// of the step run one by one, giving the logits of a backend without graphs. Only the emulated
// driver fails a call on request (MINITRON_EMU_GRAPH_FAIL).
func TestGraphFallback(t *testing.T) {
	if os.Getenv("MINITRON_CUDA_EMULATED") == "" {
		t.Skip("only the emulated driver fails graph calls on request")
	}
	decode := func(t *testing.T, opts backend.Options) [][]float32 {
		b, err := cuda.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() }) // after the State's, registered by tinyA
		s, ids := tinyA(t, b)
		rows := goldentest.PrefillThenDecode(t, s, ids, 8)
		if st := b.Graphs(); st.Replays != 0 {
			t.Errorf("%d graph replays", st.Replays)
		}
		return rows
	}
	t.Setenv(cuda.GraphsEnv, "0")
	want := decode(t, backend.Options{})
	t.Setenv(cuda.GraphsEnv, "1")
	for _, call := range []string{"instantiate", "launch"} {
		t.Run(call, func(t *testing.T) {
			t.Setenv("MINITRON_EMU_GRAPH_FAIL", call)
			var warned []string
			got := decode(t, backend.Options{Warn: func(msg string) { warned = append(warned, msg) }})
			for i := range want {
				if !slices.Equal(got[i], want[i]) {
					t.Fatalf("row %d differs from the run without graphs", i)
				}
			}
			if len(warned) != 1 || !strings.Contains(warned[0], "CUDA graphs off") {
				t.Errorf("warnings %q, want one that graphs are off", warned)
			}
		})
	}
}
