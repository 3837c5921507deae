package sentencepiece

import (
	"strconv"
	"strings"
	"testing"
)

// Decoding rules spelled out on tok-a (add_dummy_prefix). The expected texts are what
// sentencepiece's decode returned for the same ids.
func TestDecodeRules(t *testing.T) {
	p, _ := loadGolden(t, "tok-a")
	id := func(piece string) int32 {
		id, ok := p.Lookup(piece)
		if !ok {
			t.Fatalf("tok-a has no piece %q", piece)
		}
		return id
	}
	const bos, eos, pad, unk = 2, 3, 0, 1
	tests := []struct {
		name string
		ids  []int32
		want string
	}{
		{"empty", nil, ""},
		{"dummy prefix dropped", []int32{id("▁a")}, "a"},
		{"control pieces are invisible, prefix still dropped after them", []int32{bos, id("▁a")}, "a"},
		{"only the first dummy prefix", []int32{id("▁"), id("▁a")}, " a"},
		{"one of two leading spaces", []int32{id("▁▁")}, " "},
		{"controls then spaces", []int32{bos, eos, pad, id("▁▁"), id("▁b")}, "  b"},
		{"unknown is ⁇ with spaces, and ends the prefix", []int32{unk, id("▁a")}, " ⁇  a"},
		{"user-defined piece decodes as written", []int32{id("<extra_id_0>"), id("▁a")}, "<extra_id_0> a"},
		{"eos in the middle", []int32{id("▁a"), eos, id("▁b")}, "a b"},
		{"byte pieces join into UTF-8", []int32{id("<0xE7>"), id("<0x8C>"), id("<0xAB>")}, "猫"},
		{"four-byte character", []int32{id("<0xF0>"), id("<0x9F>"), id("<0x98>"), id("<0x80>")}, "😀"},
		{"text from bytes ends the prefix", []int32{id("<0x41>"), id("▁a")}, "A a"},
		{"a space byte is not the dummy prefix", []int32{bos, id("<0x20>"), id("▁a")}, "  a"},
		{"truncated character: U+FFFD per byte", []int32{id("<0xE7>"), id("<0x8C>"), id("▁a")}, "\uFFFD\uFFFD a"},
		{"bad continuation", []int32{id("<0xC3>"), id("<0x28>")}, "\uFFFD("},
		{"surrogate", []int32{id("<0xED>"), id("<0xA0>"), id("<0x80>")}, "\uFFFD\uFFFD\uFFFD"},
		{"encoded U+FFFD is valid", []int32{id("<0xEF>"), id("<0xBF>"), id("<0xBD>")}, "\uFFFD"},
		{"piece boundary ends a byte run", []int32{id("<0xE7>"), bos, id("<0x8C>"), id("<0xAB>")}, "\uFFFD\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		got, err := p.Decode(tt.ids)
		if err != nil || got != tt.want {
			t.Errorf("%s: Decode(%v) = %q, %v; want %q", tt.name, tt.ids, got, err, tt.want)
		}
		if got := streamDecode(t, p, tt.ids); got != tt.want {
			t.Errorf("%s: streaming decode of %v = %q, want %q", tt.name, tt.ids, got, tt.want)
		}
	}
}

func TestDecodeInvalidID(t *testing.T) {
	p, _ := loadGolden(t, "tok-a")
	for _, id := range []int32{-1, 4096, 1 << 30} {
		_, err := p.Decode([]int32{271, id})
		if err == nil || !strings.Contains(err.Error(), "invalid id "+strconv.Itoa(int(id))) {
			t.Errorf("Decode with id %d: error %v, want one naming the id", id, err)
		}
		d := p.NewDecoder()
		if _, err := d.Next(id); err == nil {
			t.Errorf("Decoder.Next(%d): no error", id)
		}
		// The stream is unharmed: the dummy prefix is still dropped.
		if s, err := d.Next(271); err != nil || s != "a" {
			t.Errorf("Next after an invalid id = %q, %v; want \"a\"", s, err)
		}
	}
}

// The streaming decoder returns a character only when its last byte arrives.
func TestDecoderHoldsIncompleteCharacters(t *testing.T) {
	p, _ := loadGolden(t, "tok-a")
	id := func(piece string) int32 { return p.PieceToID(piece) }
	d := p.NewDecoder()
	steps := []struct {
		id      int32
		want    string
		pending bool
	}{
		{id("▁a"), "a", false},
		{id("<0xF0>"), "", true},
		{id("<0x9F>"), "", true},
		{id("<0x98>"), "", true},
		{id("<0x80>"), "😀", false},
		{id("<0xE7>"), "", true},
		{id("<0x41>"), "\uFFFDA", false}, // 'A' cannot continue the character: decided at once
		{id("<0xE7>"), "", true},
		{id("▁b"), "\uFFFD b", false}, // a non-byte piece ends the run
		{id("<0xE7>"), "", true},
		{id("<0x8C>"), "", true},
	}
	for i, s := range steps {
		got, err := d.Next(s.id)
		if err != nil || got != s.want || d.Pending() != s.pending {
			t.Fatalf("step %d: Next(%d) = %q, %v, pending %v; want %q, pending %v", i, s.id, got, err, d.Pending(), s.want, s.pending)
		}
	}
	if got := d.Flush(); got != "\uFFFD\uFFFD" {
		t.Errorf("Flush = %q, want two U+FFFD", got)
	}
	d.Reset()
	if got, _ := d.Next(id("▁a")); got != "a" {
		t.Errorf("after Reset, Next(▁a) = %q, want the dummy prefix dropped", got)
	}
}

func TestPieceLookups(t *testing.T) {
	p, _ := loadGolden(t, "tok-a")
	tests := []struct {
		piece string
		id    int32
		typ   PieceType
		found bool
	}{
		{"<pad>", 0, Control, true},
		{"<unk>", 1, Unknown, true},
		{"<s>", 2, Control, true},
		{"</s>", 3, Control, true},
		{"<extra_id_0>", 4, UserDefined, true},
		{"<0x00>", 6, Byte, true},
		{"<0x0A>", 16, Byte, true},
		{"▁▁", 262, Normal, true},
		{"▁a", 271, Normal, true},
		{"no such piece", 1, Unknown, false},
	}
	for _, tt := range tests {
		id, found := p.Lookup(tt.piece)
		if found != tt.found || (found && id != tt.id) {
			t.Errorf("Lookup(%q) = %d, %v; want %d, %v", tt.piece, id, found, tt.id, tt.found)
		}
		if got := p.PieceToID(tt.piece); got != tt.id {
			t.Errorf("PieceToID(%q) = %d, want %d", tt.piece, got, tt.id)
		}
		if got := p.Type(tt.id); got != tt.typ {
			t.Errorf("Type(%d) = %v, want %v", tt.id, got, tt.typ)
		}
		if tt.found {
			if got := p.IDToPiece(tt.id); got != tt.piece {
				t.Errorf("IDToPiece(%d) = %q, want %q", tt.id, got, tt.piece)
			}
		}
	}
	if got := p.Score(263); got != -1 {
		t.Errorf("Score(263) = %v, want -1", got)
	}
	for _, id := range []int32{-1, 4096} {
		if p.IDToPiece(id) != "" || p.Type(id) != 0 || p.Score(id) != 0 {
			t.Errorf("id %d out of range: want zero values", id)
		}
	}
}
