package nemotron_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

func TestSequenceDraft(t *testing.T) {
	m := loadModel(t, "tiny-a", 1)
	for _, tt := range []struct {
		name   string
		ids    []int32 // the prompt; its last token is what the pass would feed
		lookup int
		n      int
		max    int // MaxTokens
		want   []int32
	}{
		{"trigram", []int32{7, 8, 9, 10, 11, 5, 8, 9, 10, 3, 8, 9, 10}, 4, 4, 0, []int32{3, 8, 9, 10}},
		{"latest of several", []int32{8, 9, 10, 1, 8, 9, 10, 2, 8, 9, 10}, 2, 8, 0, []int32{2, 8}},
		{"bigram when no trigram", []int32{1, 9, 10, 4, 4, 5, 9, 10}, 3, 3, 0, []int32{4, 4, 5}},
		{"unigram", []int32{1, 10, 6, 7, 2, 10}, 3, 3, 0, []int32{6, 7, 2}},
		{"the context's end", []int32{1, 10, 6, 10}, 5, 5, 0, []int32{6, 10}},
		{"a repeated token", []int32{3, 3, 3}, 4, 4, 0, []int32{3}},
		{"n bounds it", []int32{1, 10, 6, 7, 2, 10}, 3, 1, 0, []int32{6}},
		{"MaxTokens bounds it", []int32{1, 10, 6, 7, 2, 10}, 3, 3, 2, []int32{6}},
		{"no match", []int32{1, 2, 3, 4}, 4, 4, 0, nil},
		{"off", []int32{1, 10, 6, 7, 2, 10}, 0, 3, 0, nil},
	} {
		q, err := m.NewSequence(tt.ids, nemotron.GenerateOptions{Lookup: tt.lookup, MaxTokens: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Draft(nil, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Draft(%v) = %v, want %v", tt.name, tt.ids, got, tt.want)
		}
	}
	// The context bounds it: a pass must leave room for a token after every draft.
	long := make([]int32, m.Config.MaxPositions-3)
	for i := range long {
		long[i] = int32(2 + i%5)
	}
	q, _ := m.NewSequence(long, nemotron.GenerateOptions{Lookup: 8})
	if got := q.Draft(nil, 8); len(got) != 2 {
		t.Errorf("3 positions left: %d drafts, want 2", len(got))
	}
	if err := (nemotron.GenerateOptions{Lookup: nemotron.MaxLookup + 1}).Validate(); err == nil {
		t.Errorf("lookup %d accepted", nemotron.MaxLookup+1)
	}
}

// A verification pass of 1+N rows gives the logits of its tokens fed one at a time, bit for
// bit, for N up to MaxLookup (both precisions on the CPU: every kernel it takes computes a
// row on its own). Beyond, attention goes to the panel kernels and the bits change: the
// test reports where.
func TestLookupPassBitIdentical(t *testing.T) {
	for _, prec := range []backend.Precision{backend.Exact, backend.Fast} {
		b, err := cpu.New(backend.Options{Threads: 2, Precision: prec})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		for _, name := range goldentest.Models {
			m := goldentest.LoadModel(t, goldentest.Dir(1, name), b)
			rng := rand.New(rand.NewPCG(11, uint64(len(name))))
			ids := make([]int32, 60)
			for i := range ids {
				ids[i] = int32(rng.IntN(m.Config.VocabSize))
			}
			const ctx0 = 30 // the context before the pass
			one, err := m.NewState(len(ids))
			if err != nil {
				t.Fatal(err)
			}
			defer one.Close()
			if _, err := one.Forward(context.Background(), ids[:ctx0], nemotron.NoLogits, nil); err != nil {
				t.Fatal(err)
			}
			var single [][]float32
			for _, id := range ids[ctx0:] {
				lg, err := one.Forward(context.Background(), []int32{id}, nemotron.LastLogits, nil)
				if err != nil {
					t.Fatal(err)
				}
				single = append(single, slices.Clone(lg))
			}
			firstDiff := 0
			for rows := 2; rows <= 24; rows++ {
				s, err := m.NewState(len(ids))
				if err != nil {
					t.Fatal(err)
				}
				if err := s.CopyPrefix(one, ctx0); err != nil {
					t.Fatal(err)
				}
				lg, err := s.Forward(context.Background(), ids[ctx0:ctx0+rows], nemotron.AllLogits, nil)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				same := true
				for r := range rows {
					row := lg[r*m.Config.VocabSize : (r+1)*m.Config.VocabSize]
					for j, v := range row {
						same = same && math.Float32bits(v) == math.Float32bits(single[r][j])
					}
				}
				if !same && firstDiff == 0 {
					firstDiff = rows
				}
				if !same && rows <= 1+nemotron.MaxLookup {
					t.Errorf("%s %s: a pass of %d rows differs from one row at a time", prec, name, rows)
				}
			}
			if firstDiff > 0 {
				t.Logf("%s %s: passes of %d rows or more differ from single steps", prec, name, firstDiff)
			} else {
				t.Logf("%s %s: passes of up to 24 rows are the bits of single steps", prec, name)
			}
		}
	}
}

// lookupPrompts are prompts a generation may quote (a run of tokens said three times) and one
// it has no reason to.
func lookupPrompts(m *nemotron.Model) map[string][]int32 {
	rng := rand.New(rand.NewPCG(5, 5))
	phrase := make([]int32, 9)
	plain := make([]int32, 30)
	for _, p := range [][]int32{phrase, plain} {
		for i := range p {
			p[i] = int32(2 + rng.IntN(m.Config.VocabSize-2))
		}
	}
	return map[string][]int32{
		"repeated": slices.Concat([]int32{2}, phrase, phrase, phrase[:5], phrase, phrase[:4]),
		"plain":    plain,
	}
}

// lookupSamplings are greedy decoding and seeded samplers, one with a repetition penalty
// (whose history must be the one plain decoding sees at every verified row).
var lookupSamplings = map[string]nemotron.Sampling{
	"greedy":  {},
	"sampled": {Temperature: 0.8, TopK: 40, Seed: 3},
	"penalty": {Temperature: 0.7, TopP: 0.9, MinP: 0.05, RepetitionPenalty: 1.3, Seed: 9},
	"hot":     {Temperature: 1.5, Seed: 1},
	"cool":    {Temperature: 0.3, TopK: 8, Seed: 4}, // drafts accepted while the draws vary
}

// Generating with prompt lookup gives plain decoding's tokens, for every sampler and draft
// length, in exact precision: the verified rows' logits are the same bits (as above), and the
// sampler draws once per token as it would have.
func TestLookupMatchesPlain(t *testing.T) {
	for _, name := range goldentest.Models {
		m := loadModel(t, name, 2)
		accepted, sampled := 0, 0
		for pname, prompt := range lookupPrompts(m) {
			for sname, sp := range lookupSamplings {
				opts := nemotron.GenerateOptions{Sampling: sp, MaxTokens: 48, EOS: []int32{}}
				want, wg := generate(t, m, prompt, opts)
				for _, n := range []int{1, 3, nemotron.MaxLookup} {
					opts.Lookup = n
					got, g := generate(t, m, prompt, opts)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s %s %s lookup %d:\n got %v\nwant %v", name, pname, sname, n, got, want)
					}
					if g.Stop != wg.Stop || g.Tokens != wg.Tokens {
						t.Errorf("%s %s %s lookup %d: %+v, plain %+v", name, pname, sname, n, g, wg)
					}
					if g.Accepted > g.Drafted {
						t.Errorf("%s %s %s lookup %d: %d of %d drafts accepted", name, pname, sname, n, g.Accepted, g.Drafted)
					}
					accepted += g.Accepted
					if sp.Temperature > 0 {
						sampled += g.Accepted
					}
					t.Logf("%s %s %s lookup %d: %d of %d drafts accepted, %.2f tokens a pass", name, pname, sname, n,
						g.Accepted, g.Drafted, float64(g.Tokens-1)/float64(g.Tokens-1-g.Accepted))
				}
			}
		}
		if accepted == 0 || sampled == 0 {
			t.Errorf("%s: %d drafts accepted, %d of them sampled: the test checks little", name, accepted, sampled)
		}
	}
}

// A generation that ends on a draft (the EOS guessed and confirmed, or MaxTokens reached in
// the middle of a pass) ends where plain decoding ends, and a caller stopping it mid-pass
// hears no token after.
func TestLookupStops(t *testing.T) {
	m := loadModel(t, "tiny-a", 2)
	prompt := lookupPrompts(m)["repeated"]
	plain, _ := generate(t, m, prompt, nemotron.GenerateOptions{MaxTokens: 30, EOS: []int32{}})
	for _, i := range []int{5, 11, 17} {
		eos := plain[i]
		want := plain[:slices.Index(plain, eos)+1]
		got, g := generate(t, m, prompt, nemotron.GenerateOptions{MaxTokens: 30, EOS: []int32{eos}, Lookup: 6})
		if fmt.Sprint(got) != fmt.Sprint(want) || g.Stop != nemotron.StopEOS {
			t.Errorf("eos %d: %v (%v), want %v", eos, got, g.Stop, want)
		}
	}
	for _, n := range []int{1, 7, 13} {
		got, g := generate(t, m, prompt, nemotron.GenerateOptions{MaxTokens: n, EOS: []int32{}, Lookup: 6})
		if fmt.Sprint(got) != fmt.Sprint(plain[:n]) || g.Stop != nemotron.StopMaxTokens {
			t.Errorf("max %d: %v (%v), want %v", n, got, g.Stop, plain[:n])
		}
	}
	var got []int32
	g, err := m.Generate(context.Background(), prompt, nemotron.GenerateOptions{MaxTokens: 30, EOS: []int32{}, Lookup: 6}, func(id int32, _ bool) bool {
		got = append(got, id)
		return len(got) < 9
	})
	if err != nil || g.Stop != nemotron.StopRequested || fmt.Sprint(got) != fmt.Sprint(plain[:9]) || g.Tokens != 9 {
		t.Errorf("stopped after 9: %v %+v %v", got, g, err)
	}
}

// In fast precision a generation with prompt lookup runs and ends as plain decoding does;
// its greedy ids are plain decoding's too, the verified rows' logits being the same bits
// there as well (TestLookupPassBitIdentical).
func TestLookupFast(t *testing.T) {
	b, err := cpu.New(backend.Options{Threads: 2, Precision: backend.Fast})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	m := goldentest.LoadModel(t, goldentest.Dir(1, "small-c"), b)
	for pname, prompt := range lookupPrompts(m) {
		opts := nemotron.GenerateOptions{MaxTokens: 40, EOS: []int32{}}
		want, _ := generate(t, m, prompt, opts)
		opts.Lookup = 8
		got, g := generate(t, m, prompt, opts)
		if g.Stop != nemotron.StopMaxTokens || len(got) != 40 {
			t.Errorf("%s: %d tokens, %v", pname, len(got), g.Stop)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: greedy ids with lookup differ:\n got %v\nwant %v", pname, got, want)
		}
		t.Logf("%s: %d of %d drafts accepted", pname, g.Accepted, g.Drafted)
	}
}
