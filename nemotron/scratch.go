package nemotron

import (
	"errors"
	"fmt"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// scratch is the activations of one pass through the network, for up to rows positions
// stacked: one sequence's chunk of prompt, or the new rows of a whole batch.
type scratch struct {
	b    backend.Backend
	rows int

	x      backend.Tensor // (rows, hidden) the residual stream
	h      backend.Tensor // (rows, hidden) normalised input of a block, then its output
	qkv    backend.Tensor // (rows, (heads+2·kv_heads)·head_dim) queries, keys and values
	q, att backend.Tensor // (rows, heads·head_dim) the queries turned, attention's output
	up     backend.Tensor // (rows, intermediate)
	hl     backend.Tensor // (logitRows, hidden) the rows whose logits are asked for, gathered
	logits backend.Tensor // (logitRows, vocab)

	// Views of the above, made once and kept: rows [lo, hi) (a pass, or a sequence's part
	// of it), single rows of h, and the first rows of hl and logits.
	views   map[[2]int]*views
	dst     [logitRows][]float32 // where each gathered row's logits go
	next    [logitRows]*int32    // or its largest logit's id (NextToken)
	ids     [logitRows]int32     // the ids found
	hRow    []backend.Tensor
	hl1, l1 []backend.Tensor

	hostRows []float32 // for observers
}

// views are rows of a scratch: qkv, q and att are what attention needs of one sequence.
type views struct {
	x, h, qkv, q, att, up backend.Tensor
}

// newScratch allocates the scratch of passes of up to rows positions.
func (m *Model) newScratch(rows int) (*scratch, error) {
	c, b := m.Config, m.b
	sc := &scratch{b: b, rows: rows, views: map[[2]int]*views{}}
	var errs []error
	alloc := func(shape ...int) backend.Tensor {
		t, err := b.Alloc(tensor.F32, shape...)
		errs = append(errs, err)
		return t
	}
	lr := min(logitRows, rows)
	sc.x = alloc(rows, c.Hidden)
	sc.h = alloc(rows, c.Hidden)
	sc.qkv = alloc(rows, c.QDim()+2*c.KVDim())
	sc.q = alloc(rows, c.QDim())
	sc.att = alloc(rows, c.QDim())
	sc.up = alloc(rows, c.Intermediate)
	sc.hl = alloc(lr, c.Hidden)
	sc.logits = alloc(lr, c.VocabSize)
	if err := errors.Join(errs...); err != nil {
		sc.free()
		return nil, fmt.Errorf("allocating scratch for %d positions: %w", rows, err)
	}
	sc.hRow = make([]backend.Tensor, rows)
	sc.hl1, sc.l1 = make([]backend.Tensor, lr+1), make([]backend.Tensor, lr+1)
	return sc, nil
}

func (sc *scratch) free() {
	for _, t := range []backend.Tensor{sc.x, sc.h, sc.qkv, sc.q, sc.att, sc.up, sc.hl, sc.logits} {
		if t != nil {
			sc.b.Free(t)
		}
	}
}

// rowsOf returns the views of rows [lo, hi). Decoding passes the same rows step after step,
// so they are made once, not on every pass.
func (sc *scratch) rowsOf(lo, hi int) *views {
	if r := sc.views[[2]int{lo, hi}]; r != nil {
		return r
	}
	b := sc.b
	r := &views{
		x: b.Rows(sc.x, lo, hi), h: b.Rows(sc.h, lo, hi), qkv: b.Rows(sc.qkv, lo, hi),
		q: b.Rows(sc.q, lo, hi), att: b.Rows(sc.att, lo, hi), up: b.Rows(sc.up, lo, hi),
	}
	if len(sc.views) >= 4096 { // a bound on the views kept, however prompts are chunked
		clear(sc.views)
	}
	sc.views[[2]int{lo, hi}] = r
	return r
}

// hRowAt is row i of h.
func (sc *scratch) hRowAt(i int) backend.Tensor {
	if sc.hRow[i] == nil {
		sc.hRow[i] = sc.b.Rows(sc.h, i, i+1)
	}
	return sc.hRow[i]
}

// headRows are the first n rows of hl and of logits.
func (sc *scratch) headRows(n int) (hl, logits backend.Tensor) {
	if sc.hl1[n] == nil {
		sc.hl1[n], sc.l1[n] = sc.b.Rows(sc.hl, 0, n), sc.b.Rows(sc.logits, 0, n)
	}
	return sc.hl1[n], sc.l1[n]
}

func (sc *scratch) hostLogits(n int) []float32 {
	if cap(sc.hostRows) < n {
		sc.hostRows = make([]float32, n)
	}
	return sc.hostRows[:n]
}

func (sc *scratch) observe(obs Observer, name string, t backend.Tensor, pos, n int) error {
	if obs == nil {
		return nil
	}
	data := sc.hostLogits(n * t.Shape()[1])
	if err := sc.b.Read(data, t); err != nil {
		return err
	}
	obs(name, pos, n, data)
	return nil
}
