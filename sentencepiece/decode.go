package sentencepiece

import (
	"fmt"
	"unicode/utf8"
)

// Decode returns the text of ids, as sentencepiece's DecodeIds does:
//   - control pieces (<s>, </s>, <pad>) decode to nothing;
//   - the unknown piece decodes to the model's unk_surface, by default " ⁇ ";
//   - consecutive byte pieces are joined and read as UTF-8, each byte that does not start
//     a valid character becoming U+FFFD;
//   - U+2581 becomes a space, except that when the model adds a dummy prefix, the U+2581
//     starting the first piece that produces text is dropped (so Decode(Encode(s)) == s).
//
// An id outside [0, VocabSize()) is an error, as in sentencepiece.
func (p *Processor) Decode(ids []int32) (string, error) {
	var st decodeState
	st.init(p)
	buf := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		var err error
		if buf, err = st.next(buf, id); err != nil {
			return "", err
		}
	}
	return string(st.drain(buf, true)), nil
}

// decodeState is the state Decode carries from piece to piece, shared by Decode and the
// streaming Decoder so that the two cannot disagree.
type decodeState struct {
	p *Processor
	// bosWS: a leading U+2581 may still be the dummy prefix (is_bos_ws in
	// sentencepiece_processor.cc); bosWSSeen: the last piece had one, which was dropped.
	bosWS, bosWSSeen bool
	wrote            bool   // some text has been produced
	pending          []byte // bytes of byte pieces not yet turned into text
	stripWS          bool   // the model strips the dummy prefix when decoding
}

func (st *decodeState) init(p *Processor) {
	n := p.model.Normalizer
	*st = decodeState{p: p, bosWS: true, pending: st.pending[:0],
		stripWS: n.AddDummyPrefix || n.RemoveExtraWhitespaces}
}

func (st *decodeState) next(dst []byte, id int32) ([]byte, error) {
	p := st.p
	if id < 0 || int(id) >= len(p.pieces) {
		return dst, fmt.Errorf("sentencepiece: invalid id %d (vocabulary has %d pieces)", id, len(p.pieces))
	}
	t := p.decodeType[id]
	if t == Byte {
		st.pending = append(st.pending, byte(p.byteValue[id]))
		return st.drain(dst, false), nil
	}
	dst = st.drain(dst, true)
	if st.bosWSSeen || st.wrote {
		st.bosWS = false
	}
	var text string
	st.bosWSSeen = false
	switch t {
	case Control:
	case Unknown:
		text = p.model.Trainer.UnkSurface
	default:
		text = p.surfaces[id]
		if st.bosWS && st.stripWS && p.leadingWS[id] {
			text = text[1:] // the surface starts with the space U+2581 became
			// With remove_extra_whitespaces every leading U+2581 goes, piece after piece,
			// until some text is produced.
			st.bosWSSeen = !p.model.Normalizer.RemoveExtraWhitespaces
		}
	}
	if text != "" {
		st.wrote = true
	}
	return append(dst, text...), nil
}

// drain appends the text of the pending bytes: every complete character, and every byte
// that cannot start one as U+FFFD. With all, the byte run has ended, so an incomplete
// character at the end is malformed too: each of its bytes becomes U+FFFD.
func (st *decodeState) drain(dst []byte, all bool) []byte {
	b := st.pending
	for len(b) > 0 && (all || utf8.FullRune(b)) {
		// FullRune is true once the bytes so far decide the first character either way,
		// so later bytes cannot change what we emit here.
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
		st.wrote = true
	}
	st.pending = append(st.pending[:0], b...)
	return dst
}

// Decoder decodes a stream of ids one at a time, as a model generates them. The text it
// returns, concatenated, equals Decode of all the ids: it holds back the bytes of a
// character split across byte pieces until the character is complete, and drops the
// dummy-prefix space only at the start of the stream.
type Decoder struct {
	st  decodeState
	buf []byte
}

// NewDecoder returns a Decoder at the start of a stream.
func (p *Processor) NewDecoder() *Decoder {
	d := &Decoder{}
	d.st.init(p)
	return d
}

// Next adds one id to the stream and returns the text that is now complete, possibly "".
// An invalid id returns an error and leaves the stream as it was.
func (d *Decoder) Next(id int32) (string, error) {
	var err error
	d.buf, err = d.st.next(d.buf[:0], id)
	if err != nil {
		return "", err
	}
	return string(d.buf), nil
}

// Flush ends the stream's current run of byte pieces and returns what it held: an
// incomplete character decodes to one U+FFFD per byte, as Decode does at the end of the
// ids. The stream may continue with Next.
func (d *Decoder) Flush() string {
	d.buf = d.st.drain(d.buf[:0], true)
	return string(d.buf)
}

// Pending reports whether bytes of an incomplete character are being held back.
func (d *Decoder) Pending() bool { return len(d.st.pending) > 0 }

// Reset returns the decoder to the start of a new stream, discarding held bytes.
func (d *Decoder) Reset() { d.st.init(d.st.p) }
