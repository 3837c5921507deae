package nemotron_test

import (
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

// A quantized GGUF maps and binds up to its matrices, which the CPU backend cannot yet
// multiply by: the error names the tensor and its dtype.
func TestGGUFQuantizedRefused(t *testing.T) {
	_, err := nemotron.LoadGGUF(ggufPath("small-c-q8_0.gguf"), cpuBackend(t, backend.Exact), nemotron.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "Q8_0") {
		t.Errorf("error %v, want one naming Q8_0", err)
	}
}
