package minitron

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/nemotron"
)

// Load takes a GGUF file: its tokenizer is the checkpoint's, a quantized file stays quantized on
// the CPU (no warning), and greedy text generation agrees with the checkpoint directory, the
// quantized file's with the directory quantized the same way as it loads.
func TestLoadGGUF(t *testing.T) {
	dir := filepath.Join("testdata", "models", "small-c")
	ctx := context.Background()
	opts := GenerateOptions{MaxTokens: 12}
	generate := func(model string, q nemotron.Quant) string {
		m, err := Load(model, Options{Threads: 1, Quant: q})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		got, err := m.Generate(ctx, "The quick brown fox", opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return got.Text
	}
	want := generate(dir, nemotron.NoQuant)
	wantQ8 := generate(dir, nemotron.QuantQ8_0)
	ref, err := Load(dir, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, file := range []string{"small-c-f32.gguf", "small-c-bf16.gguf", "small-c-q8_0.gguf"} {
		var warnings []string
		path := filepath.Join("testdata", "gguf", file)
		m, err := Load(path, Options{Threads: 1, Warn: func(s string) { warnings = append(warnings, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) > 0 || m.Dir != path {
			t.Errorf("%s: warnings %q (want none), Dir %q", file, warnings, m.Dir)
		}
		if got, want := m.Tokenizer.Encode("The quick brown fox"), ref.Tokenizer.Encode("The quick brown fox"); !slices.Equal(got, want) {
			t.Errorf("%s: tokenized %v, the directory %v", file, got, want)
		}
		w := want
		if strings.Contains(file, "q8_0") {
			w = wantQ8 // llama-quantize's bytes are the ones quantizing at load makes
		}
		if got, err := m.Generate(ctx, "The quick brown fox", opts, nil); err != nil || got.Text != w {
			t.Errorf("%s: generated %q, %v; the directory %q", file, got.Text, err, w)
		}
		tok, err := LoadTokenizer(path)
		if err != nil || !slices.Equal(tok.Encode("x y"), ref.Tokenizer.Encode("x y")) {
			t.Errorf("%s: LoadTokenizer: %v", file, err)
		}
		m.Close()
	}
	// A float file quantizes as it loads; a quantized one refuses another mix, naming a tensor.
	if got := generate(filepath.Join("testdata", "gguf", "small-c-f32.gguf"), nemotron.QuantQ8_0); got != wantQ8 {
		t.Errorf("small-c-f32.gguf with q8_0: generated %q, the directory with q8_0 %q", got, wantQ8)
	}
	_, err = Load(filepath.Join("testdata", "gguf", "small-c-q8_0.gguf"), Options{Threads: 1, Quant: nemotron.QuantQ4_K})
	if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "already Q8_0") {
		t.Errorf("small-c-q8_0.gguf with q4_k: %v, want a bad option", err)
	}
	if _, err := Load(dir, Options{Quant: "q2"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("quantization q2: %v, want a bad option", err)
	}
}
