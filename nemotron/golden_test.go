package nemotron_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/checkpoint/safetensors"
	"github.com/minitron-go/minitron/nemotron"
)

// goldenTol is the agreement we require with the float64 transformers references: float32
// arithmetic drifts about 1e-5 from them on logits of magnitude up to 15 (GOLDEN.md).
const goldenTol = 1e-4

var goldenModels = []string{"tiny-a", "tiny-b", "small-c"}

type goldenCase struct {
	Name string  `json:"name"`
	IDs  []int32 `json:"ids"`
}

type greedyCase struct {
	Case      string  `json:"case"`
	PromptIDs []int32 `json:"prompt_ids"`
	NewIDs    []int32 `json:"new_ids"`
}

type golden struct {
	dir    string
	Cases  []goldenCase `json:"cases"`
	Greedy []greedyCase `json:"greedy"`
	ref    *safetensors.File
}

func loadGolden(t testing.TB, model string) *golden {
	t.Helper()
	dir := filepath.Join("..", "testdata", "models", model)
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := &golden{dir: dir}
	if err := json.Unmarshal(raw, g); err != nil {
		t.Fatal(err)
	}
	g.ref, err = safetensors.Open(filepath.Join(dir, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.ref.Close() })
	return g
}

// tensor returns a reference tensor as float32s.
func (g *golden) tensor(t testing.TB, name string) []float32 {
	t.Helper()
	h, ok := g.ref.Tensor(name)
	if !ok {
		t.Fatalf("golden tensor %s missing", name)
	}
	return h.F32()
}

// ids returns a reference id tensor (int64) as int32s.
func (g *golden) ids(t testing.TB, name string) []int32 {
	h, ok := g.ref.Tensor(name)
	if !ok {
		t.Fatalf("golden tensor %s missing", name)
	}
	out := make([]int32, h.Len())
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint64(h.Data[8*i:]))
	}
	return out
}

func loadModel(t testing.TB, model string, threads int) *nemotron.Model {
	t.Helper()
	b, err := cpu.New(backend.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return loadModelOn(t, model, b)
}

func loadModelOn(t testing.TB, model string, b backend.Backend) *nemotron.Model {
	t.Helper()
	m, err := nemotron.Load(filepath.Join("..", "testdata", "models", model), b, nemotron.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// maxDiff returns the largest |a-b| and where it is.
func maxDiff(a, b []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at
}

func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if d, at := maxDiff(got, want); d > tol || math.IsNaN(d) {
		t.Errorf("%s: max |diff| %.3g at %d (got %v, want %v), tolerance %g", what, d, at, got[at], want[at], tol)
	} else {
		t.Logf("%s: max |diff| %.3g", what, d)
	}
}

func TestGoldenLogits(t *testing.T) {
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			g := loadGolden(t, name)
			m := loadModel(t, name, 2)
			vocab := m.Config.VocabSize
			for _, c := range g.Cases {
				want := g.tensor(t, c.Name+".logits")
				if ids := g.ids(t, c.Name+".ids"); fmt.Sprint(ids) != fmt.Sprint(c.IDs) {
					t.Fatalf("%s: ids in golden.json and golden.safetensors differ", c.Name)
				}

				// One prefill of the whole prompt.
				s, err := m.NewState(len(c.IDs))
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Forward(context.Background(), c.IDs, nemotron.AllLogits, nil)
				if err != nil {
					t.Fatal(err)
				}
				checkClose(t, c.Name+" prefill", got, want, goldenTol)

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
				checkClose(t, c.Name+" decode", step, want, goldenTol)
				s.Close()
			}
		})
	}
}

func TestGoldenLayers(t *testing.T) {
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			g := loadGolden(t, name)
			m := loadModel(t, name, 2)
			ids := g.Cases[0].IDs
			if g.Cases[0].Name != "prompt0" {
				t.Fatalf("first case is %s, want prompt0", g.Cases[0].Name)
			}
			s, err := m.NewState(len(ids))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			seen := map[string]bool{}
			_, err = s.Forward(context.Background(), ids, nemotron.NoLogits, func(name string, pos0, n int, data []float32) {
				seen[name] = true
				checkClose(t, name, data, g.tensor(t, "prompt0."+name), goldenTol)
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := m.Config.Layers + 2; len(seen) != want {
				t.Errorf("observed %d activations, want %d", len(seen), want)
			}
		})
	}
}

func argmax(v []float32) int32 {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return int32(best)
}

func TestGoldenGreedy(t *testing.T) {
	for _, name := range goldenModels {
		t.Run(name, func(t *testing.T) {
			g := loadGolden(t, name)
			m := loadModel(t, name, 2)
			for _, gc := range g.Greedy {
				s, err := m.NewState(len(gc.PromptIDs) + len(gc.NewIDs))
				if err != nil {
					t.Fatal(err)
				}
				lg, err := s.Forward(context.Background(), gc.PromptIDs, nemotron.LastLogits, nil)
				if err != nil {
					t.Fatal(err)
				}
				got := []int32{argmax(lg)}
				for len(got) < len(gc.NewIDs) {
					if lg, err = s.Forward(context.Background(), got[len(got)-1:], nemotron.LastLogits, nil); err != nil {
						t.Fatal(err)
					}
					got = append(got, argmax(lg))
				}
				if fmt.Sprint(got) != fmt.Sprint(gc.NewIDs) {
					t.Errorf("%s greedy:\n got %v\nwant %v", gc.Case, got, gc.NewIDs)
				}
				s.Close()
			}
		})
	}
}

// tiny-a saved by torch.save must give exactly the logits of its safetensors twin.
func TestPyTorchCheckpointBitIdentical(t *testing.T) {
	g := loadGolden(t, "tiny-a")
	st := loadModel(t, "tiny-a", 2)
	pt := loadModel(t, "tiny-a-bin", 2)
	for _, c := range g.Cases {
		var logits [2][]float32
		for i, m := range []*nemotron.Model{st, pt} {
			s, err := m.NewState(len(c.IDs))
			if err != nil {
				t.Fatal(err)
			}
			lg, err := s.Forward(context.Background(), c.IDs, nemotron.AllLogits, nil)
			if err != nil {
				t.Fatal(err)
			}
			logits[i] = append([]float32(nil), lg...)
			s.Close()
		}
		for i := range logits[0] {
			if math.Float32bits(logits[0][i]) != math.Float32bits(logits[1][i]) {
				t.Fatalf("%s: logit %d differs: safetensors %v, pytorch_model.bin %v", c.Name, i, logits[0][i], logits[1][i])
			}
		}
	}
}
