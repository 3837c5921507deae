package nemotron

import (
	"context"
	"slices"

	"github.com/minitron-go/minitron/tensor"
)

// Shared prefixes. A prompt that begins with tokens another sequence has already run (the
// few-shot examples of an evaluation, one document scored against several continuations)
// need not run them again: their keys and values depend only on those tokens and their
// positions, so a State can take them from another State's cache (CopyPrefix), or go back to
// them in its own (Truncate). In exact precision the rows are the same numbers as computing
// them would give when they were computed by the same kernels, and what follows is
// bit-identical wherever it takes the same kernels as computing the whole would have. The CPU
// backend has two of each (for matrix products under four rows, for attention under 16), so
// on it a prefix and the rest of the prompt must each run 16 rows or more at once for the
// bits to match; otherwise they match within the chunked-prefill tolerance (TestChunkedPrefill).

// KVRowBytes is the memory one position of a State's KV cache takes: the keys and values of
// every layer, in float32 (KVRowBytesOf for the other dtypes).
func (m *Model) KVRowBytes() int64 { return m.KVRowBytesOf(tensor.F32) }

// CopyPrefix makes s hold the first n positions of src, as if it had run src's first n
// tokens: their keys and values are copied into s's cache, not recomputed, and s goes on
// from position n. What s held before is forgotten. n outside 0…src.Pos() or beyond s's
// context is ErrBadInput.
func (s *State) CopyPrefix(src *State, n int) error {
	switch {
	case src == nil || src.m != s.m || src.k == nil:
		return BadInput("copy prefix: no open state of this model to copy from")
	case s.k == nil:
		return BadInput("copy prefix: the state is closed")
	case n < 0 || n > src.pos:
		return BadInput("copy prefix: %d positions of a state holding %d", n, src.pos)
	case n > s.maxLen:
		return BadInput("copy prefix: %d positions exceed the context of %d", n, s.maxLen)
	}
	if src != s && n > 0 {
		b := s.m.b
		for l := range s.k {
			b.Copy(s.k[l], 0, b.Rows(src.k[l], 0, n))
			b.Copy(s.v[l], 0, b.Rows(src.v[l], 0, n))
		}
		if err := b.Sync(); err != nil {
			return err
		}
	}
	s.pos = n
	return nil
}

// Truncate forgets the positions from n on: the sequence goes on from its first n tokens,
// whose cache rows are kept (scoring several continuations of one context). n outside
// 0…Pos() is ErrBadInput.
func (s *State) Truncate(n int) error {
	if n < 0 || n > s.pos {
		return BadInput("truncate to %d positions of %d", n, s.pos)
	}
	s.pos = n
	return nil
}

// CommonPrefix is the number of leading tokens a and b share.
func CommonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// ScoreContinuations scores each continuation after the same prefix (the request's context),
// running the prefix once: the scores of continuation i are those of Score(ctx,
// prefix+continuations[i], len(prefix), opts), positions counted from the prefix's first
// token. This is lm-evaluation-harness's loglikelihood request: one context, several
// candidate answers.
//
// The prefix's tokens but its last run once; each continuation then runs after that last
// token, so that its first token is scored. The results equal Score's bit for bit where the
// two take the same kernels (in exact precision on the CPU, a prefix of 17 tokens or more and
// continuations of 15 or more: see the note on shared prefixes above), and within the
// chunked-prefill tolerance otherwise.
// The errors are Score's: an empty prefix or continuation is ErrBadInput.
func (m *Model) ScoreContinuations(ctx context.Context, prefix []int32, continuations [][]int32, opts ScoreOptions) ([]Scores, error) {
	if len(prefix) == 0 {
		return nil, BadInput("score: empty prefix")
	}
	longest := 0
	for i, cont := range continuations {
		if len(cont) == 0 {
			return nil, BadInput("score: continuation %d is empty", i)
		}
		// Check as Score would, the whole sequence, before any work.
		if err := checkScore(m.Config, slices.Concat(prefix, cont), len(prefix), opts); err != nil {
			return nil, err
		}
		longest = max(longest, len(cont))
	}
	out := make([]Scores, len(continuations))
	if len(continuations) == 0 {
		return out, nil
	}
	s, err := m.NewState(len(prefix) + longest)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	shared := len(prefix) - 1
	if shared > 0 {
		if _, err := s.Forward(ctx, prefix[:shared], NoLogits, nil); err != nil {
			return nil, err
		}
	}
	ids := make([]int32, 0, 1+longest)
	for i, cont := range continuations {
		if err := s.Truncate(shared); err != nil {
			return nil, err
		}
		ids = append(append(ids[:0], prefix[shared]), cont...)
		scores := make(Scores, 0, len(cont))
		tops := make([]TokenLogprob, 0, len(cont)*opts.Top)
		_, err := s.Score(ctx, ids, 1, opts, func(t TokenScore) {
			t.Pos += shared
			start := len(tops)
			tops = append(tops, t.Top...)
			if t.Top != nil {
				t.Top = tops[start:len(tops):len(tops)]
			}
			scores = append(scores, t)
		})
		if err != nil {
			return nil, err
		}
		out[i] = scores
	}
	return out, nil
}
