package nemotron_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// Converting a golden Hugging Face checkpoint ourselves gives the files llama.cpp's converter
// and llama-quantize made from it: the same metadata values, the same tensor types (the mix)
// and the same bytes in every tensor.
func TestWriteGGUFMatchesLlamaCpp(t *testing.T) {
	for _, c := range []struct{ model, ftype, file string }{
		{"tiny-a", "F32", "tiny-a-f32.gguf"}, {"tiny-a", "Q8_0", "tiny-a-q8_0.gguf"},
		{"small-c", "F32", "small-c-f32.gguf"}, {"small-c", "BF16", "small-c-bf16.gguf"},
		{"small-c", "Q8_0", "small-c-q8_0.gguf"}, {"small-c", "Q6_K", "small-c-q6_k.gguf"},
		{"small-c", "Q4_K_M", "small-c-q4_k_m.gguf"},
	} {
		t.Run(c.file, func(t *testing.T) {
			dir := goldentest.Dir(1, c.model)
			cfg, ck := goldentest.OpenCheckpoint(t, dir)
			want, err := gguf.Open(ggufPath(c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			kvs, err := nemotron.GGUFMetadata(cfg, c.ftype)
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range kvs {
				if v, ok := want.Get(kv.Key); !ok || !reflect.DeepEqual(v, kv.Value) {
					t.Errorf("metadata %s = %v (%T), llama.cpp's file has %v (%T)", kv.Key, kv.Value, kv.Value, v, v)
				}
			}
			mix, err := nemotron.GGUFMix(cfg, c.ftype)
			if err != nil {
				t.Fatal(err)
			}
			tensors, err := nemotron.GGUFTensors(cfg, ck, mix)
			if err != nil {
				t.Fatal(err)
			}
			if len(tensors) != len(want.Names()) {
				t.Errorf("%d tensors, llama.cpp's file %d", len(tensors), len(want.Names()))
			}
			for _, got := range tensors {
				info, raw, ok := want.Raw(got.Name)
				switch {
				case !ok:
					t.Errorf("%s: not in llama.cpp's file", got.Name)
				case info.Type != got.Type || !reflect.DeepEqual(info.Shape, got.Shape):
					t.Errorf("%s: %s%v, llama.cpp's %s%v", got.Name, got.Type, got.Shape, info.Type, info.Shape)
				case !bytes.Equal(raw, got.Data):
					t.Errorf("%s (%s): bytes differ from llama.cpp's", got.Name, got.Type)
				}
			}
		})
	}
}

// A file we write loads back as the model it was written from.
func TestWriteGGUFLoads(t *testing.T) {
	dir := goldentest.Dir(1, "small-c")
	cfg, ck := goldentest.OpenCheckpoint(t, dir)
	path := filepath.Join(t.TempDir(), "small-c.gguf")
	if err := nemotron.WriteGGUF(path, cfg, ck, "BF16", nil); err != nil {
		t.Fatal(err)
	}
	m, err := nemotron.LoadGGUF(path, cpuBackend(t, backend.Exact), nemotron.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	worst := goldentest.CheckLogits(t, m, goldentest.Load(t, dir), exact)
	t.Logf("written BF16 GGUF: max |logit error| %.3g against the transformers goldens", worst)
}
