package minitron

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
)

// The text API scores what the tokenizer makes of the text, exactly as the ids API does.
func TestScoreText(t *testing.T) {
	m, err := Load("testdata/models/tiny-a", Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	text := "Once upon a time there was a model that scored its own prompts."
	ids := m.Tokenizer.Encode(text)
	got, err := m.Score(ctx, text, ScoreOptions{Top: 3})
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.ScoreIDs(ctx, ids, 0, ScoreOptions{Top: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) || got[0].Scored || !got[1].Scored {
		t.Fatalf("%d scores for %d tokens, first %+v", len(got), len(ids), got[0])
	}
	for i := range got {
		if got[i].ID != ids[i] || got[i].Logprob != want[i].Logprob || got[i].Greedy != want[i].Greedy || len(got[i].Top) != len(want[i].Top) {
			t.Errorf("position %d: %+v, by ids %+v", i, got[i], want[i])
		}
	}
	sum, n := got.LogLikelihood()
	if n != len(ids)-1 || !(sum < 0) {
		t.Errorf("log-likelihood %v over %d tokens", sum, n)
	}
	if err := near.Check([]float64{got.Perplexity()}, []float64{math.Exp(-sum / float64(n))}, 1e-9); err != nil {
		t.Error(err)
	}
	if _, err := m.Score(ctx, "", ScoreOptions{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("empty text: %v", err)
	}
	if _, err := m.Score(ctx, text, ScoreOptions{Top: -1}); !errors.Is(err, ErrBadOption) {
		t.Errorf("negative top: %v", err)
	}
}

// Continuations of one context score as the whole sequences do, within the chunking tolerance.
func TestScoreContinuations(t *testing.T) {
	m, err := Load("testdata/models/tiny-a", Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	question := m.Tokenizer.Encode("Question: what did the model score? Answer:")
	answers := [][]int32{m.Tokenizer.Encode(" its own prompts")[1:], m.Tokenizer.Encode(" nothing at all, said the harness")[1:]}
	got, err := m.ScoreContinuations(ctx, question, answers, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range answers {
		want, err := m.ScoreIDs(ctx, append(append([]int32(nil), question...), a...), len(question), ScoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g, _ := got[i].LogLikelihood()
		w, n := want.LogLikelihood()
		if len(got[i]) != len(a) || n != len(a) || math.Abs(g-w) > 1e-4 {
			t.Errorf("answer %d: log-likelihood %v over %d tokens, whole %v over %d", i, g, len(got[i]), w, n)
		}
	}
	if _, err := m.ScoreContinuations(ctx, question, [][]int32{nil}, ScoreOptions{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("an empty continuation: %v", err)
	}
}
