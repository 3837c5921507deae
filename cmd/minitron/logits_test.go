package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/checkpoint/safetensors"
	"github.com/minitron-go/minitron/internal/near"
)

func modelDir(name string) string { return filepath.Join("..", "..", "testdata", "models", name) }

// runCmd runs the command in-process and returns its exit status and output.
func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLogitsMatchesGolden(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.safetensors")
	ids := "2,380,1554,318,1269,289,310,292,383,1550,378,1564,1588,311,303,274,356,292,1347,326" // tiny-a prompt0
	code, _, stderr := runCmd("logits", "-model", modelDir("tiny-a"), "-ids", ids, "-o", out, "-hidden")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	ref, err := safetensors.Open(filepath.Join(modelDir("tiny-a"), "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	names := []string{"logits", "embed", "layer0.out", "layer1.out", "final_norm"}
	if g := strings.Join(got.Names(), " "); g != "embed final_norm ids layer0.out layer1.out logits" {
		t.Errorf("tensors %s", g)
	}
	for _, name := range names {
		g, ok := got.Tensor(name)
		w, _ := ref.Tensor("prompt0." + name)
		if !ok || !slices.Equal(g.Shape, w.Shape) {
			t.Fatalf("%s: shape %v, want %v", name, g.Shape, w.Shape)
		}
		// float32 against the float64 transformers reference, as nemotron's golden tests.
		if err := near.Check(g.F32(), w.F32(), 1e-4); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLogitsUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"logits", "-ids", "2", "-o", filepath.Join(dir, "x")}, 2, "-model is required"},
		{[]string{"logits", "-model", modelDir("tiny-a"), "-ids", "2,x", "-o", filepath.Join(dir, "x")}, 2, `"x" is not a token id`},
		{[]string{"logits", "-model", modelDir("tiny-a"), "-ids", "2"}, 2, "-o is required"},
		{[]string{"logits", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"logits", "-model", modelDir("tiny-a"), "-ids", "2", "-quant", "q5", "-o", filepath.Join(dir, "x")}, 2, "-quant"},
		{[]string{"logits", "-model", modelDir("tiny-a"), "-ids", "2,99999", "-o", filepath.Join(dir, "x")}, 2, "token 99999 at index 1 is outside the vocabulary"},
		{[]string{"logits", "-model", filepath.Join(dir, "nope"), "-ids", "2", "-o", filepath.Join(dir, "x")}, 1, "nope"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

func TestConvertCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "converted")
	code, stdout, stderr := runCmd("convert", "-model", modelDir("tiny-a-bin"), "-o", out, "-shard-size", "600000")
	if code != 0 || strings.TrimSpace(stdout) != out {
		t.Fatalf("exit %d, %q, %s", code, stdout, stderr)
	}
	// The converted model computes exactly what the original does.
	ids := "2,380,1554,318"
	var logits [2]string
	for i, dir := range []string{modelDir("tiny-a-bin"), out} {
		file := filepath.Join(t.TempDir(), "l.safetensors")
		if code, _, stderr := runCmd("logits", "-model", dir, "-ids", ids, "-o", file); code != 0 {
			t.Fatal(stderr)
		}
		f, err := safetensors.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := f.Tensor("logits")
		logits[i] = string(l.Data)
		f.Close()
	}
	if logits[0] != logits[1] {
		t.Error("converted checkpoint gives different logits")
	}
	if code, _, stderr := runCmd("convert", "-model", modelDir("tiny-a-bin"), "-o", out); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("second convert: exit %d, %s", code, stderr)
	}
	if code, _, _ := runCmd("convert", "-o", out); code != 2 {
		t.Errorf("missing -model: exit %d", code)
	}
}
