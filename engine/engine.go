// Package engine serves many generations from one model at once by continuous batching:
// every step advances all running requests in one pass through the network (nemotron.Batch),
// requests join and leave between steps, and prompts are read in chunks under a per-step
// token budget, so that a long prompt does not stall the requests already decoding. A prompt
// prefix that running requests share is read once (the others copy its KV rows), and with
// Options.KeepRows so is one shared with requests that have ended.
package engine

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// ErrClosed is returned for requests the engine could not finish because it was closed.
var ErrClosed = errors.New("engine closed")

// Options configure an Engine. The zero value takes the defaults.
type Options struct {
	// StepTokens bounds the positions of one step, decoding tokens and prompt chunks together;
	// 0 means DefaultStepTokens. It is what one pass may cost, so what a decoding request
	// may wait for its next token while others read their prompts.
	StepTokens int
	// MaxRunning bounds the requests advanced together; 0 means DefaultMaxRunning. It is at
	// most StepTokens, so that every running request decodes in every step.
	MaxRunning int
	// CacheRows bounds the KV-cache rows of the running requests together, each holding its
	// prompt and MaxTokens (the model's whole context when MaxTokens is 0); 0 means no
	// bound. Requests wait their turn, first come first served, for rows to free.
	CacheRows int
	// CacheBytes is the same bound in bytes of KV cache (nemotron.Model.KVRowBytesOf(KVCache)
	// a row); 0 means no bound. With both, the smaller holds.
	CacheBytes int64
	// KVCache is the dtype the requests' KV caches are stored in: tensor.F32 (the zero value,
	// exact), or BF16 or F16 (half the memory, the logits moved by their rounding) where the
	// backend stores caches so (nemotron.Model.NewStateKV).
	KVCache tensor.DType
	// KeepRows bounds the KV-cache rows of ended requests that are kept to be used again
	// (least recently used given up first); 0 keeps none. A kept cache serves later requests
	// twice over: its memory is reused instead of allocating (a request takes one at least as
	// long as it needs and at most twice as long), and its prompt's rows are copied into a
	// request whose prompt begins with the same tokens, which then reads only the rest (few-
	// shot examples, a document asked several questions). Kept rows count against CacheRows
	// and are freed as soon as a request needs the room.
	KeepRows int
	// OnStep, when set, is told what each step ran, on the engine's goroutine; for tests
	// and metrics.
	OnStep func(StepInfo)
}

// Defaults of Options.
const (
	DefaultStepTokens = 256
	DefaultMaxRunning = 64
)

// StepInfo describes one step.
type StepInfo struct {
	Decoding  int   // requests that decoded a token
	Drafts    int   // the tokens they checked besides, guessed by prompt lookup
	Prefill   []int // the prompt chunks read, in arrival order of their requests
	CacheRows int   // KV-cache rows held by the running requests
	KeptRows  int   // KV-cache rows kept from ended requests (Options.KeepRows)
	Waiting   int   // requests waiting to start
}

// Tokens is the positions the step ran.
func (s StepInfo) Tokens() int {
	n := s.Decoding + s.Drafts
	for _, c := range s.Prefill {
		n += c
	}
	return n
}

// Stats is where the engine stands.
type Stats struct {
	Waiting, Running int
	CacheRows        int   // KV-cache rows held by running requests
	KeptRows         int   // KV-cache rows kept from ended requests (Options.KeepRows)
	Steps            int64 // steps run so far
	PrefillTokens    int64 // prompt positions read so far
	ReusedTokens     int64 // prompt positions copied from other requests' caches instead of read
	NewStates        int64 // KV caches allocated so far (the other requests reused kept ones)
	DecodeTokens     int64 // tokens generated so far
	DraftTokens      int64 // tokens guessed by prompt lookup and checked so far
	AcceptedTokens   int64 // those guessed right: tokens generated without a step of their own
}

// An Engine schedules generations on one model. It is safe for concurrent use.
type Engine struct {
	m     *nemotron.Model
	opts  Options
	batch *nemotron.Batch

	ctx    context.Context // cancelled by Close: stops a step under way
	cancel context.CancelFunc
	wake   chan struct{} // a request arrived or left
	done   chan struct{} // the scheduler has returned

	mu      sync.Mutex
	waiting []*request // first come, first served
	closed  bool
	stats   Stats
	kept    []*kept // least recently used first; changed by the scheduler only, under mu
}

// kept is the KV cache of an ended request, kept for reuse: ids are the prompt tokens whose
// rows it holds.
type kept struct {
	s   *nemotron.State
	ids []int32
}

// New starts an engine on m.
func New(m *nemotron.Model, opts Options) (*Engine, error) {
	switch {
	case opts.StepTokens < 0, opts.MaxRunning < 0, opts.CacheRows < 0, opts.CacheBytes < 0, opts.KeepRows < 0:
		return nil, nemotron.BadOption("engine options %+v: negative", opts)
	}
	if err := m.CheckKVCache(opts.KVCache); err != nil {
		return nil, err
	}
	if opts.CacheBytes > 0 {
		row := m.KVRowBytesOf(opts.KVCache)
		rows := opts.CacheBytes / row
		if rows == 0 {
			return nil, nemotron.BadOption("a KV cache of %d bytes holds no row of %d bytes", opts.CacheBytes, row)
		}
		if opts.CacheRows == 0 || rows < int64(opts.CacheRows) {
			opts.CacheRows = int(min(rows, math.MaxInt32))
		}
	}
	if opts.StepTokens == 0 {
		opts.StepTokens = DefaultStepTokens
	}
	if opts.MaxRunning == 0 {
		opts.MaxRunning = DefaultMaxRunning
	}
	opts.MaxRunning = min(opts.MaxRunning, opts.StepTokens)
	batch, err := m.NewBatch(opts.StepTokens)
	if err != nil {
		return nil, err
	}
	e := &Engine{m: m, opts: opts, batch: batch, wake: make(chan struct{}, 1), done: make(chan struct{})}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	go e.run()
	return e, nil
}

// Close stops the engine: requests not yet finished end with ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.poke()
	<-e.done
	e.batch.Close()
	return nil
}

// Stats reports the queue, the running requests and the totals so far.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Waiting = len(e.waiting)
	return s
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// request is one generation: the scheduler's side (its sequence, state and progress) and
// what it hands to the caller's goroutine.
type request struct {
	ctx  context.Context
	q    *nemotron.Sequence
	s    *nemotron.State
	fed  int   // prompt tokens read
	next int32 // the token to feed next, once decoding
	// in is the decoding row's tokens: next, then the drafts prompt lookup guessed for
	// this step (nemotron.Sequence.Draft), whose logits chosen is decided from.
	in     [1 + nemotron.MaxLookup]int32
	drafts int
	chosen []int32
	gone   atomic.Bool // the caller has stopped listening

	admitted time.Time // scheduler only
	rows     int       // the KV-cache rows it holds: its State's length
	released bool

	mu       sync.Mutex
	toks     []int32 // chosen, not yet yielded
	drafted  int     // prompt lookup's drafts so far, and those accepted
	accepted int
	stop     nemotron.StopReason
	err      error
	finished bool
	prefill  time.Duration // admission to the first token
	first    time.Time     // when the first token was chosen
	notify   chan struct{}
}

// Generate is nemotron.Model.Generate run by the engine: prompt is continued, yield told each
// new token (on the caller's goroutine) with last set when the generation ends with it, and
// yield returning false stops it. The request waits its turn, reads its prompt in chunks
// interleaved with the other requests' decoding, and frees its KV cache when it ends, fails,
// or ctx is cancelled. Generation.Prefill runs from the request's start (after any wait for
// cache rows) to its first token. yield may be nil.
func (e *Engine) Generate(ctx context.Context, prompt []int32, opts nemotron.GenerateOptions, yield func(id int32, last bool) bool) (g nemotron.Generation, err error) {
	g.PromptTokens = len(prompt)
	if yield == nil {
		yield = func(int32, bool) bool { return true }
	}
	q, err := e.m.NewSequence(prompt, opts)
	if err != nil {
		return g, err
	}
	if c := e.opts.CacheRows; c > 0 && q.Limit() > c {
		return g, nemotron.BadInput("a generation of up to %d tokens exceeds the engine's KV cache of %d rows", q.Limit(), c)
	}
	if err := ctx.Err(); err != nil {
		return g, err
	}
	r := &request{ctx: ctx, q: q, notify: make(chan struct{}, 1)}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return g, ErrClosed
	}
	e.waiting = append(e.waiting, r)
	e.mu.Unlock()
	e.poke()
	var first time.Time
	defer func() {
		// Whether the request ended or the caller stopped listening, the scheduler lets it go.
		r.gone.Store(true)
		e.poke()
		if !first.IsZero() {
			g.Decode = time.Since(first)
		}
	}()

	var toks []int32
	for {
		select {
		case <-r.notify:
		case <-ctx.Done():
			return g, ctx.Err()
		}
		r.mu.Lock()
		toks, r.toks = r.toks, toks[:0]
		finished, stop, err := r.finished, r.stop, r.err
		g.Prefill, first = r.prefill, r.first
		g.Drafted, g.Accepted = r.drafted, r.accepted
		r.mu.Unlock()
		for i, id := range toks {
			g.Tokens++
			if finished && i == len(toks)-1 {
				g.Stop = stop
			}
			if !yield(id, g.Stop != 0) && g.Stop == 0 {
				g.Stop = nemotron.StopRequested
			}
			if g.Stop != 0 {
				return g, nil
			}
		}
		if finished {
			return g, err
		}
	}
}
