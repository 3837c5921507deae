package sentencepiece

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The reference goldens (../testdata/GOLDEN.md): what sentencepiece 0.2.2 made of 34 texts
// and of random id sequences with tok-a (add_dummy_prefix) and tok-b (without).

type goldenFile struct {
	BOS    int32 `json:"bos_id"`
	EOS    int32 `json:"eos_id"`
	UNK    int32 `json:"unk_id"`
	PAD    int32 `json:"pad_id"`
	Vocab  int   `json:"vocab_size"`
	Encode []struct {
		Text    string   `json:"text"`
		IDs     []int32  `json:"ids"`
		Pieces  []string `json:"pieces"`
		Decoded string   `json:"decoded"`
	} `json:"encode"`
	Decode []struct {
		IDs     []int32 `json:"ids"`
		Decoded string  `json:"decoded"`
	} `json:"decode"`
}

var referenceTokenizers = []string{"tok-a", "tok-b"}

func loadGolden(t testing.TB, name string) (*Processor, *goldenFile) {
	t.Helper()
	dir := filepath.Join("..", "testdata", "tokenizers", name)
	p, err := Load(filepath.Join(dir, "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return p, &g
}

func TestGoldenEncode(t *testing.T) {
	for _, name := range referenceTokenizers {
		t.Run(name, func(t *testing.T) {
			p, g := loadGolden(t, name)
			if len(g.Encode) != 34 {
				t.Errorf("golden has %d encode cases, want 34", len(g.Encode))
			}
			for _, c := range g.Encode {
				if got := p.Encode(c.Text); !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
				}
				if got := p.EncodePieces(c.Text); !slices.Equal(got, c.Pieces) {
					t.Errorf("EncodePieces(%q)\n got %q\nwant %q", c.Text, got, c.Pieces)
				}
				if got, err := p.Decode(c.IDs); err != nil || got != c.Decoded {
					t.Errorf("Decode(%v) = %q, %v; want %q", c.IDs, got, err, c.Decoded)
				}
				if got := streamDecode(t, p, c.IDs); got != c.Decoded {
					t.Errorf("streaming decode of %v = %q, want %q", c.IDs, got, c.Decoded)
				}
			}
		})
	}
}

func TestGoldenDecode(t *testing.T) {
	for _, name := range referenceTokenizers {
		t.Run(name, func(t *testing.T) {
			p, g := loadGolden(t, name)
			if len(g.Decode) == 0 {
				t.Fatal("golden has no decode cases")
			}
			for _, c := range g.Decode {
				if got, err := p.Decode(c.IDs); err != nil || got != c.Decoded {
					t.Errorf("Decode(%v) = %q, %v; want %q", c.IDs, got, err, c.Decoded)
				}
				if got := streamDecode(t, p, c.IDs); got != c.Decoded {
					t.Errorf("streaming decode of %v = %q, want %q", c.IDs, got, c.Decoded)
				}
			}
		})
	}
}

func TestGoldenSpecialIDs(t *testing.T) {
	for _, name := range referenceTokenizers {
		p, g := loadGolden(t, name)
		got := []int32{p.BOS(), p.EOS(), p.UNK(), p.PAD(), int32(p.VocabSize())}
		want := []int32{g.BOS, g.EOS, g.UNK, g.PAD, int32(g.Vocab)}
		if !slices.Equal(got, want) {
			t.Errorf("%s: BOS, EOS, UNK, PAD, VocabSize = %v, want %v", name, got, want)
		}
	}
}

// streamDecode feeds ids one at a time to a Decoder and joins what it returns.
func streamDecode(t testing.TB, p *Processor, ids []int32) string {
	t.Helper()
	d := p.NewDecoder()
	var s string
	for _, id := range ids {
		out, err := d.Next(id)
		if err != nil {
			t.Fatal(err)
		}
		s += out
	}
	return s + d.Flush()
}
