package sentencepiece

// Segment results are cached per encodeState (so without locks) when the text is cut into
// segments: a segment's pieces depend on nothing but its bytes, and natural text repeats
// its words, so most segments of a long text are found in the cache.
const (
	maxCachedSegment = 64      // bytes; longer segments are rare and not worth keeping
	maxCacheEntries  = 1 << 15 // the cache is emptied when it reaches this size
)

// cachedPiece is one piece of a cached segment: its length in bytes and its id.
type cachedPiece struct{ n, id int32 }

// segment runs BPE on the symbols in st.syms, or finds their result in the cache, and
// emits the pieces.
func (p *Processor) segment(st *encodeState) {
	e := &p.enc
	start, end := st.syms[0].start, st.syms[len(st.syms)-1].end
	if !e.segmentWS || e.noCache || end-start > maxCachedSegment {
		e.bpe(st)
		p.emit(st)
		return
	}
	key := st.norm[start:end]
	if ref, ok := st.cache[string(key)]; ok {
		at := start
		for _, c := range st.cached[ref.off : ref.off+ref.n] {
			st.spans = append(st.spans, span{at, at + c.n, c.id})
			at += c.n
		}
		p.emit(st)
		return
	}
	e.bpe(st)
	if st.cache == nil || len(st.cache) >= maxCacheEntries {
		st.cache = make(map[string]cacheRef)
		st.cached = st.cached[:0]
	}
	ref := cacheRef{off: int32(len(st.cached)), n: int32(len(st.spans))}
	for _, sp := range st.spans {
		st.cached = append(st.cached, cachedPiece{sp.end - sp.start, sp.id})
	}
	st.cache[string(key)] = ref
	p.emit(st)
}
