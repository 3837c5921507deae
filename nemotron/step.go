package nemotron

import "context"

// A Batch advances several States in one pass through the network. Their new positions (one
// for a sequence being decoded, a chunk of prompt for one still reading it) are stacked for
// every matrix product, so each weight is read once per step however many sequences share
// it; each sequence attends over its own KV cache. It is the same pass as State.Forward,
// which is a batch of one.
//
// A Batch holds the scratch for Rows stacked positions, allocated once; it is used by one
// goroutine at a time, and the States in a step must not be used elsewhere during it.
type Batch struct {
	m    *Model
	sc   *scratch
	ids  []int32   // the step's tokens, stacked
	seqs []seqRows // whose rows are whose
	host []float32 // the logits asked for, all sequences' one after another
	next []int32   // the ids NextToken asked for, by sequence
}

// Advance is one sequence's part of a step.
type Advance struct {
	State *State
	IDs   []int32 // the tokens it appends, at positions State.Pos()…
	// Want is LastLogits (next-token distribution), AllLogits (one row per id), NoLogits, or
	// NextToken (Next alone).
	Want Logits
	// Logits is set by Step to the logits asked for; it belongs to the Batch and is
	// overwritten by the next Step.
	Logits []float32
	// Next is set by Step, with Want NextToken, to the most likely token after IDs.
	Next int32
}

// NewBatch allocates a batch for steps of up to rows positions in all.
func (m *Model) NewBatch(rows int) (*Batch, error) {
	if rows < 1 {
		return nil, BadInput("a batch of %d rows", rows)
	}
	sc, err := m.newScratch(rows)
	if err != nil {
		return nil, err
	}
	return &Batch{m: m, sc: sc}, nil
}

// Rows is the most positions one step takes.
func (b *Batch) Rows() int { return b.sc.rows }

// Close frees the batch's scratch.
func (b *Batch) Close() {
	if b.sc != nil {
		b.sc.free()
		b.sc = nil
	}
}

// Step appends each Advance's IDs to its State in one pass and sets its Logits. The step is
// checked whole before it runs: a bad token, a sequence past its context, a State given twice
// or more positions than Rows are ErrBadInput and change nothing. Cancelling ctx stops the
// pass between layers, leaving every State where it was.
func (b *Batch) Step(ctx context.Context, adv []Advance) error {
	c := b.m.Config
	if len(adv) == 0 {
		return BadInput("step: no sequences")
	}
	total, logitRows := 0, 0
	for i, a := range adv {
		s := a.State
		switch {
		case s == nil || s.m != b.m:
			return BadInput("step: sequence %d has no state of this model", i)
		case s.k == nil:
			return BadInput("step: sequence %d: the state is closed", i)
		case len(a.IDs) == 0:
			return BadInput("step: sequence %d: no tokens", i)
		case s.pos+len(a.IDs) > s.maxLen:
			return BadInput("step: sequence %d: %d tokens after %d exceed the context of %d", i, len(a.IDs), s.pos, s.maxLen)
		}
		for j, id := range a.IDs {
			if id < 0 || int(id) >= c.VocabSize {
				return BadInput("step: sequence %d: token %d at index %d is outside the vocabulary of %d", i, id, j, c.VocabSize)
			}
		}
		for j, o := range adv[:i] {
			if o.State == s {
				return BadInput("step: sequence %d: its state is also sequence %d's", i, j)
			}
		}
		total += len(a.IDs)
		logitRows += a.Want.rows(len(a.IDs))
	}
	if total > b.sc.rows {
		return BadInput("step: %d positions exceed the batch's %d", total, b.sc.rows)
	}

	if cap(b.host) < logitRows*c.VocabSize {
		b.host = make([]float32, logitRows*c.VocabSize)
	}
	if len(b.next) < len(adv) {
		b.next = make([]int32, len(adv))
	}
	b.ids, b.seqs = b.ids[:0], b.seqs[:0]
	off := 0
	for _, a := range adv {
		n := a.Want.rows(len(a.IDs)) * c.VocabSize
		sq := seqRows{s: a.State, lo: len(b.ids), hi: len(b.ids) + len(a.IDs), dst: b.host[off : off+n : off+n]}
		if a.Want == NextToken {
			sq.next = &b.next[len(b.seqs)]
		}
		b.seqs = append(b.seqs, sq)
		b.ids = append(b.ids, a.IDs...)
		off += n
	}
	if err := b.m.pass(ctx, b.sc, b.ids, b.seqs, nil); err != nil {
		return err
	}
	for i := range adv {
		adv[i].Logits = b.seqs[i].dst
		if adv[i].Want == NextToken {
			adv[i].Next = b.next[i]
		}
	}
	return nil
}

// rows is how many rows of logits a pass of n positions returns to the host.
func (w Logits) rows(n int) int {
	switch w {
	case AllLogits:
		return n
	case NoLogits, NextToken:
		return 0
	}
	return 1
}
