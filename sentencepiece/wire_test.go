package sentencepiece

import (
	"encoding/binary"
	"math"
)

// Test helpers that write a Model back in the protobuf wire format, so that tests can
// build variant and malformed models from the reference ones.

type protoWriter struct{ b []byte }

func (w *protoWriter) key(num, wire int) {
	w.b = binary.AppendUvarint(w.b, uint64(num)<<3|uint64(wire))
}

func (w *protoWriter) varint(num int, v uint64) {
	w.key(num, wireVarint)
	w.b = binary.AppendUvarint(w.b, v)
}

func (w *protoWriter) int32(num int, v int32) { w.varint(num, uint64(int64(v))) }

func (w *protoWriter) bool(num int, v bool) {
	var x uint64
	if v {
		x = 1
	}
	w.varint(num, x)
}

func (w *protoWriter) bytes(num int, b []byte) {
	w.key(num, wireBytes)
	w.b = binary.AppendUvarint(w.b, uint64(len(b)))
	w.b = append(w.b, b...)
}

func (w *protoWriter) str(num int, s string) { w.bytes(num, []byte(s)) }

func (w *protoWriter) float32(num int, f float32) {
	w.key(num, wireFixed32)
	w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(f))
}

func marshalNormalizer(s *NormalizerSpec) []byte {
	var w protoWriter
	w.str(1, s.Name)
	if s.PrecompiledCharsmap != nil {
		w.bytes(2, s.PrecompiledCharsmap)
	}
	w.bool(3, s.AddDummyPrefix)
	w.bool(4, s.RemoveExtraWhitespaces)
	w.bool(5, s.EscapeWhitespaces)
	return w.b
}

// marshalModel encodes every field ParseModel reads, defaults included.
func marshalModel(m *Model) []byte {
	var w protoWriter
	for _, p := range m.Pieces {
		var pw protoWriter
		pw.str(1, p.Piece)
		pw.float32(2, p.Score)
		pw.int32(3, int32(p.Type))
		w.bytes(1, pw.b)
	}
	t := &m.Trainer
	var tw protoWriter
	tw.int32(3, int32(t.ModelType))
	tw.int32(4, t.VocabSize)
	tw.bool(24, t.TreatWhitespaceAsSuffix)
	tw.bool(25, t.SplitDigits)
	tw.bool(26, t.AllowWhitespaceOnly)
	tw.bool(35, t.ByteFallback)
	tw.int32(40, t.UnkID)
	tw.int32(41, t.BOSID)
	tw.int32(42, t.EOSID)
	tw.int32(43, t.PadID)
	tw.str(44, t.UnkSurface)
	tw.str(45, t.UnkPiece)
	tw.str(46, t.BOSPiece)
	tw.str(47, t.EOSPiece)
	tw.str(48, t.PadPiece)
	w.bytes(2, tw.b)
	w.bytes(3, marshalNormalizer(&m.Normalizer))
	if len(m.SelfTest) > 0 {
		var sw protoWriter
		for _, s := range m.SelfTest {
			var x protoWriter
			x.str(1, s.Input)
			x.str(2, s.Expected)
			sw.bytes(1, x.b)
		}
		w.bytes(4, sw.b)
	}
	if m.Denormalizer != nil {
		w.bytes(5, marshalNormalizer(m.Denormalizer))
	}
	return w.b
}

// cloneModel returns a deep copy of m, for tests that mutate it.
func cloneModel(m *Model) *Model {
	c := *m
	c.Pieces = append([]Piece(nil), m.Pieces...)
	c.SelfTest = append([]SelfTestSample(nil), m.SelfTest...)
	if m.Denormalizer != nil {
		d := *m.Denormalizer
		c.Denormalizer = &d
	}
	return &c
}
