package sentencepiece

// bpe runs bpe_model.cc's merge loop on st.syms and appends the resulting spans.
// Repeatedly, the adjacent pair whose merged piece has the highest score is merged; on
// equal scores the leftmost pair wins. Pairs whose symbols changed since they were queued
// are skipped when popped, as in bpe_model.cc, by comparing lengths.
func (e *encoder) bpe(st *encodeState) {
	if len(st.syms) <= maxLinearSymbols && !e.hasUnused {
		e.bpeLinear(st)
		return
	}
	syms := st.syms
	h := &st.heap
	h.reset()
	for i := 1; i < len(syms); i++ {
		e.maybePush(st, int32(i-1), int32(i))
	}
	for len(*h) > 0 {
		top := h.pop()
		left := top.left()
		l := &syms[left]
		if l.start == l.end || l.next < 0 {
			continue
		}
		r := &syms[l.next]
		if r.start == r.end || (l.end-l.start)+(r.end-r.start) != top.size {
			continue
		}
		l.end = r.end
		l.merge = top.id
		l.out = top.id
		if e.outOf != nil {
			l.out = e.outOf[top.id]
		}
		if r.next >= 0 {
			syms[r.next].prev = left
		}
		l.next = r.next
		r.end = r.start
		e.maybePush(st, l.prev, left)
		e.maybePush(st, left, l.next)
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		s := &syms[i]
		if e.hasUnused {
			e.resegment(st, s.start, s.end)
		} else {
			st.spans = append(st.spans, span{s.start, s.end, s.out})
		}
	}
}

// maxLinearSymbols is the segment length up to which bpeLinear is faster than the heap.
const maxLinearSymbols = 24

// bpeLinear is bpe for short segments: instead of a priority queue, each symbol keeps the
// merge it would make with its right neighbour, and each step scans them all for the best.
// The scan goes left to right and takes only a strictly higher score, so ties go to the
// leftmost pair, as in the queue; the result is the same, without the queue's overhead.
func (e *encoder) bpeLinear(st *encodeState) {
	syms := st.syms
	for i := range syms {
		syms[i].pair = e.pairWith(syms, int32(i), syms[i].next)
	}
	scores := e.p.scores
	for {
		best, bestScore := int32(-1), float32(0)
		for i := int32(0); i >= 0; i = syms[i].next {
			if id := syms[i].pair; id >= 0 && (best < 0 || scores[id] > bestScore) {
				best, bestScore = i, scores[id]
			}
		}
		if best < 0 {
			break
		}
		l := &syms[best]
		r := &syms[l.next]
		l.end = r.end
		l.merge = l.pair
		l.out = l.pair
		if e.outOf != nil {
			l.out = e.outOf[l.pair]
		}
		if r.next >= 0 {
			syms[r.next].prev = best
		}
		l.next = r.next
		r.end = r.start
		l.pair = e.pairWith(syms, best, l.next)
		if l.prev >= 0 {
			syms[l.prev].pair = e.pairWith(syms, l.prev, best)
		}
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		s := &syms[i]
		st.spans = append(st.spans, span{s.start, s.end, s.out})
	}
}

// pairWith returns the piece that symbols left and right merge into, or -1.
func (e *encoder) pairWith(syms []symbol, left, right int32) int32 {
	if left < 0 || right < 0 {
		return -1
	}
	l, r := &syms[left], &syms[right]
	if l.frozen || r.frozen || l.merge < 0 || r.merge < 0 {
		return -1
	}
	return e.pairs.get(l.merge, r.merge)
}

func (e *encoder) maybePush(st *encodeState, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := &st.syms[left], &st.syms[right]
	if l.frozen || r.frozen || l.merge < 0 || r.merge < 0 {
		return
	}
	id := e.pairs.get(l.merge, r.merge)
	if id < 0 {
		return
	}
	st.heap.push(queued{
		key:  queueKey(e.p.scores[id], left),
		size: (l.end - l.start) + (r.end - r.start),
		id:   id,
	})
	if e.hasUnused && e.p.types[id] == Unused {
		// bpe_model.cc records how to split an unused piece every time such a pair is
		// queued, merged or not, so the last queued split wins for the whole text.
		if st.rev == nil {
			st.rev = make(map[int32]int32)
		}
		st.rev[id] = l.end - l.start
	}
}

// resegment splits unused pieces back into the parts they were merged from, recursively,
// as bpe_model.cc's resegment does.
func (e *encoder) resegment(st *encodeState, start, end int32) {
	id := e.p.PieceToID(string(st.norm[start:end]))
	if e.p.types[id] == Unused {
		if left, ok := st.rev[id]; ok {
			e.resegment(st, start, start+left)
			e.resegment(st, start+left, end)
			return
		}
	}
	st.spans = append(st.spans, span{start, end, id})
}
