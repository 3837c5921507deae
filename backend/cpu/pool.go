package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a fixed set of worker goroutines that split ranges of work between them. Workers
// are started once; a Run hands them work and claims chunks with an atomic counter, so
// uneven chunks balance and nothing is created per call.
//
// Between Runs the helpers spin for up to spinFor before they park on a channel, and the
// caller spins for its helpers to finish before it parks: a parked goroutine took about
// 100 µs to start again on a 2-vCPU KVM guest (AMD EPYC Zen 4, 2026-12-04), so that a Run of
// two 80 µs chunks ran both on the caller, and decoding, which runs hundreds of Runs a token
// a few hundred microseconds apart, lost much of its second core. The cost is at most spinFor
// of a core after the last Run.
type pool struct {
	workers int
	helpers []*helper
	mu      sync.Mutex // one Run at a time: the fields below belong to it

	t       task
	n       int
	grain   int
	next    atomic.Int64
	pending atomic.Int32  // helpers still working on this Run
	done    chan struct{} // the last helper's word that the Run's chunks are done
	closed  atomic.Bool
}

// spinFor bounds how long an idle goroutine of the pool polls before it parks: longer than
// the gaps between a decoding step's Runs and between its steps.
const spinFor = 200 * time.Microsecond

// A helper's state: idle (spinning or about to park), parked on wake, or handed a Run.
const (
	idle int32 = iota
	parked
	working
)

type helper struct {
	state atomic.Int32
	wake  chan struct{} // one slot: a Run's word to a parked helper
}

func newPool(workers int) *pool {
	p := &pool{workers: workers, done: make(chan struct{}, 1)}
	for w := 1; w < workers; w++ {
		h := &helper{wake: make(chan struct{}, 1)}
		p.helpers = append(p.helpers, h)
		go p.serve(w, h)
	}
	return p
}

// serve is helper w's loop: wait for a Run, do its share, say so.
func (p *pool) serve(w int, h *helper) {
	for {
		if !spinUntil(func() bool { return h.state.Load() == working }) &&
			h.state.CompareAndSwap(idle, parked) {
			<-h.wake
		}
		if p.closed.Load() {
			return
		}
		p.work(w)
		// Idle before the count goes down: the next Run, which waits for the count, finds
		// every helper idle or parked.
		h.state.Store(idle)
		if p.pending.Add(-1) == 0 {
			p.done <- struct{}{}
		}
	}
}

// spinUntil polls cond for up to spinFor, letting the goroutines that share this thread
// run now and then, and says whether cond held.
func spinUntil(cond func() bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i%64 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				return false
			}
			runtime.Gosched()
		}
	}
}

// start hands the current Run to h, waking it if it parked.
func (h *helper) start() {
	if h.state.CompareAndSwap(idle, working) {
		return
	}
	h.state.Store(working) // it parked: no one else writes its state now
	h.wake <- struct{}{}
}

// A task is work split by a pool. Tasks are structs the backend keeps and refills for each
// operation, so that handing one to the workers allocates nothing.
type task interface {
	run(worker, lo, hi int)
}

// Run calls t.run(worker, lo, hi) over disjoint chunks that cover [0, n), at most grain
// long, on all workers (the caller is worker 0), and returns when every chunk is done.
// worker indexes per-worker scratch.
func (p *pool) Run(n, grain int, t task) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if n <= grain || p.workers == 1 {
		t.run(0, 0, n)
		return
	}
	p.t, p.n, p.grain = t, n, grain
	p.next.Store(0)
	helpers := p.helpers[:min(len(p.helpers), (n+grain-1)/grain-1)]
	p.pending.Store(int32(len(helpers)))
	for _, h := range helpers {
		h.start()
	}
	p.work(0)
	spinUntil(func() bool { return p.pending.Load() == 0 })
	<-p.done
	p.t = nil
}

func (p *pool) work(worker int) {
	for {
		lo := int(p.next.Add(int64(p.grain))) - p.grain
		if lo >= p.n {
			return
		}
		p.t.run(worker, lo, min(lo+p.grain, p.n))
	}
}

// close stops the workers.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return
	}
	for _, h := range p.helpers {
		h.start()
	}
	p.helpers = nil
}
