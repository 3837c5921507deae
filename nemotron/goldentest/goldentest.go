// Package goldentest checks a Nemotron model, on any backend, against the reference data in
// testdata/models (testdata/GOLDEN.md): every case's logits at every position, by one prefill
// and token by token through the KV cache; each layer's output; greedy continuations. Backend
// test suites call it with their own backend and tolerances.
package goldentest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/checkpoint"
	"github.com/minitron-go/minitron/checkpoint/safetensors"
	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
)

// Models are the golden checkpoints: bf16 and f32 weights, one file and shards, grouped and
// full KV heads, partial and full rotary, both config.json styles.
var Models = []string{"tiny-a", "tiny-b", "small-c"}

// Case is a prompt whose logits the reference holds.
type Case struct {
	Name string  `json:"name"`
	IDs  []int32 `json:"ids"`
}

// Greedy is a prompt and transformers' greedy continuation of it.
type Greedy struct {
	Case      string  `json:"case"`
	PromptIDs []int32 `json:"prompt_ids"`
	NewIDs    []int32 `json:"new_ids"`
	// MinTop2Margin is the smallest lead of the reference's top logit over its second along
	// the continuation.
	MinTop2Margin float64 `json:"min_top2_margin"`
}

// Golden is one model's reference data.
type Golden struct {
	Dir    string
	Cases  []Case   `json:"cases"`
	Greedy []Greedy `json:"greedy"`
	ref    *safetensors.File
}

// Dir is the directory of a golden model, from a test's package directory at depth levels
// below the module root.
func Dir(depth int, model string) string {
	parts := []string{}
	for range depth {
		parts = append(parts, "..")
	}
	return filepath.Join(append(parts, "testdata", "models", model)...)
}

// Load reads the reference data of the model in dir.
func Load(t testing.TB, dir string) *Golden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := &Golden{Dir: dir}
	if err := json.Unmarshal(raw, g); err != nil {
		t.Fatal(err)
	}
	if g.ref, err = safetensors.Open(filepath.Join(dir, "golden.safetensors")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.ref.Close() })
	for _, c := range g.Cases {
		if fmt.Sprint(g.IDs(t, c.Name)) != fmt.Sprint(c.IDs) {
			t.Fatalf("%s: %s: ids in golden.json and golden.safetensors differ", dir, c.Name)
		}
	}
	return g
}

// Tensor returns a reference tensor, "<case>.logits" or "prompt0.layer1.out" say.
func (g *Golden) Tensor(t testing.TB, name string) []float32 {
	t.Helper()
	h, ok := g.ref.Tensor(name)
	if !ok {
		t.Fatalf("golden tensor %s missing", name)
	}
	return h.F32()
}

// IDs returns a case's input ids as the reference stores them (int64).
func (g *Golden) IDs(t testing.TB, c string) []int32 {
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

// OpenCheckpoint reads the config of the checkpoint in dir and opens its weights, closed
// when the test ends: the source for writing it in another format.
func OpenCheckpoint(t testing.TB, dir string) (nemotron.Config, *checkpoint.Checkpoint) {
	t.Helper()
	cfg, err := nemotron.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	return cfg, ck
}

// LoadModel loads the golden model in dir onto b.
func LoadModel(t testing.TB, dir string, b backend.Backend) *nemotron.Model {
	t.Helper()
	m, err := nemotron.Load(dir, b, nemotron.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Tolerance is how close a backend must come to the references.
type Tolerance struct {
	Logits float64 // largest |logit - reference|
	// Margin, when set, requires the reference's top token wherever the reference's top two
	// differ by more than Margin (for precisions that may swap near ties).
	Margin float64
}

// CheckLogits compares every case's logits at every position, by one prefill and by decoding
// token by token, and returns the largest difference seen.
func CheckLogits(t *testing.T, m *nemotron.Model, g *Golden, tol Tolerance) float64 {
	t.Helper()
	return CheckLogitsWith(t, m, g, nil, tol)
}

// CheckLogitsWith is CheckLogits against other references: ref[case] holds a case's logits
// [T, vocab] (a forward pass over other weights, say); nil means the goldens'.
func CheckLogitsWith(t *testing.T, m *nemotron.Model, g *Golden, ref map[string][]float32, tol Tolerance) float64 {
	t.Helper()
	vocab := m.Config.VocabSize
	ctx := context.Background()
	var worst float64
	for _, c := range g.Cases {
		want, ok := ref[c.Name]
		if ref == nil {
			want, ok = g.Tensor(t, c.Name+".logits"), true
		}
		if !ok || len(want) != len(c.IDs)*vocab {
			t.Fatalf("%s: a reference of %d logits for %d positions", c.Name, len(want), len(c.IDs))
		}
		s, err := m.NewState(len(c.IDs))
		if err != nil {
			t.Fatal(err)
		}
		prefill, err := s.Forward(ctx, c.IDs, nemotron.AllLogits, nil)
		if err != nil {
			t.Fatal(err)
		}
		prefill = append([]float32(nil), prefill...)
		s.Reset()
		decode := make([]float32, 0, len(want))
		for _, id := range c.IDs {
			lg, err := s.Forward(ctx, []int32{id}, nemotron.LastLogits, nil)
			if err != nil {
				t.Fatal(err)
			}
			decode = append(decode, lg...)
		}
		s.Close()
		for _, run := range []struct {
			how string
			got []float32
		}{{"prefill", prefill}, {"decode", decode}} {
			what := c.Name + " " + run.how
			worst = max(worst, Close(t, what, run.got, want, tol.Logits))
			if tol.Margin > 0 {
				for pos := range len(c.IDs) {
					row, ref := run.got[pos*vocab:(pos+1)*vocab], want[pos*vocab:(pos+1)*vocab]
					if best, margin := Top2(ref); margin > tol.Margin && Argmax(row) != best {
						t.Errorf("%s position %d: top token %d, reference %d (margin %.3g)", what, pos, Argmax(row), best, margin)
					}
				}
			}
		}
	}
	return worst
}

// CheckLayers compares the embeddings, every layer's output and the final norm of prompt0.
func CheckLayers(t *testing.T, m *nemotron.Model, g *Golden, tol float64) {
	t.Helper()
	c := g.Cases[0]
	if c.Name != "prompt0" {
		t.Fatalf("first case is %s, want prompt0", c.Name)
	}
	s, err := m.NewState(len(c.IDs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[string]bool{}
	_, err = s.Forward(context.Background(), c.IDs, nemotron.NoLogits, func(name string, pos0, n int, data []float32) {
		seen[name] = true
		Close(t, name, data, g.Tensor(t, "prompt0."+name), tol)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := m.Config.Layers + 2; len(seen) != want {
		t.Errorf("observed %d activations, want %d", len(seen), want)
	}
}

// CheckGreedy decodes greedily and compares with transformers' continuations, returning how
// many ids it asserted. With margin 0 every id must match.
//
// A precision that may swap near ties passes margin > 0, at least twice its largest logit
// error, so that two logits further apart than margin cannot change order. A continuation
// whose reference margin stays above it (min_top2_margin in golden.json) must then match id
// for id. In the others, decoding follows the reference's ids, and at each step the backend
// must pick the reference's id wherever its own top two are more than margin apart; the
// steps closer than that are near ties and only counted.
func CheckGreedy(t *testing.T, m *nemotron.Model, g *Golden, margin float64) int {
	t.Helper()
	ctx := context.Background()
	asserted := 0
	for _, gc := range g.Greedy {
		s, err := m.NewState(len(gc.PromptIDs) + len(gc.NewIDs))
		if err != nil {
			t.Fatal(err)
		}
		free := margin == 0 || gc.MinTop2Margin > margin
		lg, err := s.Forward(ctx, gc.PromptIDs, nemotron.LastLogits, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []int32
		ties := 0
		for i, want := range gc.NewIDs {
			if i > 0 {
				next := gc.NewIDs[i-1] // the reference's id: decoding follows it
				if free {
					next = got[i-1]
				}
				if lg, err = s.Forward(ctx, []int32{next}, nemotron.LastLogits, nil); err != nil {
					t.Fatal(err)
				}
			}
			id, lead := Top2(lg)
			got = append(got, int32(id))
			switch {
			case free:
				asserted++
			case lead > margin:
				asserted++
				if int32(id) != want {
					t.Errorf("%s greedy step %d: id %d, reference %d, with a lead of %.3g over the runner-up (margin %g)", gc.Case, i, id, want, lead, margin)
				}
			default:
				ties++
			}
		}
		s.Close()
		switch {
		case free && fmt.Sprint(got) != fmt.Sprint(gc.NewIDs):
			t.Errorf("%s greedy (reference margin ≥ %.3g):\n got %v\nwant %v", gc.Case, gc.MinTop2Margin, got, gc.NewIDs)
		case !free:
			t.Logf("%s greedy along the reference: %d of %d steps asserted, %d within margin %g", gc.Case, len(gc.NewIDs)-ties, len(gc.NewIDs), ties, margin)
		}
	}
	if asserted == 0 {
		t.Errorf("no greedy id asserted (margin %g)", margin)
	}
	return asserted
}

// Close fails the test when some |got - want| exceeds tol, and returns the largest.
func Close(t *testing.T, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := near.Max(got, want)
	if at < 0 {
		t.Fatalf("%s: no values", what)
	}
	if !(worst <= tol) {
		t.Errorf("%s: max |diff| %.3g at %d (got %v, want %v), tolerance %g", what, worst, at, got[at], want[at], tol)
	} else {
		t.Logf("%s: max |diff| %.3g", what, worst)
	}
	return worst
}

// Argmax is the index of the largest value, the first among equals (as torch.argmax).
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Top2 returns the index of the largest value and its lead over the runner-up.
func Top2(v []float32) (int, float64) {
	best := Argmax(v)
	second := math.Inf(-1)
	for i, x := range v {
		if i != best {
			second = max(second, float64(x))
		}
	}
	return best, float64(v[best]) - second
}

// CheckBatch runs every case at once through one Batch, each read in chunks of its own size
// (one token at a time for the first, growing for the others), so that every step stacks
// sequences at different positions, and compares every position's logits with the reference.
// It returns the largest difference seen.
func CheckBatch(t *testing.T, m *nemotron.Model, g *Golden, tol Tolerance) float64 {
	t.Helper()
	ctx := context.Background()
	vocab := m.Config.VocabSize
	type seq struct {
		s      *nemotron.State
		ids    []int32
		chunk  int
		fed    int
		logits []float32
	}
	var seqs []*seq
	rows := 0
	for i, c := range g.Cases {
		s, err := m.NewState(len(c.IDs))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		seqs = append(seqs, &seq{s: s, ids: c.IDs, chunk: 1 + 3*i})
		rows += 1 + 3*i
	}
	b, err := m.NewBatch(rows)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for {
		var adv []nemotron.Advance
		var who []*seq
		for _, q := range seqs {
			if q.fed < len(q.ids) {
				n := min(q.chunk, len(q.ids)-q.fed)
				adv = append(adv, nemotron.Advance{State: q.s, IDs: q.ids[q.fed : q.fed+n], Want: nemotron.AllLogits})
				who = append(who, q)
				q.fed += n
			}
		}
		if len(adv) == 0 {
			break
		}
		if err := b.Step(ctx, adv); err != nil {
			t.Fatal(err)
		}
		for i, a := range adv {
			who[i].logits = append(who[i].logits, a.Logits...)
		}
	}
	var worst float64
	for i, c := range g.Cases {
		want := g.Tensor(t, c.Name+".logits")
		got := seqs[i].logits
		worst = max(worst, Close(t, c.Name+" batched", got, want, tol.Logits))
		if tol.Margin > 0 {
			for pos := range len(c.IDs) {
				row, ref := got[pos*vocab:(pos+1)*vocab], want[pos*vocab:(pos+1)*vocab]
				if best, margin := Top2(ref); margin > tol.Margin && Argmax(row) != best {
					t.Errorf("%s batched position %d: top token %d, reference %d (margin %.3g)", c.Name, pos, Argmax(row), best, margin)
				}
			}
		}
	}
	return worst
}

// CheckPrefix runs the first half of every case in one State, copies those rows into a
// second (State.CopyPrefix) and reads the rest there, comparing the logits of the rest with
// the reference: a backend's row copies between caches and its views of them are what prefix
// reuse rests on. It returns the largest difference seen.
func CheckPrefix(t *testing.T, m *nemotron.Model, g *Golden, tol Tolerance) float64 {
	t.Helper()
	ctx := context.Background()
	vocab := m.Config.VocabSize
	var worst float64
	for _, c := range g.Cases {
		half := len(c.IDs) / 2
		if half == 0 {
			continue
		}
		donor, err := m.NewState(len(c.IDs))
		if err != nil {
			t.Fatal(err)
		}
		defer donor.Close()
		if _, err := donor.Forward(ctx, c.IDs[:half], nemotron.NoLogits, nil); err != nil {
			t.Fatal(err)
		}
		s, err := m.NewState(len(c.IDs))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.CopyPrefix(donor, half); err != nil {
			t.Fatal(err)
		}
		got, err := s.Forward(ctx, c.IDs[half:], nemotron.AllLogits, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := g.Tensor(t, c.Name+".logits")[half*vocab:]
		worst = max(worst, Close(t, c.Name+" after a copied prefix", got, want, tol.Logits))
		if tol.Margin > 0 {
			for i := range len(c.IDs) - half {
				row, ref := got[i*vocab:(i+1)*vocab], want[i*vocab:(i+1)*vocab]
				if best, margin := Top2(ref); margin > tol.Margin && Argmax(row) != best {
					t.Errorf("%s after a copied prefix, position %d: top token %d, reference %d (margin %.3g)", c.Name, half+i, Argmax(row), best, margin)
				}
			}
		}
	}
	return worst
}

// PrefillThenDecode returns the logits of every position of ids through s: a prefill of
// ids[:split], then the rest a token at a time, so that both of a backend's attention paths
// (a prompt's and decoding's) are in the rows.
func PrefillThenDecode(t testing.TB, s *nemotron.State, ids []int32, split int) [][]float32 {
	t.Helper()
	ctx := context.Background()
	lg, err := s.Forward(ctx, ids[:split], nemotron.AllLogits, nil)
	if err != nil {
		t.Fatal(err)
	}
	vocab := len(lg) / split
	rows := make([][]float32, 0, len(ids))
	for i := range split {
		rows = append(rows, slices.Clone(lg[i*vocab:(i+1)*vocab]))
	}
	for _, id := range ids[split:] {
		lg, err := s.Forward(ctx, []int32{id}, nemotron.LastLogits, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, slices.Clone(lg))
	}
	return rows
}
