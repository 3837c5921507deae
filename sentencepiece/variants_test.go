package sentencepiece

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

// Variants of the reference models exercise the rules the reference models themselves
// never reach: resegmentation of unused pieces, score ties, unknown-run merging without
// byte fallback, remove_extra_whitespaces, unescaped spaces, whitespace as suffix, and
// user-defined symbols that contain the space symbol.
//
// Their expected outputs, testdata/variants_golden.json, come from Google's sentencepiece
// (the Python binding): `go test -run TestVariants -write-variants DIR` writes the variant
// models, then testdata/gen_variants.py DIR encodes and decodes with them. The models are
// rebuilt here from the reference ones by the same code, so they are not checked in.
var writeVariants = flag.String("write-variants", "", "write the variant models to `dir` for testdata/gen_variants.py")

type variant struct {
	name, base string // base: the reference tokenizer under ../testdata/tokenizers
	mutate     func(m *Model)
}

var variants = []variant{
	{"tok-a", "tok-a", func(m *Model) {}},
	{"tok-b", "tok-b", func(m *Model) {}},
	{"a-remove-extra-ws", "tok-a", func(m *Model) { m.Normalizer.RemoveExtraWhitespaces = true }},
	{"b-remove-extra-ws", "tok-b", func(m *Model) { m.Normalizer.RemoveExtraWhitespaces = true }},
	{"a-no-byte-fallback", "tok-a", func(m *Model) {
		// Byte pieces must go when byte_fallback is off; as control pieces they keep their ids.
		m.Trainer.ByteFallback = false
		m.Trainer.UnkSurface = "<?>"
		for i := range m.Pieces {
			if m.Pieces[i].Type == Byte {
				m.Pieces[i].Type = Control
			}
		}
	}},
	{"a-unused", "tok-a", func(m *Model) {
		// Every third multi-character normal piece: merged through, then split back.
		k := 0
		for i, p := range m.Pieces {
			if p.Type == Normal && utf8.RuneCountInString(p.Piece) > 1 {
				if k%3 == 0 {
					m.Pieces[i].Type = Unused
				}
				k++
			}
		}
	}},
	{"a-ties", "tok-a", func(m *Model) {
		// Coarse scores, so that most merge decisions are ties broken by position.
		for i, p := range m.Pieces {
			if p.Type == Normal {
				m.Pieces[i].Score = float32(math.Floor(float64(p.Score) / 300))
			}
		}
	}},
	{"a-flat", "tok-a", func(m *Model) {
		for i, p := range m.Pieces {
			if p.Type == Normal {
				m.Pieces[i].Score = 0
			}
		}
	}},
	{"a-ws-inside", "tok-a", func(m *Model) {
		// Pieces with a space symbol after another character, which limit where the
		// encoder may cut the text into independent segments.
		for i, s := range []string{"e▁", "s▁", ".▁", "d▁t", ",▁▁", "▁a▁"} {
			m.Pieces[300+i].Piece = s
		}
	}},
	{"a-no-escape", "tok-a", func(m *Model) { m.Normalizer.EscapeWhitespaces = false }},
	{"a-suffix", "tok-a", func(m *Model) { m.Trainer.TreatWhitespaceAsSuffix = true }},
	{"b-user-ws", "tok-b", func(m *Model) {
		// User-defined symbols that contain the space symbol and overlap each other.
		for i, p := range m.Pieces {
			switch p.Piece {
			case "▁the", "▁▁", "he", "▁▁▁▁":
				m.Pieces[i].Type = UserDefined
			}
		}
	}},
}

func loadReferenceModel(t testing.TB, name string) *Model {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizers", name, "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseModel(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func buildVariant(t testing.TB, v variant) (*Model, []byte) {
	t.Helper()
	m := cloneModel(loadReferenceModel(t, v.base))
	v.mutate(m)
	return m, marshalModel(m)
}

type variantGolden struct {
	Variants []struct {
		Name   string `json:"name"`
		Encode []struct {
			Text   *string  `json:"text"`      // the input, when it is valid UTF-8
			Hex    string   `json:"bytes_hex"` // otherwise its bytes
			IDs    []int32  `json:"ids"`
			Pieces []string `json:"pieces"`
		} `json:"encode"`
		Decode []struct {
			IDs  []int32 `json:"ids"`
			Text string  `json:"text"`
		} `json:"decode"`
	} `json:"variants"`
}

func TestVariants(t *testing.T) {
	if *writeVariants != "" {
		if err := os.MkdirAll(*writeVariants, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, v := range variants {
			_, data := buildVariant(t, v)
			if err := os.WriteFile(filepath.Join(*writeVariants, v.name+".model"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	data, err := os.ReadFile(filepath.Join("testdata", "variants_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g variantGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Variants) != len(variants) {
		t.Errorf("golden has %d variants, want %d", len(g.Variants), len(variants))
	}
	for _, gv := range g.Variants {
		t.Run(gv.Name, func(t *testing.T) {
			i := slices.IndexFunc(variants, func(v variant) bool { return v.name == gv.Name })
			if i < 0 {
				t.Fatalf("no variant %q", gv.Name)
			}
			m, _ := buildVariant(t, variants[i])
			p, err := NewProcessor(m)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for _, c := range gv.Encode {
				text := c.Hex
				if c.Text != nil {
					text = *c.Text
				} else if b, err := hex.DecodeString(c.Hex); err == nil {
					text = string(b)
				} else {
					t.Fatal(err)
				}
				if got := p.Encode(text); !slices.Equal(got, c.IDs) {
					if bad++; bad <= 5 {
						t.Errorf("Encode(%q)\n got %v\nwant %v", text, got, c.IDs)
					}
				}
				if got := p.EncodePieces(text); !slices.Equal(got, c.Pieces) {
					if bad++; bad <= 5 {
						t.Errorf("EncodePieces(%q)\n got %q\nwant %q", text, got, c.Pieces)
					}
				}
			}
			for _, c := range gv.Decode {
				got, err := p.Decode(c.IDs)
				if err != nil || got != c.Text {
					if bad++; bad <= 5 {
						t.Errorf("Decode(%v) = %q, %v; want %q", c.IDs, got, err, c.Text)
					}
				}
				if s := streamDecode(t, p, c.IDs); s != c.Text {
					if bad++; bad <= 5 {
						t.Errorf("streaming decode of %v = %q, want %q", c.IDs, s, c.Text)
					}
				}
			}
			t.Logf("%d encode and %d decode cases", len(gv.Encode), len(gv.Decode))
		})
	}
}
