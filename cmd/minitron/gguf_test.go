package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

func ggufFile(name string) string { return filepath.Join("..", "..", "testdata", "gguf", name) }

// ggufGreedy are the manifest's greedy continuations of a golden GGUF file: the float64
// reference over the file's own tensors (the transformers goldens, for F32 and BF16 files).
func ggufGreedy(t *testing.T, file string) map[string]struct {
	PromptIDs    []int32 `json:"prompt_ids"`
	ReferenceIDs []int32 `json:"reference_ids"`
} {
	t.Helper()
	data, err := os.ReadFile(ggufFile("manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		Files map[string]struct {
			Greedy map[string]struct {
				PromptIDs    []int32 `json:"prompt_ids"`
				ReferenceIDs []int32 `json:"reference_ids"`
			} `json:"greedy"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	g := man.Files[file].Greedy
	if len(g) != 3 {
		t.Fatalf("%s: %d greedy cases in the manifest, want 3", file, len(g))
	}
	return g
}

func idList(ids []int32) string {
	return strings.Trim(strings.ReplaceAll(fmt.Sprint(ids), " ", ","), "[]")
}

// generate -model FILE.gguf decodes the golden greedy ids: the transformers ones for the F32
// and BF16 files, the reference over the dequantized tensors for a quantized file (which runs
// quantized on the CPU, without a warning). -model DIR -quant q8_0 decodes the quantized
// file's references too: quantizing at load makes llama-quantize's tensors.
func TestGenerateGGUF(t *testing.T) {
	for _, file := range []string{"small-c-f32.gguf", "small-c-bf16.gguf", "small-c-q8_0.gguf"} {
		for name, g := range ggufGreedy(t, file) {
			code, out, stderr := runCmd("generate", "-model", ggufFile(file), "-ids", idList(g.PromptIDs),
				"-temp", "0", "-n", fmt.Sprint(len(g.ReferenceIDs)), "-print-ids", "-threads", "1")
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", file, name, code, stderr)
			}
			var got []int32
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%s %s: output %q: %v", file, name, out, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(g.ReferenceIDs) {
				t.Errorf("%s %s:\n got %v\nwant %v", file, name, got, g.ReferenceIDs)
			}
			if strings.Contains(stderr, "dequantized to F32") {
				t.Errorf("%s: a warning of dequantization on the CPU: %q", file, stderr)
			}
		}
	}
	for name, g := range ggufGreedy(t, "small-c-q8_0.gguf") {
		code, out, stderr := runCmd("generate", "-model", modelDir("small-c"), "-quant", "q8_0", "-ids", idList(g.PromptIDs),
			"-temp", "0", "-n", fmt.Sprint(len(g.ReferenceIDs)), "-print-ids", "-threads", "1")
		if code != 0 {
			t.Fatalf("-quant q8_0 %s: exit %d: %s", name, code, stderr)
		}
		var got []int32
		if err := json.Unmarshal([]byte(out), &got); err != nil || fmt.Sprint(got) != fmt.Sprint(g.ReferenceIDs) {
			t.Errorf("-quant q8_0 %s:\n got %s\nwant %v", name, out, g.ReferenceIDs)
		}
	}
}

// A GGUF file's tokenizer is the checkpoint's: generate from a text prompt and tokenize give
// the same output for the file as for the directory it was converted from.
func TestGGUFTextAsDirectory(t *testing.T) {
	for _, args := range [][]string{
		{"generate", "-prompt", "Once upon a time", "-n", "8", "-temp", "0", "-threads", "1"},
		{"tokenize", "  two leading spaces, a\ttab and\nnew lines\n\n"},
		{"tokenize", "-json", "naïve café 日本語 emoji 🙂"},
		{"tokenize", "-decode", "2,1080,647,304,296,276,987,3"},
	} {
		_, want, stderr := runCmd(append([]string{args[0], "-model", modelDir("small-c")}, args[1:]...)...)
		if want == "" {
			t.Fatalf("%v on the directory: no output: %s", args, stderr)
		}
		code, got, stderr := runCmd(append([]string{args[0], "-model", ggufFile("small-c-bf16.gguf")}, args[1:]...)...)
		if code != 0 || got != want {
			t.Errorf("%v: exit %d, output\n%q\nwant the directory's\n%q\n%s", args, code, got, want, stderr)
		}
	}
}

// A missing .gguf path is an error about that file; a GGUF file without tokenizer metadata is
// refused, saying so.
func TestGGUFErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.gguf")
	code, _, stderr := runCmd("generate", "-model", missing, "-prompt", "hi")
	if code != 1 || !strings.Contains(stderr, "missing.gguf") {
		t.Errorf("missing file: exit %d, %q", code, stderr)
	}
	notGGUF := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(notGGUF, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd("generate", "-model", notGGUF, "-prompt", "hi")
	if code != 1 || !strings.Contains(stderr, "config.json") {
		t.Errorf("not a GGUF file: exit %d, %q", code, stderr)
	}

	dir := modelDir("tiny-a")
	cfg, ck := goldentest.OpenCheckpoint(t, dir)
	bare := filepath.Join(t.TempDir(), "bare.gguf")
	if err := nemotron.WriteGGUF(bare, cfg, ck, "F32", nil); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd("generate", "-model", bare, "-prompt", "hi")
	if code != 1 || !strings.Contains(stderr, "bare.gguf: no tokenizer") {
		t.Errorf("GGUF without a tokenizer: exit %d, %q", code, stderr)
	}
}
