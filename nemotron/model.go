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
	// Dequantize, for a GGUF file, binds tensors in block formats (Q8_0, Q4_K, …) dequantized
	// to F32, for a backend that cannot multiply by them (see GGUFSource.Dequantize).
	Dequantize bool
	// Quant, when set, quantizes the matrices to that mix as they load (see Quant.Format),
	// on every core, and releases the pages of a memory-mapped checkpoint's tensor once it is
	// quantized, so that the process keeps only the quantized bytes. Tensors already in a
	// block format are kept when the mix agrees and refused when it does not.
	Quant Quant
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
	m, err := NewWithOptions(cfg, ck, b, opts)
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
	return NewWithOptions(cfg, src, b, LoadOptions{Progress: progress})
}

// NewWithOptions is New with the options Load takes: progress, and the quantization mix the
// matrices are stored in (opts.Dequantize is a GGUFSource's, and ignored here).
func NewWithOptions(cfg Config, src Source, b backend.Backend, opts LoadOptions) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := ParseQuant(string(opts.Quant)); err != nil {
		return nil, err
	}
	w, err := bindWeights(cfg, src, b, opts)
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
	// NextToken is the most likely token after the last id, alone (greedy decoding's
	// choice, tensor.Argmax of the last row): found where the logits are computed, so that a
	// GPU sends back 4 bytes instead of the vocabulary's logits (State.ForwardArgmax,
	// Advance.Next).
	NextToken
)

// Observer receives activations as they are computed, for parity checks: the embeddings
// ("embed"), each layer's output ("layer<L>.out") and the final norm ("final_norm"), each as
// rows [n, hidden] for positions pos0…pos0+n-1. data is only valid during the call.
type Observer func(name string, pos0, n int, data []float32)

// State is one sequence being processed: its position and its KV cache. A State is used by
// one goroutine at a time; States of one Model may run concurrently.
type State struct {
	m      *Model
	pos    int // tokens in the KV cache
	maxLen int
	chunk  int // the most positions one Forward pass computes at once

	k, v []backend.Tensor // per layer: (maxLen, kv_heads·head_dim)

	// sc is the scratch of Forward, made by its first call: a State that only ever advances
	// in a Batch holds its KV cache and nothing else.
	sc         *scratch
	one        [1]seqRows // Forward's pass: this sequence alone
	next       int32      // the id NextToken asked for
	hostLogits []float32
}

// logitRows bounds how many positions' logits are computed at once: a row of the 4B model's
// logits is 1 MB, a whole chunk of them would be half a gigabyte.
const logitRows = 16

// DefaultChunk is the most prompt positions a State runs through the network at once.
const DefaultChunk = 512

// NewState allocates the KV cache for sequences of up to maxLen tokens (max_position_embeddings
// when 0).
func (m *Model) NewState(maxLen int) (*State, error) { return m.newState(maxLen, tensor.F32) }

// newState is NewState with the cache stored as kv (NewStateKV).
func (m *Model) newState(maxLen int, kv tensor.DType) (*State, error) {
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
	for range c.Layers {
		k, err1 := b.Alloc(kv, maxLen, c.KVDim())
		v, err2 := b.Alloc(kv, maxLen, c.KVDim())
		s.k, s.v = append(s.k, k), append(s.v, v)
		errs = append(errs, err1, err2)
	}
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
	for _, t := range append(s.k, s.v...) {
		if t != nil {
			s.m.b.Free(t)
		}
	}
	if s.sc != nil {
		s.sc.free()
		s.sc = nil
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
	rows := want.rows(len(ids))
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
		var next *int32
		switch {
		case want == AllLogits:
			dst = out[start*c.VocabSize : end*c.VocabSize]
		case want == LastLogits && end == len(ids):
			dst = out
		case want == NextToken && end == len(ids):
			next = &s.next
		}
		s.one[0] = seqRows{s: s, lo: 0, hi: end - start, dst: dst, next: next}
		if err := s.forward(ctx, ids[start:end], obs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ForwardArgmax appends ids to the sequence as Forward does, and returns the most likely next
// token (NextToken): greedy decoding's choice, the logits left where they were computed.
func (s *State) ForwardArgmax(ctx context.Context, ids []int32) (int32, error) {
	if _, err := s.Forward(ctx, ids, NextToken, nil); err != nil {
		return 0, err
	}
	return s.next, nil
}

// forward runs one chunk of n ≤ chunk tokens at positions pos…pos+n-1 through the network,
// the logits asked for going where s.one[0] says. It leaves the final norm of the n rows in
// s.h, from which Score computes the logits it needs (headRows).
func (s *State) forward(ctx context.Context, ids []int32, obs Observer) error {
	if s.sc == nil || s.sc.rows < s.chunk {
		if s.sc != nil {
			s.sc.free()
		}
		sc, err := s.m.newScratch(s.chunk)
		if err != nil {
			return err
		}
		s.sc = sc
	}
	return s.m.pass(ctx, s.sc, ids, s.one[:], obs)
}

// seqRows is one sequence's part of a pass: rows [lo, hi) of the stack are its new positions
// s.pos…, and the logits of its last len(dst)/vocab rows go to dst, or when next is set the
// id of the largest logit of its last row goes there.
type seqRows struct {
	s      *State
	lo, hi int
	dst    []float32
	next   *int32
}

// headRows is how many rows of logits the sequence asks for.
func (sq *seqRows) headRows(vocab int) int {
	if sq.next != nil {
		return 1
	}
	return len(sq.dst) / vocab
}

// pass runs the new positions of one or more sequences through the network: ids are their
// tokens stacked, seqs say whose rows are whose (in order, covering all of ids). Every matrix
// product takes the whole stack, so each weight is read once; rotary, the cache and attention
// are each sequence's own, on its rows. An observer sees the first sequence's positions.
func (m *Model) pass(ctx context.Context, sc *scratch, ids []int32, seqs []seqRows, obs Observer) error {
	b, c, w := m.b, m.Config, m.w
	n, pos := len(ids), seqs[0].s.pos
	eps := float32(c.NormEps)
	r := sc.rowsOf(0, n)
	x, h, qkv, att, up := r.x, r.h, r.qkv, r.att, r.up
	rope := c.Rope()

	b.Embed(x, w.embed, ids)
	if err := sc.observe(obs, "embed", x, pos, n); err != nil {
		return err
	}
	for l, lw := range w.layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Attention: h = LN1(x); q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ (one product: the weights are
		// stacked); q and k turn by position; k and v join the cache at these positions, and
		// q attends over all of it.
		b.LayerNorm1P(h, x, lw.ln1W, lw.ln1B, eps)
		b.MatMul(qkv, h, lw.qkv)
		for _, sq := range seqs {
			s, r := sq.s, sc.rowsOf(sq.lo, sq.hi)
			b.RotaryKV(r.q, s.k[l], s.v[l], r.qkv, s.pos, rope)
			b.Attention(r.att, r.q, s.k[l], s.v[l], c.Heads, c.KVHeads, s.pos)
		}
		b.MatMulAdd(x, att, lw.o) // x += attention(LN1(x))·Woᵀ

		// MLP: x += relu(LN2(x)·Wupᵀ)²·Wdownᵀ
		b.LayerNorm1P(h, x, lw.ln2W, lw.ln2B, eps)
		b.MatMulReLU2(up, h, lw.up)
		b.MatMulAdd(x, up, lw.down)

		if obs != nil {
			if err := sc.observe(obs, fmt.Sprintf("layer%d.out", l), x, pos, n); err != nil {
				return err
			}
		}
	}
	b.LayerNorm1P(h, x, w.normW, w.normB, eps)
	if err := sc.observe(obs, "final_norm", h, pos, n); err != nil {
		return err
	}
	if err := m.logits(sc, seqs); err != nil {
		return err
	}
	if err := b.Sync(); err != nil {
		return err
	}
	for _, sq := range seqs {
		sq.s.pos += sq.hi - sq.lo
	}
	return nil
}

// logits computes LN_f(x)·W_headᵀ for the rows the sequences ask for, a few rows at a time:
// the rows are gathered into groups of at most logitRows, as even as can be, so that a group
// falls below the backend's few-row kernel only when all the rows asked for do. A group of
// rows that want only their largest logit's id (NextToken) finds it on the backend.
func (m *Model) logits(sc *scratch, seqs []seqRows) error {
	b, vocab := m.b, m.Config.VocabSize
	total := 0
	for i := range seqs {
		total += seqs[i].headRows(vocab)
	}
	if total == 0 {
		return nil
	}
	am, _ := b.(backend.Argmaxer)
	groups := (total + logitRows - 1) / logitRows
	j, i := 0, 0 // the next row: the i-th of those sequence j asks for
	for g := range groups {
		size := total / groups
		if g < total%groups {
			size++
		}
		hl, lg := sc.headRows(size)
		first, one := -1, true // one: the group is rows of one sequence, next to each other
		ids := am != nil       // every row of the group wants only its largest logit's id
		for r := range size {
			for seqs[j].headRows(vocab) == 0 {
				j++
			}
			if first < 0 {
				first = j
			}
			sq := &seqs[j]
			want := sq.headRows(vocab)
			one = one && j == first && sq.next == nil
			ids = ids && sq.next != nil
			b.Copy(hl, r, sc.hRowAt(sq.hi-want+i))
			sc.next[r] = sq.next
			if sq.next == nil {
				sc.dst[r] = sq.dst[i*vocab : (i+1)*vocab]
			}
			if i++; i == want {
				j, i = j+1, 0
			}
		}
		b.MatMul(lg, hl, m.w.head)
		switch {
		case ids:
			if err := am.Argmax(sc.ids[:size], lg); err != nil {
				return err
			}
			for r, id := range sc.ids[:size] {
				*sc.next[r] = id
			}
			continue
		case one: // straight into the caller's rows
			d0 := sc.dst[0]
			if err := b.Read(d0[:size*vocab:size*vocab], lg); err != nil {
				return err
			}
			continue
		}
		host := sc.hostLogits(size * vocab)
		if err := b.Read(host, lg); err != nil {
			return err
		}
		for r := range size {
			row := host[r*vocab : (r+1)*vocab]
			if sc.next[r] != nil {
				*sc.next[r] = int32(tensor.Argmax(row))
			} else {
				copy(sc.dst[r], row)
			}
		}
	}
	return nil
}
