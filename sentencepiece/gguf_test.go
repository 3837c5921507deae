package sentencepiece

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/checkpoint/gguf"
)

// The golden GGUF files (../testdata/gguf) were converted from models whose tokenizer is
// tok-a; their manifest holds llama.cpp's own ids for a few texts on each file.

var ggufDir = filepath.Join("..", "testdata", "gguf")

// ggufGoldens lists the golden GGUF files that carry a tokenizer, with the model each was made from.
func ggufGoldens(t *testing.T) map[string]string {
	t.Helper()
	var man struct {
		Files map[string]struct {
			Source string `json:"source"`
		} `json:"files"`
	}
	data, err := os.ReadFile(filepath.Join(ggufDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, f := range man.Files {
		g, err := gguf.Open(filepath.Join(ggufDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if HasGGUF(g) {
			out[name] = filepath.Base(f.Source)
		}
		g.Close()
	}
	if len(out) < 7 {
		t.Fatalf("%d golden GGUF files with a tokenizer, want the 7 of the manifest", len(out))
	}
	return out
}

func openGGUF(t *testing.T, name string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(filepath.Join(ggufDir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// userDefinedIn reports whether text spells out one of p's user-defined pieces, which a GGUF
// tokenizer no longer knows as such.
func userDefinedIn(p *Processor, text string) bool {
	for id := range p.VocabSize() {
		if p.Type(int32(id)) == UserDefined && strings.Contains(text, p.IDToPiece(int32(id))) {
			return true
		}
	}
	return false
}

// The model rebuilt from GGUF metadata is the tokenizer.model's, but for user-defined pieces
// (normal in GGUF) and what encoding does not read (trainer options, self-test samples).
func TestGGUFModelIsTokenizerModel(t *testing.T) {
	want, _ := loadGolden(t, "tok-a")
	wm := want.Model()
	for name := range ggufGoldens(t) {
		t.Run(name, func(t *testing.T) {
			m, err := ModelFromGGUF(openGGUF(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Pieces) != len(wm.Pieces) {
				t.Fatalf("%d pieces, want %d", len(m.Pieces), len(wm.Pieces))
			}
			for i, p := range m.Pieces {
				w := wm.Pieces[i]
				if w.Type == UserDefined {
					w.Type = Normal
				}
				if p != w {
					t.Errorf("piece %d is %+v, want %+v", i, p, w)
				}
			}
			tr, wt := m.Trainer, wm.Trainer
			if tr.ModelType != wt.ModelType || tr.ByteFallback != wt.ByteFallback || tr.UnkID != wt.UnkID ||
				tr.BOSID != wt.BOSID || tr.EOSID != wt.EOSID || tr.PadID != wt.PadID ||
				tr.UnkPiece != wt.UnkPiece || tr.BOSPiece != wt.BOSPiece || tr.EOSPiece != wt.EOSPiece || tr.PadPiece != wt.PadPiece ||
				tr.TreatWhitespaceAsSuffix != wt.TreatWhitespaceAsSuffix || tr.UnkSurface != wt.UnkSurface {
				t.Errorf("trainer spec\n got %+v\nwant %+v", tr, wt)
			}
			n, wn := m.Normalizer, wm.Normalizer
			if n.AddDummyPrefix != wn.AddDummyPrefix || n.RemoveExtraWhitespaces != wn.RemoveExtraWhitespaces ||
				n.EscapeWhitespaces != wn.EscapeWhitespaces || len(n.PrecompiledCharsmap) != len(wn.PrecompiledCharsmap) {
				t.Errorf("normalizer spec\n got %+v\nwant %+v", n, wn)
			}
		})
	}
}

// Every golden GGUF file's tokenizer gives the ids of sentencepiece itself (the tok-a goldens,
// the golden models' text prompts) and of llama.cpp on the same file (the manifest's).
func TestGGUFTokenizerGoldens(t *testing.T) {
	ref, g := loadGolden(t, "tok-a")
	var man struct {
		Files map[string]struct {
			LlamaCpp map[string][]int32 `json:"tokenize_llama_cpp"`
		} `json:"files"`
	}
	data, err := os.ReadFile(filepath.Join(ggufDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	for name, model := range ggufGoldens(t) {
		t.Run(name, func(t *testing.T) {
			tok, err := LoadGGUF(openGGUF(t, name))
			if err != nil {
				t.Fatal(err)
			}
			skipped := 0
			for _, c := range g.Encode {
				if userDefinedIn(ref, c.Text) {
					skipped++
					continue
				}
				if got := tok.Processor.Encode(c.Text); !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, c.IDs)
				}
			}
			if skipped > 1 {
				t.Errorf("%d golden texts spell out user-defined pieces, want at most 1", skipped)
			}
			for _, c := range g.Decode {
				if got, err := tok.Decode(c.IDs); err != nil || got != c.Decoded {
					t.Errorf("Decode(%v) = %q, %v; want %q", c.IDs, got, err, c.Decoded)
				}
			}

			llama := man.Files[name].LlamaCpp
			if len(llama) < 8 {
				t.Errorf("manifest has %d llama.cpp tokenizations, want 8", len(llama))
			}
			for text, want := range llama {
				if got := tok.Processor.Encode(text); !slices.Equal(got, want) {
					t.Errorf("Encode(%q)\n got %v\nwant llama.cpp's %v", text, got, want)
				}
			}

			// The golden models' prompts, tokenized with BOS by transformers: their text is
			// what sentencepiece decodes them to.
			gm := readModelGolden(t, model)
			if !tok.AddBOS || tok.BOSID != 2 || tok.AddEOS {
				t.Errorf("AddBOS %v BOSID %d AddEOS %v, want BOS 2 added and no EOS", tok.AddBOS, tok.BOSID, tok.AddEOS)
			}
			for _, c := range gm {
				if !strings.HasPrefix(c.Name, "prompt") {
					continue
				}
				text, err := ref.Decode(c.IDs[1:])
				if err != nil {
					t.Fatal(err)
				}
				if got := tok.Encode(text); !slices.Equal(got, c.IDs) {
					t.Errorf("%s: Encode(%q)\n got %v\nwant %v", c.Name, text, got, c.IDs)
				}
			}
		})
	}
}

type modelCase struct {
	Name string  `json:"name"`
	IDs  []int32 `json:"ids"`
}

func readModelGolden(t *testing.T, model string) []modelCase {
	t.Helper()
	var g struct {
		Cases []modelCase `json:"cases"`
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "models", model, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

// tokenizerKVs are the tokenizer.ggml.* entries of f.
func tokenizerKVs(f *gguf.File) []gguf.KV {
	var kvs []gguf.KV
	for _, kv := range f.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			kvs = append(kvs, kv)
		}
	}
	return kvs
}

func encodeKVs(t *testing.T, kvs []gguf.KV) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gguf.Encode(&b, kvs, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// GGUFMetadata writes what the converter wrote into the golden files, byte for byte: all of
// it for the files that state add_space_prefix, all but those two flags for small-c-bf16
// (made by the converter as is, which leaves them out).
func TestGGUFMetadataAsConverter(t *testing.T) {
	for _, c := range []struct{ file, model string }{
		{"small-c-f32.gguf", "small-c"}, {"tiny-a-f32.gguf", "tiny-a"}, {"small-c-bf16.gguf", "small-c"},
	} {
		t.Run(c.file, func(t *testing.T) {
			tok, err := LoadDir(filepath.Join("..", "testdata", "models", c.model))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tok.GGUFMetadata(tok.VocabSize())
			if err != nil {
				t.Fatal(err)
			}
			want := tokenizerKVs(openGGUF(t, c.file))
			if len(want) == len(got)-2 {
				got = got[:len(want)]
			}
			var gk, wk []string
			for i := range got {
				gk = append(gk, got[i].Key)
			}
			for i := range want {
				wk = append(wk, want[i].Key)
			}
			if !slices.Equal(gk, wk) {
				t.Fatalf("keys\n got %q\nwant %q", gk, wk)
			}
			for i := range got {
				if !bytes.Equal(encodeKVs(t, got[i:i+1]), encodeKVs(t, want[i:i+1])) {
					t.Errorf("%s differs from the converter's", got[i].Key)
				}
			}
		})
	}
}

// A vocabulary larger than the tokenizer is padded as the converter pads it, and a GGUF file
// of the written metadata gives back a tokenizer that encodes as the original.
func TestGGUFMetadataRoundTrip(t *testing.T) {
	tok, err := LoadDir(filepath.Join("..", "testdata", "tokenizers", "tok-a"))
	if err != nil {
		t.Fatal(err)
	}
	tok.AddBOS, tok.AddEOS = false, true
	n := tok.VocabSize()
	kvs, err := tok.GGUFMetadata(n + 3)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := gguf.Encode(&b, kvs, nil); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse("roundtrip.gguf", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	back, err := LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if back.VocabSize() != n+3 || back.IDToPiece(int32(n+2)) != "[PAD4098]" || back.Type(int32(n)) != Unused || back.Score(int32(n)) != -10000 {
		t.Errorf("padding: %d pieces, last %q", back.VocabSize(), back.IDToPiece(int32(n+2)))
	}
	if back.AddBOS || !back.AddEOS || back.EOSID != tok.EOSID {
		t.Errorf("AddBOS %v AddEOS %v EOSID %d, want false, true, %d", back.AddBOS, back.AddEOS, back.EOSID, tok.EOSID)
	}
	if _, err := tok.GGUFMetadata(n - 1); err == nil {
		t.Error("metadata for a vocabulary smaller than the tokenizer: no error")
	}
	_, g := loadGolden(t, "tok-a")
	for _, c := range g.Encode {
		if userDefinedIn(tok.Processor, c.Text) {
			continue
		}
		if got, want := back.Encode(c.Text), tok.Encode(c.Text); !slices.Equal(got, want) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, got, want)
		}
	}
}

// Malformed tokenizer metadata is refused, naming the key.
func TestGGUFTokenizerErrors(t *testing.T) {
	tok, err := LoadDir(filepath.Join("..", "testdata", "tokenizers", "tok-a"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := tok.GGUFMetadata(tok.VocabSize())
	if err != nil {
		t.Fatal(err)
	}
	set := func(key string, v any) []gguf.KV {
		kvs := slices.Clone(good)
		for i := range kvs {
			if kvs[i].Key == key {
				if v == nil {
					return slices.Delete(kvs, i, i+1)
				}
				kvs[i].Value = v
				return kvs
			}
		}
		return append(kvs, gguf.KV{Key: key, Value: v})
	}
	types := slices.Clone(good[4].Value.([]int32))
	types[7] = 9
	for _, c := range []struct {
		kvs  []gguf.KV
		want string
	}{
		{set(ggufModel, "gpt2"), ggufModel},
		{set(ggufModel, nil), ggufModel},
		{set(ggufTokens, nil), ggufTokens},
		{set(ggufScores, []float32{1, 2}), ggufScores},
		{set(ggufTypes, types), ggufTypes},
		{set(ggufBOS, uint32(1<<20)), ggufBOS},
		{set(ggufEOS, "x"), ggufEOS},
		{set(ggufAddBOS, uint8(1)), ggufAddBOS},
		{set(ggufSpacePrefix, "yes"), ggufSpacePrefix},
	} {
		var b bytes.Buffer
		if err := gguf.Encode(&b, c.kvs, nil); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse("bad.gguf", b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadGGUF(f); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.gguf") {
			t.Errorf("%s: error %v, want one naming bad.gguf and the key", c.want, err)
		}
	}
}
