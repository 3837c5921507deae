package nemotron

import (
	"context"
	"iter"
)

// LogitBlock is a block of consecutive rows of logits: Rows holds len(Rows)/vocab rows, row j
// the next-token distribution after the token at position Pos+j of the ids a State was given.
type LogitBlock struct {
	Pos  int
	Rows []float32
}

// N is the number of rows in the block.
func (b LogitBlock) N(vocab int) int { return len(b.Rows) / vocab }

// LogitRows appends ids to the sequence, as Score does, and yields the logits of positions
// from…len(ids)−1 in order, at most 16 (logitRows) rows a block: what a caller needs that
// compares the full distributions of two models (KL divergence), which Score's summaries do
// not give. The host holds one block however long ids are; a block's Rows are overwritten
// by the next, so copy what must outlive the step.
//
// Blocks follow the passes (DefaultChunk positions, or the State's length when shorter) and,
// within one, runs of 16 rows from from: two States of the same length given the same ids
// and from yield blocks of the same positions, whatever their models, so that iter.Pull on
// both walks them in step.
//
// The errors are Score's (refused before any work: no ids, an id outside the vocabulary,
// from outside 0…len(ids)−1, more ids than the State has room for), and ctx's when it is
// cancelled (checked between layers and between blocks; the State then holds part of ids).
// An error is yielded once, last, with an empty block. Breaking out of the loop stops
// between blocks.
func (s *State) LogitRows(ctx context.Context, ids []int32, from int) iter.Seq2[LogitBlock, error] {
	return func(yield func(LogitBlock, error) bool) {
		if err := s.logitRows(ctx, ids, from, yield); err != nil {
			yield(LogitBlock{Pos: -1}, err)
		}
	}
}

// logitRows is LogitRows' loop; it returns nil when yield stops it.
func (s *State) logitRows(ctx context.Context, ids []int32, from int, yield func(LogitBlock, error) bool) error {
	c := s.m.Config
	if err := checkScore(c, ids, from, ScoreOptions{}); err != nil {
		return err
	}
	if s.pos+len(ids) > s.maxLen {
		return BadInput("logits: %d tokens after %d exceed the context of %d", len(ids), s.pos, s.maxLen)
	}
	vocab := c.VocabSize
	if need := min(logitRows, s.chunk) * vocab; cap(s.hostLogits) < need {
		s.hostLogits = make([]float32, need)
	}
	buf := s.hostLogits[:cap(s.hostLogits)]
	for start := 0; start < len(ids); start += s.chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+s.chunk, len(ids))
		s.one[0] = seqRows{s: s, lo: 0, hi: end - start}
		if err := s.forward(ctx, ids[start:end], nil); err != nil {
			return err
		}
		for i := max(start, from); i < end; i += logitRows {
			if err := ctx.Err(); err != nil {
				return err
			}
			e := min(i+logitRows, end)
			rows := buf[:(e-i)*vocab]
			if err := s.headRows(rows, i-start, e-start); err != nil {
				return err
			}
			if !yield(LogitBlock{Pos: i, Rows: rows}, nil) {
				return nil
			}
		}
	}
	return nil
}
