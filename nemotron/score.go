package nemotron

import (
	"context"
	"math"
	"runtime"
	"sync"
)

// ScoreOptions configure Score.
type ScoreOptions struct {
	// Top is how many of the most likely tokens each scored position also reports (OpenAI's
	// logprobs=N); 0 reports none. At most the vocabulary.
	Top int
}

func (o ScoreOptions) validate(vocab int) error {
	if o.Top < 0 || o.Top > vocab {
		return BadOption("top %d is outside 0…%d (the vocabulary)", o.Top, vocab)
	}
	return nil
}

// TokenScore is what the model made of one token of a sequence, given the tokens before it.
type TokenScore struct {
	Pos int   // the token's index in the scored ids
	ID  int32 // the token
	// Scored is false for the first token, which no logits precede (OpenAI's echo gives it a
	// null log-probability); Logprob, Greedy and Top are then zero.
	Scored bool
	// Logprob is log P(ID | the tokens before it): the log-softmax, in float64, of the float32
	// logits.
	Logprob float64
	// Greedy says ID is the argmax of those logits, the first among equals (as torch.argmax).
	Greedy bool
	// Top are the ScoreOptions.Top most likely tokens, most likely first, equals by lower id.
	// A greedy token's Logprob equals Top[0].Logprob exactly.
	Top []TokenLogprob
}

// Scores are the positions of one sequence that Score reported, in order.
type Scores []TokenScore

// LogLikelihood is the sum of the scored positions' log-probabilities, and how many there are.
func (s Scores) LogLikelihood() (sum float64, n int) {
	for _, t := range s {
		if t.Scored {
			sum += t.Logprob
			n++
		}
	}
	return sum, n
}

// Perplexity is exp(−mean log-probability) over the scored positions; NaN when there are none.
func (s Scores) Perplexity() float64 {
	sum, n := s.LogLikelihood()
	if n == 0 {
		return math.NaN()
	}
	return math.Exp(-sum / float64(n))
}

// Score runs ids through a State of its own, sized for them, and returns the scores of
// positions from…len(ids)-1 (the first of them unscored when from is 0). See State.Score for
// the errors and for what is computed.
func (m *Model) Score(ctx context.Context, ids []int32, from int, opts ScoreOptions) (Scores, error) {
	// Check before allocating a State, whose own checks would name the context, not the input.
	if err := checkScore(m.Config, ids, from, opts); err != nil {
		return nil, err
	}
	s, err := m.NewState(len(ids))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := make(Scores, 0, len(ids)-from)
	tops := make([]TokenLogprob, 0, (len(ids)-from)*opts.Top) // one array for every position's Top
	_, err = s.Score(ctx, ids, from, opts, func(t TokenScore) {
		start := len(tops)
		tops = append(tops, t.Top...)
		if t.Top != nil {
			t.Top = tops[start:len(tops):len(tops)]
		}
		out = append(out, t)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func checkScore(c Config, ids []int32, from int, opts ScoreOptions) error {
	if err := opts.validate(c.VocabSize); err != nil {
		return err
	}
	if len(ids) == 0 {
		return BadInput("score: no tokens")
	}
	for i, id := range ids {
		if id < 0 || int(id) >= c.VocabSize {
			return BadInput("score: token %d at index %d is outside the vocabulary of %d", id, i, c.VocabSize)
		}
	}
	if from < 0 || from >= len(ids) {
		return BadInput("score: from %d is outside the %d tokens (0…%d)", from, len(ids), len(ids)-1)
	}
	if len(ids) > c.MaxPositions {
		return BadInput("score: %d tokens exceed the context of %d (max_position_embeddings)", len(ids), c.MaxPositions)
	}
	return nil
}

// Score appends ids to the sequence, as Forward does, and calls fn, in order, with the score
// of each token ids[p], p ≥ from: its log-probability given the sequence before it, whether
// it was the greedy choice, and the opts.Top most likely tokens. ids[0] is reported unscored
// (from 0 only): the logits before it belong to an earlier call, if any. It returns the
// logits after the last id, as Forward with LastLogits does: a caller can go on to generate.
//
// Logits are computed logitRows (16) positions at a time and consumed at once, so the host
// holds at most 16 rows of them however long the sequence; positions before from−1 get none.
// fn's TokenScore.Top is reused after the call returns: copy it to keep it.
//
// Options out of range are ErrBadOption; no ids, an id outside the vocabulary, from outside
// 0…len(ids)−1 and more ids than the context has room for are ErrBadInput, refused before
// any work. Cancelling ctx stops between layers, returning ctx's error; the State then holds
// part of ids.
func (s *State) Score(ctx context.Context, ids []int32, from int, opts ScoreOptions, fn func(TokenScore)) ([]float32, error) {
	c := s.m.Config
	if err := checkScore(c, ids, from, opts); err != nil {
		return nil, err
	}
	if s.pos+len(ids) > s.maxLen {
		return nil, BadInput("score: %d tokens after %d exceed the context of %d", len(ids), s.pos, s.maxLen)
	}
	vocab := c.VocabSize
	if need := min(logitRows, s.chunk) * vocab; cap(s.hostLogits) < need {
		s.hostLogits = make([]float32, need)
	}
	buf := s.hostLogits[:cap(s.hostLogits)]
	bs := newBlockScorer(min(logitRows, s.chunk), opts.Top)

	if from == 0 {
		fn(TokenScore{Pos: 0, ID: ids[0]})
	}
	// Row q's logits are the distribution of ids[q+1]; the last row's, of the token after ids.
	first := max(from, 1) - 1
	var next []float32
	for start := 0; start < len(ids); start += s.chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+s.chunk, len(ids))
		s.one[0] = seqRows{s: s, lo: 0, hi: end - start}
		if err := s.forward(ctx, ids[start:end], nil); err != nil {
			return nil, err
		}
		for i := max(start, first); i < end; i += logitRows {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			e := min(i+logitRows, end)
			rows := buf[:(e-i)*vocab]
			if err := s.headRows(rows, i-start, e-start); err != nil {
				return nil, err
			}
			scored := min(e, len(ids)-1) - i
			for _, ts := range bs.score(rows, vocab, i+1, ids[i+1:i+1+scored]) {
				fn(ts)
			}
			if e == len(ids) {
				next = buf[:vocab]
				copy(next, rows[(e-1-i)*vocab:])
			}
		}
	}
	return next, nil
}

// blockScorer scores the rows of a block of logits on every core: at the 4B model's vocabulary
// of 256,000 a row takes about 3 ms on one core (BenchmarkRowScore256k on an AMD EPYC Zen 4),
// more than a GPU takes to compute it, and the backend is idle while it runs.
type blockScorer struct {
	rows   []*rowScorer // one per row of a block, each with its own top buffer
	scores []TokenScore
}

func newBlockScorer(rows, top int) *blockScorer {
	bs := &blockScorer{scores: make([]TokenScore, rows)}
	for range rows {
		bs.rows = append(bs.rows, newRowScorer(top))
	}
	return bs
}

// score scores ids[j] at position pos0+j under row j of logits, and returns the scores, valid
// until the next call.
func (bs *blockScorer) score(logits []float32, vocab, pos0 int, ids []int32) []TokenScore {
	out := bs.scores[:len(ids)]
	one := func(j int) {
		out[j] = TokenScore{Pos: pos0 + j, ID: ids[j]}
		bs.rows[j].score(&out[j], logits[j*vocab:(j+1)*vocab], ids[j])
	}
	workers := min(len(ids), runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for j := range ids {
			one(j)
		}
		return out
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < len(ids); j += workers {
				one(j)
			}
		})
	}
	wg.Wait()
	return out
}

// headRows computes the logits of rows lo…hi−1 (at most logitRows) of the last pass into dst:
// LN_f(x)·W_headᵀ, from the final norm that a pass leaves in the scratch's h.
func (s *State) headRows(dst []float32, lo, hi int) error {
	b, sc := s.m.b, s.sc
	lg := b.Rows(sc.logits, 0, hi-lo)
	b.MatMul(lg, b.Rows(sc.h, lo, hi), s.m.w.head)
	return b.Read(dst, lg)
}
