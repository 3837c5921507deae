package cuda_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/backendtest"
	_ "github.com/minitron-go/minitron/backend/cpu" // for "auto" to fall back to
	"github.com/minitron-go/minitron/backend/cuda"
	"github.com/minitron-go/minitron/bench"
	"github.com/minitron-go/minitron/checkpoint/safetensors"
	"github.com/minitron-go/minitron/nemotron"
)

// open opens the GPU backend, or skips the test with the reason: no library, no device, or a
// build without cgo, as on machines without an NVIDIA GPU.
func open(t *testing.T, p backend.Precision) backend.Backend {
	t.Helper()
	b, err := cuda.New(backend.Options{Precision: p})
	if err != nil {
		t.Skipf("CUDA backend unavailable: %v", err)
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

func TestConformance(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		t.Run(p.String(), func(t *testing.T) {
			backendtest.Run(t, open(t, p), p)
		})
	}
}

// Golden models: logits of every position against the float64 transformers references, as
// nemotron's CPU test checks them (testdata/GOLDEN.md).
const (
	exactGoldenTol = 1e-3 // float32 on the GPU; the CPU reaches 1e-4
	fastGoldenTol  = 5e-2 // bf16 tensor cores in prefill GEMMs
	// fastMargin is the top-1/top-2 gap above which fast precision must keep the top token.
	fastMargin = 0.1
)

var goldenModels = []string{"tiny-a", "tiny-b", "small-c"}

type golden struct {
	Cases []struct {
		Name string  `json:"name"`
		IDs  []int32 `json:"ids"`
	} `json:"cases"`
	Greedy []struct {
		Case      string  `json:"case"`
		PromptIDs []int32 `json:"prompt_ids"`
		NewIDs    []int32 `json:"new_ids"`
	} `json:"greedy"`
	ref *safetensors.File
}

func modelDir(name string) string { return filepath.Join("..", "..", "testdata", "models", name) }

func loadGolden(t *testing.T, name string) *golden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(modelDir(name), "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := &golden{}
	if err := json.Unmarshal(raw, g); err != nil {
		t.Fatal(err)
	}
	if g.ref, err = safetensors.Open(filepath.Join(modelDir(name), "golden.safetensors")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.ref.Close() })
	return g
}

func (g *golden) logits(t *testing.T, c string) []float32 {
	t.Helper()
	h, ok := g.ref.Tensor(c + ".logits")
	if !ok {
		t.Fatalf("golden tensor %s.logits missing", c)
	}
	return h.F32()
}

func (g *golden) ids(t *testing.T, c string) []int32 {
	t.Helper()
	h, ok := g.ref.Tensor(c + ".ids")
	if !ok {
		t.Fatalf("golden tensor %s.ids missing", c)
	}
	out := make([]int32, h.Len())
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint64(h.Data[8*i:]))
	}
	return out
}

func loadModel(t *testing.T, name string, b backend.Backend) *nemotron.Model {
	t.Helper()
	m, err := nemotron.Load(modelDir(name), b, nemotron.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// top2 returns the best index and its margin over the runner-up.
func top2(v []float32) (int, float64) {
	best := argmax(v)
	second := math.Inf(-1)
	for i, x := range v {
		if i != best {
			second = math.Max(second, float64(x))
		}
	}
	return best, float64(v[best]) - second
}

// checkLogits compares rows of logits with the reference: within tol everywhere; in fast
// precision, also the same top token wherever the reference's top-1/top-2 margin is clear.
func checkLogits(t *testing.T, what string, got, want []float32, vocab int, p backend.Precision) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", what, len(got), len(want))
	}
	tol := exactGoldenTol
	if p == backend.Fast {
		tol = fastGoldenTol
	}
	worst, at := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > worst || d != d {
			worst, at = d, i
		}
	}
	if worst > tol || worst != worst {
		t.Errorf("%s: max |diff| %.3g at %d (got %v, want %v), tolerance %g", what, worst, at, got[at], want[at], tol)
	} else {
		t.Logf("%s: max |diff| %.3g", what, worst)
	}
	if p == backend.Fast {
		for r := 0; r < len(want)/vocab; r++ {
			wantTop, margin := top2(want[r*vocab : (r+1)*vocab])
			if gotTop := argmax(got[r*vocab : (r+1)*vocab]); margin > fastMargin && gotTop != wantTop {
				t.Errorf("%s: position %d: top token %d, want %d (margin %.3g)", what, r, gotTop, wantTop, margin)
			}
		}
	}
}

func TestGoldenLogits(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		t.Run(p.String(), func(t *testing.T) {
			b := open(t, p)
			for _, name := range goldenModels {
				t.Run(name, func(t *testing.T) {
					g := loadGolden(t, name)
					m := loadModel(t, name, b)
					vocab := m.Config.VocabSize
					for _, c := range g.Cases {
						want := g.logits(t, c.Name)
						if fmt.Sprint(g.ids(t, c.Name)) != fmt.Sprint(c.IDs) {
							t.Fatalf("%s: ids in golden.json and golden.safetensors differ", c.Name)
						}
						s, err := m.NewState(len(c.IDs))
						if err != nil {
							t.Fatal(err)
						}
						got, err := s.Forward(context.Background(), c.IDs, nemotron.AllLogits, nil)
						if err != nil {
							t.Fatal(err)
						}
						checkLogits(t, c.Name+" prefill", got, want, vocab, p)

						// Token by token through the KV cache.
						s.Reset()
						step := make([]float32, 0, len(want))
						for _, id := range c.IDs {
							lg, err := s.Forward(context.Background(), []int32{id}, nemotron.LastLogits, nil)
							if err != nil {
								t.Fatal(err)
							}
							step = append(step, lg[:vocab]...)
						}
						checkLogits(t, c.Name+" decode", step, want, vocab, p)
						s.Close()
					}
				})
			}
		})
	}
}

// Greedy decoding reproduces transformers' ids exactly in exact precision. In fast precision
// a near tie may flip, so the first divergence is logged rather than failed.
func TestGoldenGreedy(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		t.Run(p.String(), func(t *testing.T) {
			b := open(t, p)
			for _, name := range goldenModels {
				t.Run(name, func(t *testing.T) {
					g := loadGolden(t, name)
					m := loadModel(t, name, b)
					for _, gc := range g.Greedy {
						s, err := m.NewState(len(gc.PromptIDs) + len(gc.NewIDs))
						if err != nil {
							t.Fatal(err)
						}
						lg, err := s.Forward(context.Background(), gc.PromptIDs, nemotron.LastLogits, nil)
						if err != nil {
							t.Fatal(err)
						}
						got := []int32{int32(argmax(lg))}
						for len(got) < len(gc.NewIDs) {
							if lg, err = s.Forward(context.Background(), got[len(got)-1:], nemotron.LastLogits, nil); err != nil {
								t.Fatal(err)
							}
							got = append(got, int32(argmax(lg)))
						}
						s.Close()
						if fmt.Sprint(got) == fmt.Sprint(gc.NewIDs) {
							continue
						}
						if p == backend.Exact {
							t.Errorf("%s greedy:\n got %v\nwant %v", gc.Case, got, gc.NewIDs)
						} else {
							t.Logf("%s greedy (fast) diverges:\n got %v\nwant %v", gc.Case, got, gc.NewIDs)
						}
					}
				})
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
		t.Skipf("CUDA backend unavailable: %v", err)
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
