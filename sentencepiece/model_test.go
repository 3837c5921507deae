package sentencepiece

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseModelFields(t *testing.T) {
	m := loadReferenceModel(t, "tok-a")
	want := TrainerSpec{
		ModelType: BPE, VocabSize: 4096, ByteFallback: true, SplitDigits: true,
		AllowWhitespaceOnly: true, UnkID: 1, BOSID: 2, EOSID: 3, PadID: 0,
		UnkPiece: "<unk>", BOSPiece: "<s>", EOSPiece: "</s>", PadPiece: "<pad>", UnkSurface: " ⁇ ",
	}
	if m.Trainer != want {
		t.Errorf("trainer spec\n got %+v\nwant %+v", m.Trainer, want)
	}
	n := m.Normalizer
	if n.Name != "identity" || len(n.PrecompiledCharsmap) != 0 || !n.AddDummyPrefix || n.RemoveExtraWhitespaces || !n.EscapeWhitespaces {
		t.Errorf("normalizer spec %+v", n)
	}
	if len(m.Pieces) != 4096 || m.Pieces[271] != (Piece{"▁a", -9, Normal}) {
		t.Errorf("%d pieces, piece 271 = %+v", len(m.Pieces), m.Pieces[271])
	}
	if m.Denormalizer != nil || len(m.SelfTest) != 0 {
		t.Errorf("denormalizer %v, %d self-test samples; want none", m.Denormalizer, len(m.SelfTest))
	}
}

// Proto2 rules that change what a model means.
func TestParseModelProtoRules(t *testing.T) {
	var w protoWriter
	// A sub-message given twice is merged: the second trainer_spec only sets byte_fallback.
	var t1, t2 protoWriter
	t1.int32(3, int32(BPE))
	t1.str(45, "<u>")
	t2.bool(35, true)
	w.bytes(2, t1.b)
	w.bytes(2, t2.b)
	// An enum value outside the schema is ignored: the piece stays normal.
	var pw protoWriter
	pw.str(1, "x")
	pw.int32(3, 99)
	w.bytes(1, pw.b)
	// Unknown fields of every wire type, a group included, are skipped.
	w.varint(1000, 7)
	w.key(1001, wireFixed64)
	w.b = append(w.b, make([]byte, 8)...)
	w.key(1002, wireStartGroup)
	w.varint(1, 1)
	w.key(1002, wireEndGroup)
	w.float32(1003, 1)

	m, err := ParseModel(w.b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Trainer.ModelType != BPE || !m.Trainer.ByteFallback || m.Trainer.UnkPiece != "<u>" {
		t.Errorf("merged trainer spec = %+v", m.Trainer)
	}
	if len(m.Pieces) != 1 || m.Pieces[0].Type != Normal {
		t.Errorf("pieces = %+v, want one normal piece", m.Pieces)
	}
	// Absent specs take the schema's defaults.
	if n := m.Normalizer; !n.AddDummyPrefix || !n.RemoveExtraWhitespaces || !n.EscapeWhitespaces {
		t.Errorf("default normalizer spec = %+v", n)
	}
	if m.Trainer.BOSID != 1 || m.Trainer.PadID != -1 || m.Trainer.UnkSurface != " ⁇ " {
		t.Errorf("default trainer spec = %+v", m.Trainer)
	}
}

func TestMalformedModels(t *testing.T) {
	base := loadReferenceModel(t, "tok-a")
	good := marshalModel(base)
	if _, err := Parse(good); err != nil {
		t.Fatalf("re-encoded tok-a does not load: %v", err)
	}
	mutate := func(f func(m *Model)) []byte {
		m := cloneModel(base)
		f(m)
		return marshalModel(m)
	}
	piece := func(i int) int { return 300 + i } // some normal pieces
	tests := []struct {
		name string
		data []byte
		want string // in the error
	}{
		{"empty file", nil, "model type unigram is not supported"},
		{"truncated varint", []byte{0x0a, 0x80}, "truncated"},
		{"length past the end", []byte{0x0a, 0x05, 'a'}, "exceeds"},
		{"huge length", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, "exceeds"},
		{"varint too long", append([]byte{0x08}, bytes.Repeat([]byte{0xff}, 11)...), "varint"},
		{"field number zero", []byte{0x02, 0x00}, "invalid field number 0"},
		{"wire type 7", []byte{0x0f}, "invalid wire type"},
		{"stray end of group", []byte{0x0c}, "unexpected end of group"},
		{"unterminated group", []byte{0x0b, 0x08, 0x01}, "truncated"},
		{"mismatched group", []byte{0x0b, 0x14}, "closed by"},
		{"deep groups", bytes.Repeat([]byte{0x0b}, 100), "too deeply"},
		{"pieces field of wrong wire type", []byte{0x08, 0x01}, "wire type"},
		{"score of wrong wire type", []byte{0x0a, 0x02, 0x10, 0x01}, "score"},
		{"truncated piece", good[:len(good)/2], ""},
		{"unigram", mutate(func(m *Model) { m.Trainer.ModelType = Unigram }), "model type unigram"},
		{"word", mutate(func(m *Model) { m.Trainer.ModelType = Word }), "model type word"},
		{"char", mutate(func(m *Model) { m.Trainer.ModelType = Char }), "model type char"},
		{"charsmap", mutate(func(m *Model) {
			m.Normalizer.Name = "nmt_nfkc"
			m.Normalizer.PrecompiledCharsmap = []byte{1, 2, 3, 4, 5}
		}), `normalizer "nmt_nfkc"`},
		{"denormalizer", mutate(func(m *Model) {
			m.Denormalizer = &NormalizerSpec{Name: "x", PrecompiledCharsmap: []byte{1}}
		}), "denormalizer"},
		{"no pieces", mutate(func(m *Model) { m.Pieces = nil }), "no pieces"},
		{"empty piece", mutate(func(m *Model) { m.Pieces[piece(0)].Piece = "" }), "is empty"},
		{"duplicate piece", mutate(func(m *Model) { m.Pieces[piece(1)].Piece = m.Pieces[piece(0)].Piece }), "already defined"},
		{"no unknown piece", mutate(func(m *Model) { m.Pieces[1].Type = Control }), "no unknown piece"},
		{"two unknown pieces", mutate(func(m *Model) { m.Pieces[piece(0)].Type = Unknown }), "second unknown piece"},
		{"byte piece without byte fallback", mutate(func(m *Model) { m.Trainer.ByteFallback = false }), "byte_fallback is false"},
		{"malformed byte piece", mutate(func(m *Model) { m.Pieces[6].Piece = "<0x0g>" }), "is invalid"},
		{"lower-case byte piece", mutate(func(m *Model) { m.Pieces[16].Piece = "<0x0a>" }), "is invalid"},
		{"missing byte piece", mutate(func(m *Model) { m.Pieces[16].Type = Control }), "no piece <0x0A>"},
		{"user-defined piece not UTF-8", mutate(func(m *Model) { m.Pieces[4].Piece = "<\xff>" }), "not NUL-free UTF-8"},
		{"failed self-test", mutate(func(m *Model) {
			m.SelfTest = []SelfTestSample{{"Hello world", "▁H el lo ▁w or ld"}, {"a", "▁b"}}
		}), `self-test failed: "a" encodes to "▁a", want "▁b"`},
	}
	for _, tt := range tests {
		p, err := Parse(tt.data)
		if err == nil {
			t.Errorf("%s: Parse succeeded with %d pieces", tt.name, p.VocabSize())
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.name, err, tt.want)
		}
	}

	// A passing self-test loads.
	if _, err := Parse(mutate(func(m *Model) {
		m.SelfTest = []SelfTestSample{{"Hello world", "▁H el lo ▁w or ld"}}
	})); err != nil {
		t.Errorf("passing self-test: %v", err)
	}
}

// Every prefix and every single-byte corruption of a real model parses or fails cleanly.
func TestCorruptModelsDoNotPanic(t *testing.T) {
	good := marshalModel(loadReferenceModel(t, "tok-b"))
	for n := 0; n < len(good); n += 1 + n/8 {
		Parse(good[:n])
	}
	for i := 0; i < len(good); i += 211 {
		for _, b := range []byte{0x00, 0x80, 0xff, good[i] ^ 0x08} {
			c := bytes.Clone(good)
			c[i] = b
			if p, err := Parse(c); err == nil {
				p.Encode("Hello world, 猫 \xff <extra_id_0>")
			}
		}
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.model")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) error %v, want it to name %s", err, missing)
	}
	bad := writeFile(t, dir, "bad.model", "\x0f")
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load(bad) error %v, want it to name %s", err, bad)
	}
}

func TestPieceTypeNames(t *testing.T) {
	var got []string
	for tp := PieceType(0); tp <= 7; tp++ {
		got = append(got, tp.String())
	}
	for mt := ModelType(0); mt <= 5; mt++ {
		got = append(got, mt.String())
	}
	want := "PieceType(0) normal unknown control user-defined unused byte PieceType(7) ModelType(0) unigram bpe word char ModelType(5)"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("names = %s\nwant %s", s, want)
	}
}

// tinyModel is a small valid BPE model, a seed for FuzzParse.
func tinyModel() *Model {
	m := &Model{Trainer: defaultTrainerSpec(), Normalizer: defaultNormalizerSpec()}
	m.Trainer.ModelType = BPE
	m.Normalizer.RemoveExtraWhitespaces = false
	m.Pieces = []Piece{
		{"<unk>", 0, Unknown}, {"<s>", 0, Control}, {"</s>", 0, Control}, {"<u>", 0, UserDefined},
		{"ab", -1, Normal}, {"▁a", -2, Normal}, {"▁ab", -3, Normal}, {"a", -4, Normal},
		{"b", -5, Normal}, {"▁", -6, Normal}, {"ba", -7, Unused},
	}
	return m
}

func TestTinyModel(t *testing.T) {
	p, err := Parse(marshalModel(tinyModel()))
	if err != nil {
		t.Fatal(err)
	}
	// As sentencepiece encodes it: in "bab", "ab" outscores the unused "ba"; the unknown
	// "c" and "d" become one unknown piece.
	if got, want := p.EncodePieces("ab bab<u>cd"), []string{"▁ab", "▁", "b", "ab", "<u>", "cd"}; !slices.Equal(got, want) {
		t.Errorf("EncodePieces = %q, want %q", got, want)
	}
	if got, err := p.Decode(p.Encode("ab bab<u>cd")); err != nil || got != "ab bab<u> ⁇ " {
		t.Errorf("Decode(Encode) = %q, %v", got, err)
	}
}

// FuzzParse feeds arbitrary bytes to Parse: it must return an error or a Processor that
// encodes and decodes without panicking.
func FuzzParse(f *testing.F) {
	f.Add(marshalModel(tinyModel()))
	m := tinyModel()
	m.Trainer.ByteFallback = true
	for b := range 256 {
		m.Pieces = append(m.Pieces, Piece{fmt.Sprintf("<0x%02X>", b), 0, Byte})
	}
	f.Add(marshalModel(m))
	f.Add([]byte{0x0b, 0x14})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		ids := p.Encode("ab bab <u>\xff猫 ▁")
		if _, err := p.Decode(ids); err != nil {
			t.Fatalf("Decode(Encode) of a parsed model: %v", err)
		}
		d := p.NewDecoder()
		for id := range int32(p.VocabSize()) {
			d.Next(id)
		}
		d.Flush()
	})
}
