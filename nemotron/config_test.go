package nemotron

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfigGolden(t *testing.T) {
	tests := []struct {
		model string
		want  Config
	}{
		{"tiny-a", Config{VocabSize: 4096, Hidden: 64, Intermediate: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
			MaxPositions: 512, NormEps: 1e-5, RopeTheta: 1e4, PartialRotary: 0.5, BOS: 2, EOS: []int{3}, TransformersVers: "4.44.0"}},
		{"tiny-b", Config{VocabSize: 3200, Hidden: 96, Intermediate: 320, Layers: 3, Heads: 4, KVHeads: 4, HeadDim: 32,
			MaxPositions: 512, NormEps: 1e-6, RopeTheta: 5e5, PartialRotary: 1, BOS: 2, EOS: []int{3}, TransformersVers: "5.17.0"}},
		{"small-c", Config{VocabSize: 4096, Hidden: 256, Intermediate: 768, Layers: 4, Heads: 8, KVHeads: 2, HeadDim: 32,
			MaxPositions: 512, NormEps: 1e-5, RopeTheta: 1e4, PartialRotary: 0.5, BOS: 2, EOS: []int{3}, TransformersVers: "4.44.0"}},
	}
	for _, tt := range tests {
		got, err := LoadConfig(filepath.Join("..", "testdata", "models", tt.model, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.model, got, tt.want)
		}
	}
}

func TestMinitron4BShape(t *testing.T) {
	c := Minitron4B()
	if c.NumParams() != 4190509056 {
		t.Errorf("Minitron-4B has %d parameters, want 4190509056", c.NumParams())
	}
	if c.RotaryDims() != 64 || c.QDim() != 3072 || c.KVDim() != 1024 {
		t.Errorf("rotary %d, q %d, kv %d", c.RotaryDims(), c.QDim(), c.KVDim())
	}
}

const base = `"vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4`

func TestParseConfigForms(t *testing.T) {
	tests := []struct {
		name, json string
		check      func(Config) bool
	}{
		{"defaults", `{` + base + `}`, func(c Config) bool {
			return c.KVHeads == 4 && c.HeadDim == 8 && c.PartialRotary == 0.5 && c.RopeTheta == 1e4 && c.NormEps == 1e-5 && c.MaxPositions == 4096 && c.BOS == 2
		}},
		{"rope_percent (old revisions)", `{` + base + `, "rope_percent": 0.25}`, func(c Config) bool { return c.PartialRotary == 0.25 }},
		{"kv_channels (Nemotron-Mini)", `{` + base + `, "kv_channels": 16}`, func(c Config) bool { return c.HeadDim == 16 }},
		{"head_dim wins over kv_channels", `{` + base + `, "kv_channels": 16, "head_dim": 4}`, func(c Config) bool { return c.HeadDim == 4 }},
		{"rope_parameters (transformers 5)", `{` + base + `, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0, "partial_rotary_factor": 1.0}}`,
			func(c Config) bool { return c.RopeTheta == 5e5 && c.PartialRotary == 1 }},
		{"eos list", `{` + base + `, "eos_token_id": [3, 7]}`, func(c Config) bool { return len(c.EOS) == 2 && c.EOS[1] == 7 }},
		{"null bos", `{` + base + `, "bos_token_id": null}`, func(c Config) bool { return c.BOS == -1 }},
		{"integral floats", `{` + base + `, "num_key_value_heads": 2.0}`, func(c Config) bool { return c.KVHeads == 2 }},
		{"null rope_scaling", `{` + base + `, "rope_scaling": null}`, func(c Config) bool { return true }},
	}
	for _, tt := range tests {
		c, err := ParseConfig([]byte(tt.json))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("%s: got %+v", tt.name, c)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"malformed", `{"hidden_size": 64,`, "malformed config"},
		{"not an object", `[1, 2]`, "malformed config"},
		{"empty", ``, "malformed config"},
		{"incomplete", `{"vocab_size": 100, "num_hidden_layers": 1}`, "field hidden_size is missing"},
		{"wrong type", `{` + base + `, "num_key_value_heads": "two"}`, `field num_key_value_heads: want an integer, got "two"`},
		{"fractional size", `{` + base + `, "num_key_value_heads": 1.5}`, "field num_key_value_heads: want an integer"},
		{"activation", `{` + base + `, "hidden_act": "gelu"}`, `field hidden_act: unsupported value gelu`},
		{"rope scaling", `{` + base + `, "rope_scaling": {"type": "linear", "factor": 2}}`, "field rope_scaling: unsupported value"},
		{"rope type", `{` + base + `, "rope_parameters": {"rope_type": "yarn"}}`, "field rope_parameters.rope_type: unsupported value yarn"},
		{"attention bias", `{` + base + `, "attention_bias": true}`, "field attention_bias: unsupported value true"},
		{"mlp bias", `{` + base + `, "mlp_bias": true}`, "field mlp_bias"},
		{"model type", `{` + base + `, "model_type": "llama"}`, "field model_type: unsupported value llama"},
		{"kv heads", `{` + base + `, "num_key_value_heads": 3}`, "num_key_value_heads: 3 does not divide"},
		{"negative", `{` + base + `, "max_position_embeddings": -1}`, "max_position_embeddings: must be positive"},
		{"huge", `{` + base + `, "max_position_embeddings": 2000000000}`, "implausibly large"},
		{"odd rotary", `{` + base + `, "partial_rotary_factor": 0.375}`, "rotary dimensions"},
		{"rotary range", `{` + base + `, "partial_rotary_factor": 1.5}`, "not in (0, 1]"},
		{"eos range", `{` + base + `, "eos_token_id": 100}`, "outside the vocabulary"},
		{"eos type", `{` + base + `, "eos_token_id": "x"}`, "eos_token_id: want an integer or a list"},
	}
	for _, tt := range tests {
		_, err := ParseConfig([]byte(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// The real checkpoint's tensor list (testdata/minitron-4b-shape, from the Hub) is exactly
// what Minitron4B().Params() expects.
func TestMinitron4BManifest(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "minitron-4b-shape", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Config    json.RawMessage  `json:"config"`
		Tensors   map[string][]int `json:"tensors"`
		NumParams int64            `json:"num_params"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TransformersVers = ""
	if !reflect.DeepEqual(cfg, Minitron4B()) {
		t.Errorf("manifest config %+v\n differs from Minitron4B() %+v", cfg, Minitron4B())
	}
	params := cfg.Params()
	if len(params) != len(m.Tensors) {
		t.Errorf("%d params, manifest has %d tensors", len(params), len(m.Tensors))
	}
	for _, p := range params {
		if !reflect.DeepEqual(m.Tensors[p.Name], p.Shape) {
			t.Errorf("%s: manifest shape %v, want %v", p.Name, m.Tensors[p.Name], p.Shape)
		}
	}
	if cfg.NumParams() != m.NumParams {
		t.Errorf("NumParams %d, manifest %d", cfg.NumParams(), m.NumParams)
	}
}
