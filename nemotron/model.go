// Package nemotron is the Nemotron-4 / Minitron language model: its configuration, its weights
// as Hugging Face names them, and the forward pass, written once against backend.Backend.
package nemotron

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/checkpoint"
	"github.com/minitron-go/minitron/tensor"
)

// Model is a loaded model: read-only weights on a backend, shared by any number of States.
type Model struct {
	Config Config
	b      backend.Backend
	w      *weights
	closer func() error
}

// LoadOptions configure Load.
type LoadOptions struct {
	// Progress, when set, is told the bytes of weights bound to the backend so far.
	Progress func(done, total int64)
}

// Load opens the Hugging Face checkpoint in dir (config.json and safetensors or PyTorch
// weights) and binds its weights to b.
func Load(dir string, b backend.Backend, opts LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	ck, err := checkpoint.Open(dir)
	if err != nil {
		return nil, err
	}
	m, err := NewWithProgress(cfg, ck, b, opts.Progress)
	if err != nil {
		ck.Close()
		return nil, err
	}
	m.closer = ck.Close
	return m, nil
}

// New binds the weights from src. The source must outlive the Model when the backend uses
// host memory in place (the CPU backend does).
func New(cfg Config, src Source, b backend.Backend) (*Model, error) {
	return NewWithProgress(cfg, src, b, nil)
}

// NewWithProgress is New, telling progress the bytes bound so far (progress may be nil).
func NewWithProgress(cfg Config, src Source, b backend.Backend, progress func(done, total int64)) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w, err := bindWeights(cfg, src, b, progress)
	if err != nil {
		return nil, err
	}
	return &Model{Config: cfg, b: b, w: w}, nil
}

// Backend is the backend the model runs on.
func (m *Model) Backend() backend.Backend { return m.b }

// Close releases the checkpoint files. The backend is the caller's to close.
func (m *Model) Close() error {
	if m.closer == nil {
		return nil
	}
	err := m.closer()
	m.closer = nil
	return err
}

// Logits selects which positions' logits Forward returns.
type Logits int

const (
	LastLogits Logits = iota // the next-token distribution after the last id
	AllLogits                // one row per input id
	NoLogits                 // only fill the KV cache
)

// Observer receives activations as they are computed, for parity checks: the embeddings
// ("embed"), each layer's output ("layer<L>.out") and the final norm ("final_norm"), each as
// rows [n, hidden] for positions pos0…pos0+n-1. data is only valid during the call.
type Observer func(name string, pos0, n int, data []float32)

// State is one sequence being processed: its position, its KV cache and its scratch space.
// A State is used by one goroutine at a time; States of one Model may run concurrently.
type State struct {
	m      *Model
	pos    int // tokens in the KV cache
	maxLen int
	chunk  int // the most positions one pass computes at once

	k, v []backend.Tensor // per layer: (maxLen, kv_heads·head_dim)

	x      backend.Tensor // (chunk, hidden) the residual stream
	h      backend.Tensor // (chunk, hidden) normalised input of a block, then its output
	q, att backend.Tensor // (chunk, heads·head_dim)
	kv     backend.Tensor // (2·chunk, kv_heads·head_dim) new keys, then values, for the cache
	up     backend.Tensor // (chunk, intermediate)
	logits backend.Tensor // (logitRows, vocab)
	rows   views          // the scratch above cut to the rows of the current pass

	hostLogits []float32
	hostRows   []float32 // for observers
}

// views are the first n rows of a State's scratch. Decoding passes one row after another, so
// they are made when n changes, not on every pass.
type views struct {
	n                      int
	x, h, q, att, k, v, up backend.Tensor
	lastH, logits1         backend.Tensor // h's last row, one row of logits
}

func (s *State) viewsFor(n int) *views {
	if s.rows.n == n && s.rows.x != nil {
		return &s.rows
	}
	b := s.m.b
	s.rows = views{
		n: n,
		x: b.Rows(s.x, 0, n), h: b.Rows(s.h, 0, n), q: b.Rows(s.q, 0, n), att: b.Rows(s.att, 0, n),
		k: b.Rows(s.kv, 0, n), v: b.Rows(s.kv, s.chunk, s.chunk+n), up: b.Rows(s.up, 0, n),
		lastH: b.Rows(s.h, n-1, n), logits1: b.Rows(s.logits, 0, 1),
	}
	return &s.rows
}

// logitRows bounds how many positions' logits are computed at once: a row of the 4B model's
// logits is 1 MB, a whole chunk of them would be half a gigabyte.
const logitRows = 16

// DefaultChunk is the most prompt positions a State runs through the network at once.
const DefaultChunk = 512

// NewState allocates the KV cache and scratch for sequences of up to maxLen tokens
// (max_position_embeddings when 0).
func (m *Model) NewState(maxLen int) (*State, error) {
	c := m.Config
	if maxLen == 0 {
		maxLen = c.MaxPositions
	}
	if maxLen < 0 || maxLen > c.MaxPositions {
		return nil, BadInput("context of %d tokens is outside 1…%d (max_position_embeddings)", maxLen, c.MaxPositions)
	}
	s := &State{m: m, maxLen: maxLen, chunk: min(maxLen, DefaultChunk)}
	b := m.b
	var errs []error
	alloc := func(shape ...int) backend.Tensor {
		t, err := b.Alloc(tensor.F32, shape...)
		errs = append(errs, err)
		return t
	}
	for range c.Layers {
		s.k = append(s.k, alloc(maxLen, c.KVDim()))
		s.v = append(s.v, alloc(maxLen, c.KVDim()))
	}
	s.x = alloc(s.chunk, c.Hidden)
	s.h = alloc(s.chunk, c.Hidden)
	s.q = alloc(s.chunk, c.QDim())
	s.att = alloc(s.chunk, c.QDim())
	s.kv = alloc(2*s.chunk, c.KVDim())
	s.up = alloc(s.chunk, c.Intermediate)
	s.logits = alloc(min(logitRows, s.chunk), c.VocabSize)
	if err := errors.Join(errs...); err != nil {
		s.Close()
		return nil, fmt.Errorf("allocating a state for %d tokens: %w", maxLen, err)
	}
	return s, nil
}

// Pos is the number of tokens processed so far.
func (s *State) Pos() int { return s.pos }

// MaxLen is the most tokens the state can hold.
func (s *State) MaxLen() int { return s.maxLen }

// Reset forgets the sequence, keeping the memory.
func (s *State) Reset() { s.pos = 0 }

// Close frees the state's backend memory.
func (s *State) Close() {
	for _, t := range append(append([]backend.Tensor{s.x, s.h, s.q, s.att, s.kv, s.up, s.logits}, s.k...), s.v...) {
		if t != nil {
			s.m.b.Free(t)
		}
	}
	s.k, s.v = nil, nil
}

// Forward appends ids to the sequence and returns logits as asked: those of the last
// position (vocab values), of every position (len(ids)·vocab), or none. The returned slice
// belongs to the State and is overwritten by the next call. obs may be nil.
func (s *State) Forward(ctx context.Context, ids []int32, want Logits, obs Observer) ([]float32, error) {
	c := s.m.Config
	if len(ids) == 0 {
		return nil, BadInput("forward: no tokens")
	}
	for i, id := range ids {
		if id < 0 || int(id) >= c.VocabSize {
			return nil, BadInput("forward: token %d at index %d is outside the vocabulary of %d", id, i, c.VocabSize)
		}
	}
	if s.pos+len(ids) > s.maxLen {
		return nil, BadInput("forward: %d tokens after %d exceed the context of %d", len(ids), s.pos, s.maxLen)
	}
	rows := 1
	switch want {
	case AllLogits:
		rows = len(ids)
	case NoLogits:
		rows = 0
	}
	if cap(s.hostLogits) < rows*c.VocabSize {
		s.hostLogits = make([]float32, rows*c.VocabSize)
	}
	out := s.hostLogits[:rows*c.VocabSize]
	for start := 0; start < len(ids); start += s.chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+s.chunk, len(ids))
		var dst []float32
		switch {
		case want == AllLogits:
			dst = out[start*c.VocabSize : end*c.VocabSize]
		case want == LastLogits && end == len(ids):
			dst = out
		}
		if err := s.forward(ctx, ids[start:end], dst, obs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// forward runs one chunk of n ≤ chunk tokens at positions pos…pos+n-1 through the network
// and writes logits for its last len(dst)/vocab positions into dst. It leaves the final norm
// of the n rows in s.h, from which Score computes the logits it needs (headRows).
func (s *State) forward(ctx context.Context, ids []int32, dst []float32, obs Observer) error {
	m, b, c := s.m, s.m.b, s.m.Config
	w := m.w
	n, pos := len(ids), s.pos
	eps := float32(c.NormEps)
	r := s.viewsFor(n)
	x, h, q, k, v, att, up := r.x, r.h, r.q, r.k, r.v, r.att, r.up

	b.Embed(x, w.embed, ids)
	if err := s.observe(obs, "embed", x, pos, n); err != nil {
		return err
	}
	for l, lw := range w.layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Attention: h = LN1(x); q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ; rotate q and k by position;
		// k and v join the cache at these positions, and q attends over all of it.
		b.LayerNorm1P(h, x, lw.ln1W, lw.ln1B, eps)
		b.MatMul(q, h, lw.q)
		b.MatMul(k, h, lw.k)
		b.MatMul(v, h, lw.v)
		b.Rotary(q, c.Heads, c.HeadDim, c.RotaryDims(), pos, c.RopeTheta)
		b.Rotary(k, c.KVHeads, c.HeadDim, c.RotaryDims(), pos, c.RopeTheta)
		b.Copy(s.k[l], pos, k)
		b.Copy(s.v[l], pos, v)
		b.Attention(att, q, s.k[l], s.v[l], c.Heads, c.KVHeads, pos)
		b.MatMul(h, att, lw.o)
		b.Add(x, h) // x += attention(LN1(x))·Woᵀ

		// MLP: x += relu(LN2(x)·Wupᵀ)²·Wdownᵀ
		b.LayerNorm1P(h, x, lw.ln2W, lw.ln2B, eps)
		b.MatMul(up, h, lw.up)
		b.ReLU2(up)
		b.MatMul(h, up, lw.down)
		b.Add(x, h)

		if obs != nil {
			if err := s.observe(obs, fmt.Sprintf("layer%d.out", l), x, pos, n); err != nil {
				return err
			}
		}
	}
	b.LayerNorm1P(h, x, w.normW, w.normB, eps)
	if err := s.observe(obs, "final_norm", h, pos, n); err != nil {
		return err
	}

	// Logits = LN_f(x)·W_headᵀ for the rows asked for: the last one when decoding, else a few
	// rows at a time.
	rows := len(dst) / c.VocabSize
	if rows == 1 {
		b.MatMul(r.logits1, r.lastH, w.head)
		if err := b.Read(dst, r.logits1); err != nil {
			return err
		}
	} else {
		for i := n - rows; i < n; i += logitRows {
			e := min(i+logitRows, n)
			lg := b.Rows(s.logits, 0, e-i)
			b.MatMul(lg, b.Rows(h, i, e), w.head)
			off := (i - (n - rows)) * c.VocabSize
			if err := b.Read(dst[off:off+(e-i)*c.VocabSize], lg); err != nil {
				return err
			}
		}
	}
	if err := b.Sync(); err != nil {
		return err
	}
	s.pos += n
	return nil
}

func (s *State) observe(obs Observer, name string, t backend.Tensor, pos, n int) error {
	if obs == nil {
		return nil
	}
	size := n * s.m.Config.Hidden
	if cap(s.hostRows) < size {
		s.hostRows = make([]float32, size)
	}
	data := s.hostRows[:size]
	if err := s.m.b.Read(data, t); err != nil {
		return err
	}
	obs(name, pos, n, data)
	return nil
}
