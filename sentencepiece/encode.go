package sentencepiece

import "unicode/utf8"

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
