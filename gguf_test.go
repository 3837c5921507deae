package minitron

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Load takes a GGUF file: its tokenizer is the checkpoint's, a quantized file is dequantized
// with a warning, and greedy text generation agrees with the checkpoint directory.
func TestLoadGGUF(t *testing.T) {
	dir := filepath.Join("testdata", "models", "small-c")
	ref, err := Load(dir, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ctx := context.Background()
	opts := GenerateOptions{MaxTokens: 12}
	want, err := ref.Generate(ctx, "The quick brown fox", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"small-c-f32.gguf", "small-c-bf16.gguf", "small-c-q8_0.gguf"} {
		var warnings []string
		path := filepath.Join("testdata", "gguf", file)
		m, err := Load(path, Options{Threads: 1, Warn: func(s string) { warnings = append(warnings, s) }})
		if err != nil {
			t.Fatal(err)
		}
		quantized := strings.Contains(file, "q8_0")
		if warned := slices.ContainsFunc(warnings, func(s string) bool { return strings.Contains(s, "26 Q8_0") }); warned != quantized || m.Dir != path {
			t.Errorf("%s: warnings %q (want one of dequantization: %v), Dir %q", file, warnings, quantized, m.Dir)
		}
		if got, want := m.Tokenizer.Encode("The quick brown fox"), ref.Tokenizer.Encode("The quick brown fox"); !slices.Equal(got, want) {
			t.Errorf("%s: tokenized %v, the directory %v", file, got, want)
		}
		if !quantized {
			got, err := m.Generate(ctx, "The quick brown fox", opts, nil)
			if err != nil || got.Text != want.Text {
				t.Errorf("%s: generated %q, %v; the directory %q", file, got.Text, err, want.Text)
			}
		}
		tok, err := LoadTokenizer(path)
		if err != nil || !slices.Equal(tok.Encode("x y"), ref.Tokenizer.Encode("x y")) {
			t.Errorf("%s: LoadTokenizer: %v", file, err)
		}
		m.Close()
	}
}
