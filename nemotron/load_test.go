package nemotron_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/checkpoint/safetensors"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// tinyA returns tiny-a's tensors, to be edited into broken checkpoints.
func tinyA(t *testing.T) []safetensors.Named {
	f, err := safetensors.Open(filepath.Join("..", "testdata", "models", "tiny-a", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var out []safetensors.Named
	for _, n := range f.Names() {
		h, _ := f.Tensor(n)
		out = append(out, safetensors.Named{Name: n, Host: h})
	}
	return out
}

// writeModel makes a model directory with tiny-a's config and the given tensors.
func writeModel(t *testing.T, tensors []safetensors.Named) string {
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join("..", "testdata", "models", "tiny-a", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if tensors != nil {
		if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, nil); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func edit(ts []safetensors.Named, name string, f func(*safetensors.Named) bool) []safetensors.Named {
	var out []safetensors.Named
	for _, n := range ts {
		if n.Name == name && !f(&n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	b, err := cpu.New(backend.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const q = "model.layers.1.self_attn.q_proj.weight"
	tests := []struct {
		name  string
		setup func(t *testing.T) string
		want  string
	}{
		{"missing tensor", func(t *testing.T) string {
			return writeModel(t, edit(tinyA(t), q, func(*safetensors.Named) bool { return false }))
		}, "tensor " + q + " is missing from the checkpoint (want shape [64, 64])"},
		{"wrong shape", func(t *testing.T) string {
			return writeModel(t, edit(tinyA(t), q, func(n *safetensors.Named) bool {
				n.Shape = []int{32, 128}
				return true
			}))
		}, "model.safetensors: tensor " + q + " has shape [32, 128], want [64, 64]"},
		{"integer dtype", func(t *testing.T) string {
			return writeModel(t, edit(tinyA(t), q, func(n *safetensors.Named) bool {
				n.DType, n.Shape = tensor.I16, []int{64, 64}
				return true
			}))
		}, "tensor " + q + " has dtype I16, want F32, F16, BF16 or a block format"},
		{"unexpected tensor", func(t *testing.T) string {
			return writeModel(t, append(tinyA(t), safetensors.Named{Name: "model.layers.0.self_attn.q_proj.bias", Host: tensor.Zeros(tensor.BF16, 64)}))
		}, "unexpected tensors model.layers.0.self_attn.q_proj.bias"},
		{"no weights", func(t *testing.T) string { return writeModel(t, nil) }, "no weights found"},
		{"no config", func(t *testing.T) string { return t.TempDir() }, "config.json"},
		{"truncated file", func(t *testing.T) string {
			dir := writeModel(t, tinyA(t))
			p := filepath.Join(dir, "model.safetensors")
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()-100); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "run past the end of the data"},
		{"missing shard", func(t *testing.T) string {
			dir := writeModel(t, nil)
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors"}}`), 0o644)
			return dir
		}, "model-00001-of-00002.safetensors: no such file"},
		{"tensor not in its shard", func(t *testing.T) string {
			dir := writeModel(t, nil)
			safetensors.Write(filepath.Join(dir, "a.safetensors"), tinyA(t)[:1], nil)
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {"lm_head.weight": "a.safetensors", "model.norm.weight": "a.safetensors"}}`), 0o644)
			return dir
		}, `a.safetensors: tensor "model.norm.weight" is missing (listed in model.safetensors.index.json)`},
		{"index escaping the directory", func(t *testing.T) string {
			dir := writeModel(t, nil)
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {"lm_head.weight": "../x.safetensors"}}`), 0o644)
			return dir
		}, "not a file name in the same directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := nemotron.Load(tt.setup(t), b, nemotron.LoadOptions{})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestForwardErrors(t *testing.T) {
	m := loadModel(t, "tiny-a", 1)
	if _, err := m.NewState(m.Config.MaxPositions + 1); err == nil || !strings.Contains(err.Error(), "max_position_embeddings") {
		t.Errorf("oversized state: %v", err)
	}
	s, err := m.NewState(4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, tt := range []struct {
		ids  []int32
		want string
	}{
		{nil, "no tokens"},
		{[]int32{2, 4096}, "token 4096 at index 1 is outside the vocabulary of 4096"},
		{[]int32{-1}, "token -1 at index 0"},
		{[]int32{2, 3, 4, 5, 6}, "5 tokens after 0 exceed the context of 4"},
	} {
		if _, err := s.Forward(ctx, tt.ids, nemotron.LastLogits, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Forward(%v): %v, want %q", tt.ids, err, tt.want)
		}
	}
	if s.Pos() != 0 {
		t.Errorf("failed calls moved the position to %d", s.Pos())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Forward(cancelled, []int32{2}, nemotron.LastLogits, nil); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}
