package engine

import (
	"slices"
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
	var reading []chunk
	for {
		running = e.letGo(running)
		closed := false
		for {
			a, ok, isClosed := e.admit(len(running))
			closeAll(a.evicted)
			if closed = isClosed; closed || !ok {
				break
			}
			if r := e.start(a); r != nil {
				running = append(running, r)
			}
		}
		if closed {
			for _, r := range running {
				e.release(r, false)
				r.finish(0, ErrClosed)
			}
			e.mu.Lock()
			for _, k := range e.kept {
				k.s.Close()
			}
			e.kept, e.stats.KeptRows = nil, 0
			e.mu.Unlock()
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
				r.in[0], r.drafts = r.next, 0
				adv, who = append(adv, nemotron.Advance{State: r.s, IDs: r.in[:1], Want: r.wantNext()}), append(who, r)
				budget--
				info.Decoding++
			}
		}
		// A prompt whose next rows another running request has read copies them instead;
		// one whose next rows another is reading in this step waits to copy them after.
		reading = reading[:0]
		for _, r := range running {
			p := r.q.Prompt()
			if r.fed == len(p) || budget == 0 {
				continue
			}
			e.catchUp(r, running)
			if sharesReading(r, reading) {
				continue
			}
			n := min(len(p)-r.fed, budget)
			reading = append(reading, chunk{r, r.fed + n})
			want := nemotron.NoLogits
			if r.fed+n == len(p) {
				want = r.wantNext()
			}
			adv, who = append(adv, nemotron.Advance{State: r.s, IDs: p[r.fed : r.fed+n], Want: want}), append(who, r)
			budget -= n
			info.Prefill = append(info.Prefill, n)
		}

		// Prompt lookup takes what the prompts leave: a step already full of prompt rows is
		// bound by arithmetic, not by reading weights, and drafts would not come free.
		for i := range info.Decoding {
			if budget == 0 {
				break
			}
			r := who[i]
			d := r.q.Draft(r.in[1:1], budget)
			if len(d) == 0 {
				continue
			}
			r.drafts = len(d)
			adv[i].IDs, adv[i].Want = r.in[:1+len(d)], nemotron.AllLogits
			budget -= len(d)
			info.Drafts += len(d)
		}

		err := e.batch.Step(e.ctx, adv)
		now := time.Now()
		e.mu.Lock()
		e.stats.Steps++
		e.stats.DecodeTokens += int64(info.Decoding)
		e.stats.DraftTokens += int64(info.Drafts)
		e.stats.PrefillTokens += int64(info.Tokens() - info.Decoding - info.Drafts)
		info.CacheRows, info.KeptRows, info.Waiting = e.stats.CacheRows, e.stats.KeptRows, len(e.waiting)
		e.mu.Unlock()
		if e.opts.OnStep != nil {
			e.opts.OnStep(info)
		}
		if err != nil {
			if e.ctx.Err() != nil {
				err = ErrClosed
			}
			for _, r := range who { // their caches may hold part of the failed step: not kept
				e.release(r, false)
				r.finish(0, err)
			}
			continue
		}
		accepted := 0
		for i, a := range adv {
			r := who[i]
			if r.fed < len(r.q.Prompt()) {
				r.fed += len(a.IDs)
			}
			var stop nemotron.StopReason
			switch {
			case a.Want == nemotron.NextToken:
				r.chosen, stop = append(r.chosen[:0], a.Next), r.q.Take(a.Next)
			case len(a.Logits) == 0:
				continue
			default:
				r.chosen, stop = r.q.Accept(r.chosen[:0], a.Logits, r.in[1:1+r.drafts])
			}
			r.next = r.chosen[len(r.chosen)-1]
			if r.drafts > 0 {
				accepted += len(r.chosen) - 1
				// The rows of rejected drafts are forgotten, written over by the next step.
				if err := r.s.Truncate(r.s.Pos() - r.drafts - 1 + len(r.chosen)); err != nil {
					e.release(r, false)
					r.finish(0, err)
					continue
				}
			}
			if stop != 0 { // the cache is free by the time the caller hears of the end
				e.release(r, true)
			}
			r.deliver(r.chosen, stop, now)
		}
		if accepted > 0 {
			e.mu.Lock()
			e.stats.DecodeTokens += int64(accepted)
			e.stats.AcceptedTokens += int64(accepted)
			e.mu.Unlock()
		}
	}
}

// catchUp copies into r's cache the rows of its prompt that another running request has
// already read beyond r's own, if any: requests that arrived together with a shared prefix
// (few-shot examples, one document and several questions) read it once between them.
func (e *Engine) catchUp(r *request, running []*request) {
	p := r.q.Prompt()
	var from *request
	best := r.fed
	for _, o := range running {
		if o == r || o.released || o.s == nil || o.fed <= best {
			continue
		}
		if n := nemotron.CommonPrefix(o.q.Prompt()[:o.fed], p[:len(p)-1]); n > best {
			from, best = o, n
		}
	}
	if from == nil || r.s.CopyPrefix(from.s, best) != nil {
		return // then it reads them itself
	}
	e.mu.Lock()
	e.stats.ReusedTokens += int64(best - r.fed)
	e.mu.Unlock()
	r.fed = best
}

// chunk is a request reading its prompt in a step, up to position end.
type chunk struct {
	r   *request
	end int
}

// sharesReading reports whether a request reading its prompt in this step reads rows of r's
// prompt that r has yet to read (catchUp has copied those already read): r waits a step, and
// copies them then.
func sharesReading(r *request, reading []chunk) bool {
	p := r.q.Prompt()
	for _, c := range reading {
		if c.end > r.fed && nemotron.CommonPrefix(c.r.q.Prompt(), p[:len(p)-1]) > r.fed {
			return true
		}
	}
	return false
}

// letGo frees the requests that ended or whose callers left, keeping the others in order.
func (e *Engine) letGo(running []*request) []*request {
	kept := running[:0]
	for _, r := range running {
		switch {
		case r.released: // after its last token or a failure
		case r.gone.Load() || r.ctx.Err() != nil:
			e.release(r, true)
			r.finish(0, r.ctx.Err())
		default:
			kept = append(kept, r)
			continue
		}
	}
	clear(running[len(kept):])
	return kept
}

// admission is what admit decided for the first waiting request: the kept State it takes
// (nil: a new one), the kept State whose first rows it copies (possibly the same one) and how
// many, and the kept States given up to make room for it, for the scheduler to close.
type admission struct {
	r       *request
	own     *nemotron.State
	from    *nemotron.State
	reuse   int
	evicted []*nemotron.State
}

// admit takes the first waiting request if there is room for it among the running ones and
// in the cache budget, giving up kept caches, least recently used first, to make that room;
// a request that does not fit keeps those behind it waiting too (first come, first served).
// Requests whose callers left are dropped.
func (e *Engine) admit(running int) (a admission, ok, closed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		for _, r := range e.waiting {
			r.finish(0, ErrClosed)
		}
		e.waiting = nil
		return a, false, true
	}
	still := e.waiting[:0]
	for _, r := range e.waiting {
		if r.gone.Load() || r.ctx.Err() != nil {
			r.finish(0, r.ctx.Err())
			continue
		}
		still = append(still, r)
	}
	clear(e.waiting[len(still):])
	e.waiting = still
	if len(e.waiting) == 0 || running >= e.opts.MaxRunning {
		return a, false, false
	}
	r := e.waiting[0]
	need, prompt := r.q.Limit(), r.q.Prompt()

	// The kept prompt sharing the most tokens with this one (all but its last, whose logits
	// the request needs), and the State it runs in: that prompt's own if it fits, else the
	// shortest kept one that does, else a new one.
	var from, own *kept
	for _, k := range e.kept {
		if n := nemotron.CommonPrefix(k.ids, prompt[:len(prompt)-1]); n > a.reuse {
			from, a.reuse = k, n
		}
	}
	fits := func(k *kept) bool { n := k.s.MaxLen(); return need <= n && n <= 2*need }
	if from != nil && fits(from) {
		own = from
	} else {
		for _, k := range e.kept {
			if fits(k) && (own == nil || k.s.MaxLen() < own.s.MaxLen()) {
				own = k
			}
		}
	}
	rows, added := need, need // the rows it will hold, and those it adds to what is held
	if own != nil {
		rows, added = own.s.MaxLen(), 0
	}
	if budget := e.opts.CacheRows; budget > 0 {
		held := e.stats.CacheRows + e.stats.KeptRows
		freeable := e.stats.KeptRows
		if own != nil {
			freeable -= rows
		}
		if held-freeable+added > budget {
			return a, false, false
		}
		// Give up kept caches, least recently used first, the one to copy from last.
		for pass := 0; held+added > budget; pass++ {
			for i := 0; i < len(e.kept) && held+added > budget; i++ {
				k := e.kept[i]
				if k == own || (k == from && pass == 0) {
					continue
				}
				if k == from {
					from, a.reuse = nil, 0
				}
				held -= k.s.MaxLen()
				a.evicted = append(a.evicted, e.drop(i))
				i--
			}
		}
	}
	if own != nil {
		i := slices.Index(e.kept, own)
		e.drop(i)
		a.own = own.s
	}
	if from != nil {
		a.from = from.s
		if from != own { // the most recently used now
			i := slices.Index(e.kept, from)
			e.kept = append(slices.Delete(e.kept, i, i+1), from)
		}
	}
	e.waiting[0] = nil
	e.waiting = e.waiting[1:]
	r.rows = rows
	e.stats.CacheRows += rows
	e.stats.Running++
	a.r = r
	return a, true, false
}

// drop removes kept cache i, returning its State for the caller to use or close.
func (e *Engine) drop(i int) *nemotron.State {
	k := e.kept[i]
	e.kept = slices.Delete(e.kept, i, i+1)
	e.stats.KeptRows -= k.s.MaxLen()
	return k.s
}

// start gives an admitted request its State: a kept one or a new one, holding the rows of
// the prompt prefix admit found (copied, or already there), from which it reads the rest.
// It returns nil if the request failed.
func (e *Engine) start(a admission) *request {
	r, s := a.r, a.own
	var err error
	if s == nil {
		s, err = e.m.NewStateKV(r.q.Limit(), e.opts.KVCache)
		e.mu.Lock()
		e.stats.NewStates++
		e.mu.Unlock()
	}
	if err == nil {
		switch {
		case a.from == nil:
			s.Reset()
		case a.from == s:
			err = s.Truncate(a.reuse)
		default:
			err = s.CopyPrefix(a.from, a.reuse)
		}
	}
	r.s = s
	if err != nil {
		e.release(r, false)
		r.finish(0, err)
		return nil
	}
	r.fed, r.admitted = a.reuse, time.Now()
	e.mu.Lock()
	e.stats.ReusedTokens += int64(a.reuse)
	e.mu.Unlock()
	return r
}

// release frees a request's place among the running and its KV cache, or keeps the cache
// for later requests (keep, and Options.KeepRows leaves room), giving up the least recently
// used kept ones beyond KeepRows.
func (e *Engine) release(r *request, keep bool) {
	if r.released {
		return
	}
	r.released = true
	var evicted []*nemotron.State
	e.mu.Lock()
	e.stats.CacheRows -= r.rows
	e.stats.Running--
	if keep && r.s != nil && r.rows <= e.opts.KeepRows {
		e.kept = append(e.kept, &kept{s: r.s, ids: slices.Clone(r.q.Prompt()[:r.fed])})
		e.stats.KeptRows += r.rows
		r.s = nil
		for e.stats.KeptRows > e.opts.KeepRows {
			evicted = append(evicted, e.drop(0))
		}
	}
	e.mu.Unlock()
	closeAll(evicted)
	if r.s != nil {
		r.s.Close()
		r.s = nil
	}
}

func closeAll(states []*nemotron.State) {
	for _, s := range states {
		s.Close()
	}
}

// deliver hands tokens to the caller's goroutine; stop ends the request with the last.
// wantNext is what a step asks for after r's last row: the next token alone when it is the
// largest logit's (from a GPU, 4 bytes instead of the logits), the logits otherwise.
func (r *request) wantNext() nemotron.Logits {
	if r.q.Greedy() {
		return nemotron.NextToken
	}
	return nemotron.LastLogits
}

func (r *request) deliver(ids []int32, stop nemotron.StopReason, now time.Time) {
	r.mu.Lock()
	if r.first.IsZero() {
		r.first, r.prefill = now, now.Sub(r.admitted)
	}
	r.toks = append(r.toks, ids...)
	r.drafted, r.accepted = r.q.Lookups()
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
