package engine

import (
	"time"

	"github.com/minitron-go/minitron/nemotron"
)

// run is the scheduler: between steps it lets finished and abandoned requests go, admits
// waiting ones first come first served while the cache rows last, and runs one step of
// everything running: a token for each decoding request first, then prompt chunks, in order
// of arrival, as large as the step's budget leaves.
func (e *Engine) run() {
	defer close(e.done)
	var running []*request
	var adv []nemotron.Advance
	var who []*request
	for {
		running = e.letGo(running)
		admitted, closed := e.admit(len(running))
		for _, r := range admitted {
			s, err := e.m.NewState(r.q.Limit())
			if err != nil {
				e.release(r)
				r.finish(0, err)
				continue
			}
			r.s, r.admitted = s, time.Now()
			running = append(running, r)
		}
		if closed {
			for _, r := range running {
				e.release(r)
				r.finish(0, ErrClosed)
			}
			return
		}
		if len(running) == 0 {
			<-e.wake
			continue
		}

		// The step: decoding first (one row each, and MaxRunning ≤ StepTokens), then prompts.
		info := StepInfo{}
		adv, who = adv[:0], who[:0]
		budget := e.opts.StepTokens
		for _, r := range running {
			if r.fed == len(r.q.Prompt()) {
				r.nextIDs[0] = r.next
				adv, who = append(adv, nemotron.Advance{State: r.s, IDs: r.nextIDs[:], Want: nemotron.LastLogits}), append(who, r)
				budget--
				info.Decoding++
			}
		}
		for _, r := range running {
			p := r.q.Prompt()
			if r.fed == len(p) || budget == 0 {
				continue
			}
			n := min(len(p)-r.fed, budget)
			want := nemotron.NoLogits
			if r.fed+n == len(p) {
				want = nemotron.LastLogits
			}
			adv, who = append(adv, nemotron.Advance{State: r.s, IDs: p[r.fed : r.fed+n], Want: want}), append(who, r)
			budget -= n
			info.Prefill = append(info.Prefill, n)
		}

		err := e.batch.Step(e.ctx, adv)
		now := time.Now()
		e.mu.Lock()
		e.stats.Steps++
		e.stats.DecodeTokens += int64(info.Decoding)
		e.stats.PrefillTokens += int64(info.Tokens() - info.Decoding)
		info.CacheRows, info.Waiting = e.stats.CacheRows, len(e.waiting)
		e.mu.Unlock()
		if e.opts.OnStep != nil {
			e.opts.OnStep(info)
		}
		if err != nil {
			if e.ctx.Err() != nil {
				err = ErrClosed
			}
			for _, r := range who {
				e.release(r)
				r.finish(0, err)
			}
			continue
		}
		for i, a := range adv {
			r := who[i]
			if r.fed < len(r.q.Prompt()) {
				r.fed += len(a.IDs)
			}
			if len(a.Logits) == 0 {
				continue
			}
			id, stop := r.q.Next(a.Logits)
			r.next = id
			if stop != 0 { // the cache is free by the time the caller hears of the end
				e.release(r)
			}
			r.deliver(id, stop, now)
		}
	}
}

// letGo frees the requests that ended or whose callers left, keeping the others in order.
func (e *Engine) letGo(running []*request) []*request {
	kept := running[:0]
	for _, r := range running {
		switch {
		case r.released: // after its last token or a failure
		case r.gone.Load() || r.ctx.Err() != nil:
			e.release(r)
			r.finish(0, r.ctx.Err())
		default:
			kept = append(kept, r)
			continue
		}
	}
	clear(running[len(kept):])
	return kept
}

// admit takes waiting requests, first come first served, while there is room among the
// running ones and in the cache budget; a request that does not fit keeps those behind it
// waiting too. Requests whose callers left are dropped.
func (e *Engine) admit(running int) (admitted []*request, closed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		for _, r := range e.waiting {
			r.finish(0, ErrClosed)
		}
		e.waiting = nil
		return nil, true
	}
	kept := e.waiting[:0]
	for _, r := range e.waiting {
		if r.gone.Load() || r.ctx.Err() != nil {
			r.finish(0, r.ctx.Err())
			continue
		}
		kept = append(kept, r)
	}
	clear(e.waiting[len(kept):])
	e.waiting = kept
	for len(e.waiting) > 0 {
		r := e.waiting[0]
		rows := r.q.Limit()
		if running+len(admitted) >= e.opts.MaxRunning || (e.opts.CacheRows > 0 && e.stats.CacheRows+rows > e.opts.CacheRows) {
			break
		}
		e.waiting[0] = nil
		e.waiting = e.waiting[1:]
		e.stats.CacheRows += rows
		e.stats.Running++
		admitted = append(admitted, r)
	}
	return admitted, false
}

// release frees a request's KV cache and its place among the running.
func (e *Engine) release(r *request) {
	if r.released {
		return
	}
	r.released = true
	if r.s != nil {
		r.s.Close()
		r.s = nil
	}
	e.mu.Lock()
	e.stats.CacheRows -= r.q.Limit()
	e.stats.Running--
	e.mu.Unlock()
}

// deliver hands a token to the caller's goroutine; stop ends the request with it.
func (r *request) deliver(id int32, stop nemotron.StopReason, now time.Time) {
	r.mu.Lock()
	if r.first.IsZero() {
		r.first, r.prefill = now, now.Sub(r.admitted)
	}
	r.toks = append(r.toks, id)
	if stop != 0 {
		r.stop, r.finished = stop, true
	}
	r.mu.Unlock()
	r.signal()
}

// finish ends a request without a token: a failure, a cancellation, the engine closing.
func (r *request) finish(stop nemotron.StopReason, err error) {
	r.mu.Lock()
	r.stop, r.err, r.finished = stop, err, true
	r.mu.Unlock()
	r.signal()
}

func (r *request) signal() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}
