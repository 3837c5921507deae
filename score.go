package minitron

import (
	"context"

	"github.com/minitron-go/minitron/nemotron"
)

// Scoring asks the model how likely a text is, token by token: what evaluation harnesses
// (lm-evaluation-harness's loglikelihood tasks) and perplexity measurements need.
type (
	ScoreOptions = nemotron.ScoreOptions // Top: how many alternatives each position reports
	TokenScore   = nemotron.TokenScore   // one token's log-probability, greedy flag, alternatives
	Scores       = nemotron.Scores       // a sequence's scores, with LogLikelihood and Perplexity
)

// Score tokenizes text (with BOS as the checkpoint asks) and scores every token given those
// before it, the first one unscored: its log-probability in float64, whether it was the
// greedy choice, and opts.Top alternatives. The logits are consumed 16 positions at a time,
// so a text as long as the context costs no more host memory than a short one. Empty text
// and text longer than the context are ErrBadInput, options out of range ErrBadOption.
func (m *Model) Score(ctx context.Context, text string, opts ScoreOptions) (Scores, error) {
	if text == "" {
		return nil, nemotron.BadInput("empty text")
	}
	return m.ScoreIDs(ctx, m.Tokenizer.Encode(text), 0, opts)
}

// ScoreIDs scores token ids from position from on (see nemotron.Model.Score); lm-evaluation-
// harness's request, context and continuation, is the ids of both with from at the
// continuation's first token.
func (m *Model) ScoreIDs(ctx context.Context, ids []int32, from int, opts ScoreOptions) (Scores, error) {
	return m.net.Score(ctx, ids, from, opts)
}

// ScoreContinuations scores each continuation after the same context, running the context
// once (see nemotron.Model.ScoreContinuations): scores[i] are those ScoreIDs gives for
// context+continuations[i] from len(context), positions counted from the context's start.
// lm-evaluation-harness asks exactly this of a multiple-choice question: one context, the
// log-likelihood of each answer.
func (m *Model) ScoreContinuations(ctx context.Context, context []int32, continuations [][]int32, opts ScoreOptions) ([]Scores, error) {
	return m.net.ScoreContinuations(ctx, context, continuations, opts)
}
