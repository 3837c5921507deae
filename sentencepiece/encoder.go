package sentencepiece

import "unicode/utf8"

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
