package nemotron_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
	"github.com/minitron-go/minitron/tensor"
)

// scoreTolerance bounds |log-probability − reference|: each is a logit minus a log-sum-exp,
// so it carries the logits' error (exact's 1e-4; measured ≤ 1.5e-5) about twice over at most.
const scoreTolerance = 1e-4

// greedyMargin is the reference's lead of its top logit over the runner-up above which the
// greedy flag must agree with the reference's argmax: twice the largest logit error allowed.
const greedyMargin = 2 * 1e-4

// Score equals the float64 log-softmax of the golden logits at every position of every case
// (prompts of 20 to 53 tokens: up to four blocks of 16 rows of logits), its greedy flags the
// reference's argmax wherever the reference's top two are apart, its top-N the reference's.
func TestScoreGolden(t *testing.T) {
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			g := goldentest.Load(t, goldentest.Dir(1, name))
			worst := goldentest.CheckScore(t, loadModel(t, name, 2), g, scoreTolerance, greedyMargin)
			t.Logf("%s exact on %s: max |logprob error| %.3g", name, tensor.Active().Level, worst)
		})
	}
}

// The sums the command and an evaluation report.
func TestScoresLogLikelihood(t *testing.T) {
	s := nemotron.Scores{{Pos: 0}, {Pos: 1, Scored: true, Logprob: -1}, {Pos: 2, Scored: true, Logprob: -3}}
	if sum, n := s.LogLikelihood(); sum != -4 || n != 2 {
		t.Errorf("log-likelihood %v over %d, want -4 over 2", sum, n)
	}
	if err := near.Check([]float64{s.Perplexity()}, []float64{math.Exp(2)}, 1e-12); err != nil {
		t.Error(err)
	}
	if p := s[:1].Perplexity(); !math.IsNaN(p) {
		t.Errorf("perplexity of nothing scored: %v, want NaN", p)
	}
}

// State.Score leaves the sequence in the state and returns the logits after it, as Forward
// does: generation can continue from a scored prompt.
func TestStateScoreContinues(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	g := goldentest.Load(t, goldentest.Dir(1, "small-c"))
	c := g.Cases[2] // 50 tokens
	vocab := m.Config.VocabSize
	logits := g.Tensor(t, c.Name+".logits")
	s, err := m.NewState(len(c.IDs) + 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	calls := 0
	next, err := s.Score(context.Background(), c.IDs, 40, nemotron.ScoreOptions{}, func(ts nemotron.TokenScore) {
		if ts.Pos != 40+calls || ts.Top != nil {
			t.Errorf("call %d: %+v", calls, ts)
		}
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(c.IDs)-40 || s.Pos() != len(c.IDs) {
		t.Errorf("%d calls, state at %d; want %d, %d", calls, s.Pos(), len(c.IDs)-40, len(c.IDs))
	}
	if err := near.Check(next, logits[(len(c.IDs)-1)*vocab:], 1e-4); err != nil {
		t.Errorf("logits after the prompt: %v", err)
	}
	if _, err := s.Forward(context.Background(), []int32{5}, nemotron.LastLogits, nil); err != nil {
		t.Error(err)
	}
}

func TestScoreErrors(t *testing.T) {
	m := loadModel(t, "tiny-a", 1)
	vocab := int32(m.Config.VocabSize)
	ctx := context.Background()
	ids := []int32{2, 5, 7}
	tests := []struct {
		name string
		ids  []int32
		from int
		top  int
		kind error
	}{
		{"no ids", nil, 0, 0, nemotron.ErrBadInput},
		{"negative from", ids, -1, 0, nemotron.ErrBadInput},
		{"from past the end", ids, 3, 0, nemotron.ErrBadInput},
		{"id past the vocabulary", []int32{2, vocab}, 0, 0, nemotron.ErrBadInput},
		{"negative id", []int32{2, -1}, 0, 0, nemotron.ErrBadInput},
		{"longer than the context", make([]int32, m.Config.MaxPositions+1), 0, 0, nemotron.ErrBadInput},
		{"negative top", ids, 0, -1, nemotron.ErrBadOption},
		{"top past the vocabulary", ids, 0, int(vocab) + 1, nemotron.ErrBadOption},
	}
	for _, tt := range tests {
		if _, err := m.Score(ctx, tt.ids, tt.from, nemotron.ScoreOptions{Top: tt.top}); !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
		}
	}
	if s, err := m.Score(ctx, ids, 0, nemotron.ScoreOptions{Top: int(vocab)}); err != nil || len(s[1].Top) != int(vocab) {
		t.Errorf("top = vocabulary: %v", err)
	}

	s, err := m.NewState(4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Score(ctx, []int32{2, 5, 7, 9, 11}, 0, nemotron.ScoreOptions{}, func(nemotron.TokenScore) {}); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("more ids than the state holds: %v", err)
	}
	if s.Pos() != 0 {
		t.Errorf("a refused Score moved the state to %d", s.Pos())
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Score(cancelled, ids, 0, nemotron.ScoreOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// Cancelling stops the scoring between blocks of logits, not after the whole prompt.
func TestScoreCancelBetweenBlocks(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	ids := make([]int32, 200)
	for i := range ids {
		ids[i] = int32(2 + 31*i%4000)
	}
	s, err := m.NewState(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = s.Score(ctx, ids, 1, nemotron.ScoreOptions{}, func(nemotron.TokenScore) {
		calls++
		cancel()
	})
	if !errors.Is(err, context.Canceled) || calls > 16 {
		t.Errorf("cancelled at the first score: %v after %d scores", err, calls)
	}
}

// Scoring a long prompt allocates a small fraction of what its logits would take on the host
// (len·vocab float32): logits come 16 rows at a time into one buffer the State keeps.
func TestScoreAllocatesNoFullLogits(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	ids := make([]int32, 480)
	for i := range ids {
		ids[i] = int32(2 + 97*i%4000)
	}
	full := uint64(len(ids) * m.Config.VocabSize * 4)
	s, err := m.NewState(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// The backend grows its own scratch at its first pass of this length: not Score's doing.
	if _, err := s.Forward(ctx, ids, nemotron.NoLogits, nil); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	n := 0
	count := func(nemotron.TokenScore) { n++ }
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := s.Score(ctx, ids, 0, nemotron.ScoreOptions{Top: 5}, count); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	bytes := after.TotalAlloc - before.TotalAlloc
	if n != len(ids) {
		t.Fatalf("%d scores, want %d", n, len(ids))
	}
	if bytes > full/8 {
		t.Errorf("scoring %d tokens allocated %d bytes; the full logits are %d", len(ids), bytes, full)
	}
	// Again on the same State, with its buffer in place: a few small objects per block of 16
	// positions (views of the scratch, the goroutines scoring its rows), none of them logits.
	allocs := testing.AllocsPerRun(2, func() {
		s.Reset()
		if _, err := s.Score(ctx, ids, 0, nemotron.ScoreOptions{Top: 5}, count); err != nil {
			t.Fatal(err)
		}
	})
	blocks := float64((len(ids) + 15) / 16)
	if allocs > (8+2*float64(runtime.GOMAXPROCS(0)))*blocks {
		t.Errorf("%.0f allocations to rescore %d tokens (%.0f blocks of logits)", allocs, len(ids), blocks)
	}
	t.Logf("first score of %d tokens: %d bytes allocated (full logits %d); then %.0f allocations", len(ids), bytes, full, allocs)
}
