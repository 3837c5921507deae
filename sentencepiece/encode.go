package sentencepiece

import (
	"math"
	"strings"
	"unicode/utf8"
)

// encoder holds the tables Encode needs, built once per model.
//
// bpe_model.cc looks up the concatenated string of every candidate pair in a hash map of
// pieces. We key merges by the pair of symbol ids instead (pairs), which needs no string
// hashing: every symbol is at all times either a single character or a piece it was merged
// into, so precomputing, for every mergeable piece, each split into two such symbols gives
// exactly the merges bpe_model.cc can find. Characters that are not pieces themselves but
// occur as one side of such a split get pseudo-ids above the vocabulary.
type encoder struct {
	p *Processor

	addDummyPrefix, removeExtraWS, escapeWS, suffix bool
	byteFallback                                    bool

	user userTrie

	bmp       []charIDs        // rune < 0x10000 -> ids; indexed directly, it is the hot path
	astral    map[rune]charIDs // the other runes that have ids
	pairs     pairTable        // (left merge id, right merge id) -> merged piece id
	outOf     []int32          // merged piece id -> output id; nil when they are equal
	hasUnused bool             // the model has unused pieces, so results are resegmented

	// BPE can be run on independent segments of the text when no merge can cross a
	// segment boundary: the priority queue stays small, and segments can be cached. A
	// merge across the boundary between characters x and y would make a piece that
	// contains "xy", so the boundary is safe if no mergeable piece does. We cut before a
	// space symbol that follows a character x other than a space symbol, unless x is in
	// wsJoin (some piece has "x▁"; none has in models trained to split by whitespace), and
	// before a space symbol that follows a user-defined symbol (those never merge).
	// segmentWS is false when unused pieces make the result depend on the global merge
	// order (see maybePush).
	segmentWS bool
	wsRune    rune          // the space symbol: U+2581, or ' ' when spaces are not escaped
	wsJoin    map[rune]bool // characters that some mergeable piece has before wsRune
	noCache   bool          // for benchmarks: run BPE on every segment
}

// charIDs are a character's ids: merge is the id BPE merges with (a piece id, a pseudo-id,
// or -1 if no merge can involve it); out is PieceToID of the character, what it encodes
// to if it is never merged.
type charIDs struct{ merge, out int32 }

func (e *encoder) init(p *Processor) {
	m := p.model
	e.p = p
	e.addDummyPrefix = m.Normalizer.AddDummyPrefix
	e.removeExtraWS = m.Normalizer.RemoveExtraWhitespaces
	e.escapeWS = m.Normalizer.EscapeWhitespaces
	e.suffix = m.Trainer.TreatWhitespaceAsSuffix
	e.byteFallback = m.Trainer.ByteFallback
	e.wsRune = '▁'
	if !e.escapeWS {
		e.wsRune = ' '
	}

	for id, t := range p.types {
		switch t {
		case UserDefined:
			e.user.add(p.pieces[id], p.PieceToID(p.pieces[id]))
		case Unused:
			e.hasUnused = true
		}
	}

	// Single characters: what they merge as and what they encode to.
	e.bmp = make([]charIDs, 0x10000)
	for i := range e.bmp {
		e.bmp[i] = charIDs{-1, p.unk}
	}
	e.astral = make(map[rune]charIDs)
	for s, id := range p.pieceIDs {
		if r, ok := singleRune(s); ok {
			c := e.char(r)
			c.out = id
			if mid, ok := p.mergeIDs[s]; ok {
				c.merge = mid
			}
			e.setChar(r, c)
		}
	}

	// Every split of every mergeable piece into two symbols that can exist.
	n := int32(len(p.pieces))
	next := n // next pseudo-id
	type merge struct{ l, r, id int32 }
	var merges []merge
	symbolID := func(s string) (int32, bool) {
		if id, ok := p.mergeIDs[s]; ok {
			return id, true
		}
		r, ok := singleRune(s)
		if !ok {
			return -1, false // neither a piece nor a character: never a symbol
		}
		c := e.char(r)
		if c.merge < 0 {
			c.merge = next
			next++
			e.setChar(r, c)
		}
		return c.merge, true
	}
	e.segmentWS = !e.hasUnused
	e.wsJoin = make(map[rune]bool)
	for s, id := range p.mergeIDs {
		if !utf8.ValidString(s) {
			continue // never formed: symbols are valid UTF-8
		}
		prev := e.wsRune
		for _, r := range s {
			if r == e.wsRune && prev != e.wsRune {
				e.wsJoin[prev] = true
			}
			prev = r
		}
		for k, w := 0, 0; k < len(s); k += w {
			_, w = utf8.DecodeRuneInString(s[k:])
			if k == 0 {
				continue
			}
			l, r := s[:k], s[k:]
			// Resolve both sides before creating pseudo-ids, so that a split that can
			// never happen does not create one.
			if !maySymbol(p, l) || !maySymbol(p, r) {
				continue
			}
			lid, _ := symbolID(l)
			rid, _ := symbolID(r)
			merges = append(merges, merge{lid, rid, id})
		}
	}
	e.pairs.init(len(merges))
	for _, mg := range merges {
		e.pairs.put(mg.l, mg.r, mg.id)
	}

	for s, id := range p.mergeIDs {
		if out := p.pieceIDs[s]; out != id {
			if e.outOf == nil {
				e.outOf = make([]int32, n)
				for i := range e.outOf {
					e.outOf[i] = int32(i)
				}
			}
			e.outOf[id] = out
		}
	}
}

func maySymbol(p *Processor, s string) bool {
	if _, ok := p.mergeIDs[s]; ok {
		return true
	}
	_, ok := singleRune(s)
	return ok
}

// singleRune returns the rune s consists of, if it is exactly one valid rune.
func singleRune(s string) (rune, bool) {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || n != len(s) || (r == utf8.RuneError && n == 1) {
		return 0, false
	}
	return r, true
}

func (e *encoder) char(r rune) charIDs {
	if r < 0x10000 {
		return e.bmp[r]
	}
	if c, ok := e.astral[r]; ok {
		return c
	}
	return charIDs{-1, e.p.unk}
}

func (e *encoder) setChar(r rune, c charIDs) {
	if r < 0x10000 {
		e.bmp[r] = c
	} else {
		e.astral[r] = c
	}
}

// encodeState is the scratch memory of one Encode call, pooled across calls.
type encodeState struct {
	norm  []byte
	syms  []symbol
	heap  pairHeap
	spans []span
	out   output
	rev   map[int32]int32 // unused piece -> length of its left part (bpe_model.cc's rev_merge)

	cache  map[string]cacheRef // segment -> its pieces in cached
	cached []cachedPiece
}

type cacheRef struct{ off, n int32 }

// symbol is one node of the doubly linked list of symbols BPE merges.
type symbol struct {
	start, end int32 // bytes of the normalized text; start == end once merged away
	prev, next int32 // neighbours, -1 at the ends of the segment
	merge      int32 // id for pair lookup; -1 for no merges
	out        int32 // id this symbol encodes to
	pair       int32 // bpeLinear: the piece this symbol makes with the next, or -1
	frozen     bool  // a user-defined symbol: never merged
}

// span is one piece of the result, before byte fallback: bytes of the normalized text and
// the id sentencepiece's PieceToId gives them.
type span struct{ start, end, id int32 }

// Encode returns the ids of text, without BOS or EOS.
func (p *Processor) Encode(text string) []int32 {
	return p.AppendEncode(nil, text)
}

// AppendEncode appends the ids of text to dst and returns the extended slice.
func (p *Processor) AppendEncode(dst []int32, text string) []int32 {
	st := p.scratch.Get().(*encodeState)
	defer p.scratch.Put(st)
	st.out = output{ids: dst}
	p.encodeSpans(st, text)
	dst = st.out.ids
	st.out = output{}
	return dst
}

// EncodePieces returns the pieces of text, as sentencepiece's encode with out_type=str.
// Runs of unknown characters (without byte fallback) come back as one piece.
func (p *Processor) EncodePieces(text string) []string {
	st := p.scratch.Get().(*encodeState)
	defer p.scratch.Put(st)
	st.out = output{wantPieces: true}
	p.encodeSpans(st, text)
	pieces := st.out.pieces
	st.out = output{}
	return pieces
}

// output collects the result of an Encode call, segment by segment.
type output struct {
	wantPieces bool
	ids        []int32
	pieces     []string
	prevUnk    bool
}

// emit moves st.spans to st.out, applying sentencepiece's rules for unknown pieces
// (PopulateSentencePieceText): with byte fallback an unknown piece becomes the byte
// pieces of its UTF-8; without, a run of unknown pieces becomes one.
func (p *Processor) emit(st *encodeState) {
	out := &st.out
	for _, sp := range st.spans {
		isUnk := p.types[sp.id] == Unknown
		w := st.norm[sp.start:sp.end]
		switch {
		case isUnk && p.enc.byteFallback:
			for _, b := range w {
				if out.wantPieces {
					out.pieces = append(out.pieces, p.pieces[p.byteIDs[b]])
				} else {
					out.ids = append(out.ids, p.byteIDs[b])
				}
			}
		case isUnk && out.prevUnk:
			if out.wantPieces {
				out.pieces[len(out.pieces)-1] += string(w)
			}
		case out.wantPieces && isUnk:
			out.pieces = append(out.pieces, string(w)) // the text, not "<unk>"
		case out.wantPieces:
			out.pieces = append(out.pieces, p.pieces[sp.id])
		default:
			out.ids = append(out.ids, sp.id)
		}
		out.prevUnk = isUnk
	}
	st.spans = st.spans[:0]
}

// encodeSpans normalizes text into st.norm, splits it into symbols and runs BPE on them,
// one segment at a time, emitting the results to st.out.
func (p *Processor) encodeSpans(st *encodeState, text string) {
	e := &p.enc
	st.norm = e.normalize(st.norm[:0], text)
	st.spans = st.spans[:0]
	st.syms = st.syms[:0]
	if e.hasUnused {
		clear(st.rev)
	}
	norm := st.norm
	prev := e.wsRune // the previous character; -1 after a user-defined symbol
	for i := 0; i < len(norm); {
		s := symbol{start: int32(i), prev: int32(len(st.syms)) - 1, next: -1, merge: -1}
		if n, id := longestMatch(&e.user, norm[i:]); n > 0 {
			s.end, s.out, s.frozen = int32(i+n), id, true
			prev = -1
		} else {
			var c charIDs
			var r rune
			if b := norm[i]; b < utf8.RuneSelf {
				r, s.end = rune(b), int32(i+1)
				c = e.bmp[b]
			} else {
				// sentencepiece steps by the length its lead byte announces; the
				// normalized text is valid UTF-8, so that is one rune.
				var n int
				r, n = utf8.DecodeRune(norm[i:])
				s.end = int32(i + n)
				c = e.char(r)
			}
			s.merge, s.out = c.merge, c.out
			if r == e.wsRune && prev != e.wsRune && e.segmentWS && (len(e.wsJoin) == 0 || !e.wsJoin[prev]) && len(st.syms) > 0 {
				p.segment(st)
				st.syms = st.syms[:0]
				s.prev = -1
			}
			prev = r
		}
		if len(st.syms) > 0 {
			st.syms[len(st.syms)-1].next = int32(len(st.syms))
		}
		st.syms = append(st.syms, s)
		i = int(s.end)
	}
	if len(st.syms) > 0 {
		p.segment(st)
	}
}

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

// normalize appends the normalized text to dst, following sentencepiece's
// Normalizer::Normalize with an empty charsmap (identity normalization): user-defined
// symbols pass through whole, each malformed UTF-8 byte becomes U+FFFD, spaces become
// U+2581, a dummy space is added in front (or at the end with
// treat_whitespace_as_suffix), and with remove_extra_whitespaces leading, trailing and
// repeated spaces are dropped.
func (e *encoder) normalize(dst []byte, s string) []byte {
	if s == "" {
		return dst
	}
	if e.removeExtraWS {
		for s != "" {
			piece, n := e.normalizePrefix(s)
			if piece != " " {
				break
			}
			s = s[n:]
		}
		if s == "" {
			return dst
		}
	}
	start := len(dst)
	if !e.suffix && e.addDummyPrefix {
		dst = e.appendWS(dst)
	}
	prevSpace := e.removeExtraWS
	for s != "" {
		var piece string
		var n int
		if b := s[0]; b < utf8.RuneSelf && !e.user.first[b] {
			piece, n = s[:1], 1 // the common case, inlined
		} else {
			piece, n = e.normalizePrefix(s)
		}
		s = s[n:]
		if e.removeExtraWS {
			if prevSpace {
				piece = strings.TrimLeft(piece, " ")
			}
			if piece == "" {
				continue
			}
			prevSpace = piece[len(piece)-1] == ' '
		}
		switch {
		case !e.escapeWS:
			dst = append(dst, piece...)
		case len(piece) == 1 && piece[0] == ' ':
			dst = append(dst, spaceSymbol...)
		case len(piece) == 1:
			dst = append(dst, piece[0])
		default:
			for i := 0; i < len(piece); i++ {
				if piece[i] == ' ' {
					dst = append(dst, spaceSymbol...)
				} else {
					dst = append(dst, piece[i])
				}
			}
		}
	}
	if e.removeExtraWS {
		ws := " "
		if e.escapeWS {
			ws = spaceSymbol
		}
		for len(dst)-start >= len(ws) && string(dst[len(dst)-len(ws):]) == ws {
			dst = dst[:len(dst)-len(ws)]
		}
	}
	if e.suffix && e.addDummyPrefix {
		dst = e.appendWS(dst)
	}
	return dst
}

func (e *encoder) appendWS(dst []byte) []byte {
	if e.escapeWS {
		return append(dst, spaceSymbol...)
	}
	return append(dst, ' ')
}

// normalizePrefix is Normalizer::NormalizePrefix without a charsmap: the normalized form
// of the first character (or user-defined symbol) of s, and how many bytes it consumed.
func (e *encoder) normalizePrefix(s string) (string, int) {
	if n, _ := longestMatch(&e.user, s); n > 0 {
		return s[:n], n
	}
	if n, ok := validUTF8Rune(s); ok {
		return s[:n], n
	}
	return "\uFFFD", 1
}

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

// queued is a candidate merge waiting in the priority queue: the symbol at left with the
// one that follows it. The right symbol is not stored; it is left's next when popped, and
// the pair is stale unless the two still add up to size bytes (bpe_model.cc's test: a
// symbol only grows by absorbing its right neighbour, so a changed pair changes length).
type queued struct {
	key  uint64 // priority: score, then leftmost first (see queueKey)
	size int32  // bytes of the merged piece
	id   int32  // the merged piece
}

// queueKey packs bpe_model.cc's order (higher score first, then lower left index) into one
// integer, larger first: the score's bits made to sort as integers, then ^left.
func queueKey(score float32, left int32) uint64 {
	bits := math.Float32bits(score)
	switch {
	case score == 0:
		bits = 1 << 31 // -0 == +0, as the C++ comparison has it
	case bits>>31 != 0:
		bits = ^bits
	default:
		bits |= 1 << 31
	}
	return uint64(bits)<<32 | uint64(^uint32(left))
}

func (q queued) left() int32 { return int32(^uint32(q.key)) }

// pairHeap is a binary max-heap of queued merges. Written out rather than through
// container/heap to avoid interface calls in the hot loop.
type pairHeap []queued

func (h *pairHeap) reset() { *h = (*h)[:0] }

func (h *pairHeap) push(q queued) {
	s := append(*h, q)
	i := len(s) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if s[parent].key >= q.key {
			break
		}
		s[i] = s[parent]
		i = parent
	}
	s[i] = q
	*h = s
}

func (h *pairHeap) pop() queued {
	s := *h
	top := s[0]
	last := s[len(s)-1]
	s = s[:len(s)-1]
	i := 0
	for {
		c := 2*i + 1
		if c >= len(s) {
			break
		}
		if r := c + 1; r < len(s) && s[r].key > s[c].key {
			c = r
		}
		if s[c].key <= last.key {
			break
		}
		s[i] = s[c]
		i = c
	}
	if len(s) > 0 {
		s[i] = last
	}
	*h = s
	return top
}

// pairTable is an open-addressing hash map from a pair of merge ids to the merged id. A slot
// holds key and value together, so that a lookup, in a table of megabytes for a large
// vocabulary, costs one cache miss.
type pairTable struct {
	slots []pairSlot
	shift uint
}

type pairSlot struct{ l, r, id int32 } // l == -1: free

func (t *pairTable) init(n int) {
	size, bits := 8, uint(3)
	for size < 2*n {
		size *= 2
		bits++
	}
	t.slots = make([]pairSlot, size)
	for i := range t.slots {
		t.slots[i].l = -1
	}
	t.shift = 64 - bits
}

func (t *pairTable) slot(l, r int32) int {
	key := uint64(uint32(l))<<32 | uint64(uint32(r))
	return int((key * 0x9E3779B97F4A7C15) >> t.shift) // Fibonacci hashing
}

func (t *pairTable) put(l, r, id int32) {
	mask := len(t.slots) - 1
	for i := t.slot(l, r); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.l < 0 || (s.l == l && s.r == r) {
			*s = pairSlot{l, r, id}
			return
		}
	}
}

func (t *pairTable) get(l, r int32) int32 {
	mask := len(t.slots) - 1
	for i := t.slot(l, r); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.l == l && s.r == r {
			return s.id
		}
		if s.l < 0 {
			return -1
		}
	}
}

// userTrie finds the longest user-defined symbol at the start of a string, as
// sentencepiece's PrefixMatcher does.
type userTrie struct {
	first [256]bool // bytes some symbol starts with, to skip the walk for the rest
	nodes []trieNode
}

type trieNode struct {
	next []trieEdge
	id   int32 // PieceToID of the symbol ending here, or -1
}

type trieEdge struct {
	b    byte
	node int32
}

func (t *userTrie) add(s string, id int32) {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, trieNode{id: -1})
	}
	t.first[s[0]] = true
	n := int32(0)
	for i := 0; i < len(s); i++ {
		child := int32(-1)
		for _, e := range t.nodes[n].next {
			if e.b == s[i] {
				child = e.node
				break
			}
		}
		if child < 0 {
			child = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{id: -1})
			t.nodes[n].next = append(t.nodes[n].next, trieEdge{s[i], child})
		}
		n = child
	}
	t.nodes[n].id = id
}

// longestMatch returns the length and id of the longest symbol that s starts with, or 0, -1.
func longestMatch[S string | []byte](t *userTrie, s S) (int, int32) {
	if len(s) == 0 || !t.first[s[0]] {
		return 0, -1
	}
	best, bestID := 0, int32(-1)
	n := int32(0)
	for i := 0; i < len(s); i++ {
		child := int32(-1)
		for _, e := range t.nodes[n].next {
			if e.b == s[i] {
				child = e.node
				break
			}
		}
		if child < 0 {
			break
		}
		n = child
		if id := t.nodes[n].id; id >= 0 {
			best, bestID = i+1, id
		}
	}
	return best, bestID
}
