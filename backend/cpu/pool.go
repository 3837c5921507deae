package cpu

import (
	"sync"
	"sync/atomic"
)

// pool is a fixed set of worker goroutines that split ranges of work between them. Workers
// are started once; a Run hands them work through per-worker channels and claims chunks
// with an atomic counter, so uneven chunks balance and nothing is created per call.
type pool struct {
	workers int
	wake    []chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex // one Run at a time: the fields below belong to it

	t     task
	n     int
	grain int
	next  atomic.Int64
}

func newPool(workers int) *pool {
	p := &pool{workers: workers}
	for w := 1; w < workers; w++ {
		ch := make(chan struct{})
		p.wake = append(p.wake, ch)
		go func() {
			for range ch {
				p.work(w)
				p.wg.Done()
			}
		}()
	}
	return p
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
	if n <= grain || p.workers == 1 {
		p.mu.Lock()
		t.run(0, 0, n)
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t, p.n, p.grain = t, n, grain
	p.next.Store(0)
	helpers := min(len(p.wake), (n+grain-1)/grain-1)
	p.wg.Add(helpers)
	for _, ch := range p.wake[:helpers] {
		ch <- struct{}{}
	}
	p.work(0)
	p.wg.Wait()
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
	for _, ch := range p.wake {
		close(ch)
	}
	p.wake = nil
}
