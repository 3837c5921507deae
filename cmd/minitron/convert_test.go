package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/checkpoint"
	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// convert -format gguf writes, for each -quant, the file llama.cpp made from the same
// checkpoint: the same tensors byte for byte, the same model and tokenizer metadata (that of
// the golden files made with the tokenizer's add_space_prefix stated; llama.cpp also writes
// general.name and general.size_label, which are labels). The file loads back in minitron
// with the checkpoint's tensors, bit for bit where the type is the checkpoint's, and decodes
// the golden greedy ids.
func TestConvertGGUF(t *testing.T) {
	dir := modelDir("small-c")
	labels := []string{"general.name", "general.size_label"}
	for _, c := range []struct{ quant, golden string }{
		{"", "small-c-bf16.gguf"}, {"f32", "small-c-f32.gguf"}, {"Q8_0", "small-c-q8_0.gguf"},
		{"q6_k", "small-c-q6_k.gguf"}, {"q4_k", "small-c-q4_k_m.gguf"},
	} {
		t.Run(c.golden, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.gguf")
			args := []string{"convert", "-model", dir, "-format", "gguf", "-o", out}
			if c.quant != "" {
				args = append(args, "-quant", c.quant)
			}
			code, stdout, stderr := runCmd(args...)
			if code != 0 || strings.TrimSpace(stdout) != out {
				t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
			}
			got, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			want, err := gguf.Open(ggufFile(c.golden))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			spm, err := gguf.Open(ggufFile("small-c-f32.gguf")) // the one with the tokenizer flags
			if err != nil {
				t.Fatal(err)
			}
			defer spm.Close()

			if !slices.Equal(got.Names(), want.Names()) {
				t.Fatalf("tensors %v, llama.cpp's %v", got.Names(), want.Names())
			}
			for _, name := range want.Names() {
				gi, gb, _ := got.Raw(name)
				wi, wb, _ := want.Raw(name)
				if gi.Type != wi.Type || !reflect.DeepEqual(gi.Shape, wi.Shape) || !bytes.Equal(gb, wb) {
					t.Errorf("%s: %s%v, llama.cpp's %s%v, bytes equal %v", name, gi.Type, gi.Shape, wi.Type, wi.Shape, bytes.Equal(gb, wb))
				}
			}
			var keys []string
			for _, kv := range got.KV {
				keys = append(keys, kv.Key)
				ref := want
				if strings.HasPrefix(kv.Key, "tokenizer.") {
					ref = spm
				}
				if v, ok := ref.Get(kv.Key); !ok || !reflect.DeepEqual(v, kv.Value) {
					t.Errorf("metadata %s differs from llama.cpp's", kv.Key)
				}
			}
			for _, kv := range spm.KV {
				if !slices.Contains(keys, kv.Key) && !slices.Contains(labels, kv.Key) {
					t.Errorf("metadata %s is missing", kv.Key)
				}
			}
			if quantized := c.quant != "" && c.quant != "f32"; !quantized {
				checkSameTensors(t, dir, out)
			}
		})
	}
}

// openConverted opens the checkpoint in dir and the GGUF file at path, the tensors minitron
// binds from it; the file closes with the test.
func openConverted(t *testing.T, dir, path string) (nemotron.Config, *checkpoint.Checkpoint, *nemotron.GGUFSource) {
	t.Helper()
	cfg, ck := goldentest.OpenCheckpoint(t, dir)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	src, err := nemotron.NewGGUFSource(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, ck, src
}

// checkSameTensors checks that the tensors minitron binds from the GGUF file at path are
// the checkpoint's in dir, bit for bit.
func checkSameTensors(t *testing.T, dir, path string) {
	t.Helper()
	cfg, ck, src := openConverted(t, dir, path)
	for _, p := range cfg.Params() {
		w, _, _ := ck.Tensor(p.Name)
		g, where, ok := src.Tensor(p.Name)
		if !ok {
			t.Fatalf("%s: missing", where)
		}
		if g.DType == w.DType {
			if !bytes.Equal(g.Data, w.Data) {
				t.Errorf("%s: %s bytes differ from the checkpoint's", where, g.DType)
			}
			continue
		}
		// The norms are stored in F32 as 1 + w, and come back as (1 + w) - 1.
		if gf, wf := g.ToF32(), w.ToF32(); !slices.Equal(gf, wf) {
			t.Errorf("%s: %s values differ from the checkpoint's %s", where, g.DType, w.DType)
		}
	}
}

// The converted file runs: generate -model on it decodes the transformers greedy ids.
func TestConvertGGUFGenerates(t *testing.T) {
	dir := modelDir("small-c")
	out := filepath.Join(t.TempDir(), "small-c.gguf")
	if code, _, stderr := runCmd("convert", "-model", dir, "-format", "gguf", "-o", out); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	for _, g := range goldentest.Load(t, dir).Greedy {
		code, stdout, stderr := runCmd("generate", "-model", out, "-ids", idList(g.PromptIDs), "-temp", "0",
			"-n", fmt.Sprint(len(g.NewIDs)), "-print-ids", "-threads", "1")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", g.Case, code, stderr)
		}
		var got []int32
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || !slices.Equal(got, g.NewIDs) {
			t.Errorf("%s: got %s, want %v", g.Case, stdout, g.NewIDs)
		}
	}
}

// Bad flags are usage errors (exit 2), before anything is read.
func TestConvertUsage(t *testing.T) {
	dir := modelDir("small-c")
	out := filepath.Join(t.TempDir(), "x.gguf")
	for _, args := range [][]string{
		{"-model", dir, "-format", "gguf", "-quant", "q3_k", "-o", out},
		{"-model", dir, "-format", "onnx", "-o", out},
		{"-model", dir, "-format", "safetensors", "-quant", "q8_0", "-o", out},
		{"-model", dir, "-quant", "none", "-o", out},
		{"-model", dir, "-format", "gguf"},
	} {
		if code, _, stderr := runCmd(append([]string{"convert"}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, stderr)
		}
	}
}

// A tokenizer trained without the dummy prefix (tiny-b's tok-b) keeps it off through GGUF:
// the converted file tokenizes as the directory does. (llama.cpp would refuse this file for
// its head_dim ≠ hidden/heads, which convert warns of.)
func TestConvertGGUFNoSpacePrefix(t *testing.T) {
	dir := modelDir("tiny-b")
	out := filepath.Join(t.TempDir(), "tiny-b.gguf")
	code, _, stderr := runCmd("convert", "-model", dir, "-format", "gguf", "-o", out)
	if code != 0 || !strings.Contains(stderr, "llama.cpp's nemotron architecture wants") {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	for _, text := range []string{"Hello world", " leading space", "a\ttab\nand lines  "} {
		_, want, _ := runCmd("tokenize", "-model", dir, text)
		code, got, stderr := runCmd("tokenize", "-model", out, text)
		if code != 0 || got != want || want == "" {
			t.Errorf("tokenize %q: exit %d, %q, want the directory's %q: %s", text, code, got, want, stderr)
		}
	}
}

// convert -quant q8_0|q4_k (GGUF without -format) writes what quantizing at load makes: every
// tensor of the file as nemotron.QuantizeTensor stores the checkpoint's, bit for bit; and the
// file generates what the directory loaded with -quant generates.
func TestConvertQuant(t *testing.T) {
	dir := modelDir("small-c")
	for _, q := range []nemotron.Quant{nemotron.QuantQ8_0, nemotron.QuantQ4_K} {
		t.Run(string(q), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.gguf")
			code, stdout, stderr := runCmd("convert", "-model", dir, "-quant", string(q), "-o", out)
			if code != 0 || strings.TrimSpace(stdout) != out {
				t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
			}
			cfg, ck, src := openConverted(t, dir, out)
			quantized := 0
			for _, p := range cfg.Params() {
				w, _, _ := ck.Tensor(p.Name)
				want, err := nemotron.QuantizeTensor(cfg, q, p, w)
				if err != nil {
					t.Fatal(err)
				}
				got, where, ok := src.Tensor(p.Name)
				switch {
				case !ok:
					t.Fatalf("%s: missing", where)
				case p.Role == nemotron.RoleNorm:
					if gf, wf := got.ToF32(), want.ToF32(); !slices.Equal(gf, wf) {
						t.Errorf("%s: norm values differ from the checkpoint's", where)
					}
				case got.DType != want.DType || !bytes.Equal(got.Data, want.Data):
					t.Errorf("%s: %s, quantizing at load makes %s (or other bytes)", where, got.DType, want.DType)
				default:
					quantized++
				}
			}
			if quantized != len(cfg.Params())-2-4*cfg.Layers {
				t.Errorf("%d matrices quantized alike", quantized)
			}
			prompt := idList(goldentest.Load(t, dir).Greedy[0].PromptIDs)
			gen := func(args ...string) string {
				code, stdout, stderr := runCmd(append([]string{"generate", "-ids", prompt, "-temp", "0", "-n", "12", "-print-ids", "-threads", "1"}, args...)...)
				if code != 0 {
					t.Fatalf("generate %v: exit %d: %s", args, code, stderr)
				}
				return stdout
			}
			if a, b := gen("-model", out), gen("-model", dir, "-quant", string(q)); a != b {
				t.Errorf("the converted file generates %s, the directory with -quant %s", a, b)
			}
		})
	}
}
