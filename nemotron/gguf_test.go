package nemotron_test

import (
	"archive/zip"
	"context"
	"encoding/binary"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

func ggufPath(name string) string { return filepath.Join("..", "testdata", "gguf", name) }

// The F32 and BF16 GGUF files, converted by llama.cpp's rules from the golden checkpoints,
// must be the same model: the transformers goldens within the exact tolerance.
func TestGGUFGoldenLogits(t *testing.T) {
	for _, c := range []struct{ file, model string }{
		{"tiny-a-f32.gguf", "tiny-a"}, {"small-c-f32.gguf", "small-c"}, {"small-c-bf16.gguf", "small-c"},
	} {
		t.Run(c.file, func(t *testing.T) {
			m, err := nemotron.LoadGGUF(ggufPath(c.file), cpuBackend(t, backend.Exact), nemotron.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			want, err := nemotron.LoadConfig(filepath.Join(goldentest.Dir(1, c.model), "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			got := m.Config
			want.TransformersVers = ""
			if got.NormEps != float64(float32(want.NormEps)) {
				t.Errorf("norm eps %v, config.json %v", got.NormEps, want.NormEps)
			}
			got.NormEps = want.NormEps
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config\n got %+v\nwant %+v", got, want)
			}
			g := goldentest.Load(t, goldentest.Dir(1, c.model))
			worst := goldentest.CheckLogits(t, m, g, exact)
			t.Logf("%s: max |logit error| %.3g against the transformers goldens", c.file, worst)
		})
	}
}

func TestGGUFNames(t *testing.T) {
	cfg := nemotron.Minitron4B()
	f, err := gguf.Open(ggufPath("small-c-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	for _, p := range cfg.Params() {
		n := nemotron.GGUFName(p)
		if seen[n] {
			t.Errorf("%s twice", n)
		}
		seen[n] = true
	}
	for _, want := range []string{"token_embd.weight", "blk.0.attn_q.weight", "blk.31.ffn_down.weight", "output_norm.bias", "output.weight"} {
		if !seen[want] {
			t.Errorf("%s not mapped", want)
		}
	}
	// Every tensor of a real file is mapped.
	small, _ := nemotron.GGUFConfig(f)
	names := map[string]bool{}
	for _, p := range small.Params() {
		names[nemotron.GGUFName(p)] = true
	}
	for _, n := range f.Names() {
		if !names[n] {
			t.Errorf("%s: no Hugging Face name", n)
		}
	}
}

// readNPZ reads the float32 arrays of an uncompressed .npz (a zip of .npy files, as
// numpy.savez writes them), by member name without ".npy".
func readNPZ(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	out := map[string][]float32{}
	for _, m := range z.File {
		r, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		// .npy version 1: magic, 2 version bytes, uint16 header length, a Python dict literal.
		if len(b) < 10 || string(b[:6]) != "\x93NUMPY" || b[6] != 1 {
			t.Fatalf("%s: %s is not a version 1 .npy", path, m.Name)
		}
		hl := int(binary.LittleEndian.Uint16(b[8:]))
		header := string(b[10 : 10+hl])
		if !strings.Contains(header, "'descr': '<f4'") || !strings.Contains(header, "'fortran_order': False") {
			t.Fatalf("%s: %s: header %q, want little-endian float32 in C order", path, m.Name, header)
		}
		data := b[10+hl:]
		v := make([]float32, len(data)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		out[strings.TrimSuffix(m.Name, ".npy")] = v
	}
	return out
}

// A quantized GGUF, its tensors kept in their block formats on the CPU backend (the exact
// quantized kernels) or dequantized to F32 (a float model), must give logits, by prefill and
// by decoding, that match the float64 forward pass over the same dequantized tensors (the
// .npz references, made with gguf-py's dequantization and checked against llama.cpp's own)
// within the exact tolerance. This checks the dequantizers, the kernels and the name mapping
// end to end.
func TestGGUFQuantizedLogits(t *testing.T) {
	for _, c := range []struct {
		file, model string
		dequantize  bool
	}{
		{"tiny-a-q8_0", "tiny-a", false}, {"small-c-q8_0", "small-c", false}, {"small-c-q6_k", "small-c", false}, {"small-c-q4_k_m", "small-c", false},
		{"tiny-a-q8_0", "tiny-a", true}, {"small-c-q4_k_m", "small-c", true},
	} {
		how := "kept"
		if c.dequantize {
			how = "dequantized"
		}
		t.Run(c.file+"/"+how, func(t *testing.T) {
			f, err := gguf.Open(ggufPath(c.file + ".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, err := nemotron.GGUFConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			src, err := nemotron.NewGGUFSource(cfg, f)
			if err != nil {
				t.Fatal(err)
			}
			src.Dequantize = c.dequantize
			m, err := nemotron.New(cfg, src, cpuBackend(t, backend.Exact))
			if err != nil {
				t.Fatal(err)
			}
			ref := readNPZ(t, ggufPath(c.file+".logits.npz"))
			g := goldentest.Load(t, goldentest.Dir(1, c.model))
			ctx := context.Background()
			var worst float64
			for _, cs := range g.Cases {
				want, ok := ref[cs.Name]
				if !ok || len(want) != len(cs.IDs)*cfg.VocabSize {
					t.Fatalf("%s: reference of %d values for %d positions", cs.Name, len(want), len(cs.IDs))
				}
				s, err := m.NewState(len(cs.IDs))
				if err != nil {
					t.Fatal(err)
				}
				prefill, err := s.Forward(ctx, cs.IDs, nemotron.AllLogits, nil)
				if err != nil {
					t.Fatal(err)
				}
				worst = max(worst, goldentest.Close(t, cs.Name+" prefill", prefill, want, exact.Logits))
				s.Reset()
				var decode []float32
				for _, id := range cs.IDs {
					lg, err := s.Forward(ctx, []int32{id}, nemotron.LastLogits, nil)
					if err != nil {
						t.Fatal(err)
					}
					decode = append(decode, lg...)
				}
				s.Close()
				worst = max(worst, goldentest.Close(t, cs.Name+" decode", decode, want, exact.Logits))
			}
			t.Logf("%s %s: max |logit error| %.3g against the float64 reference", c.file, how, worst)
		})
	}
}
