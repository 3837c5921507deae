package nemotron

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/tensor"
)

// The nemotron architecture as llama.cpp lays it out in GGUF (convert_hf_to_gguf.py's
// NemotronModel, llama.cpp's LLM_ARCH_NEMOTRON): its own tensor names, its metadata keys, and
// one convention to undo: LayerNorm1P's +1 is added into every norm weight at conversion, so
// a GGUF norm weight is 1 + w where the Hugging Face checkpoint (and LayerNorm1P) holds w.

// ggufNames maps the Part of each row of the weight table (weights.go) to its GGUF name,
// after "blk.<L>." for a layer's tensor.
var ggufNames = map[string]string{
	"model.embed_tokens.weight":       "token_embd.weight",
	"input_layernorm.weight":          "attn_norm.weight",
	"input_layernorm.bias":            "attn_norm.bias",
	"self_attn.q_proj.weight":         "attn_q.weight",
	"self_attn.k_proj.weight":         "attn_k.weight",
	"self_attn.v_proj.weight":         "attn_v.weight",
	"self_attn.o_proj.weight":         "attn_output.weight",
	"post_attention_layernorm.weight": "ffn_norm.weight",
	"post_attention_layernorm.bias":   "ffn_norm.bias",
	"mlp.up_proj.weight":              "ffn_up.weight",
	"mlp.down_proj.weight":            "ffn_down.weight",
	"model.norm.weight":               "output_norm.weight",
	"model.norm.bias":                 "output_norm.bias",
	"lm_head.weight":                  "output.weight",
}

// GGUFName is the name llama.cpp gives the tensor of p: "blk.3.attn_q.weight".
func GGUFName(p Param) string {
	n, ok := ggufNames[p.Part]
	if !ok {
		panic("nemotron: no GGUF name for " + p.Part)
	}
	if p.Layer >= 0 {
		return fmt.Sprintf("blk.%d.%s", p.Layer, n)
	}
	return n
}

// foldsOne reports whether the converter added LayerNorm1P's +1 into p's tensor.
func foldsOne(p Param) bool { return p.Role == RoleNorm && strings.HasSuffix(p.Part, ".weight") }

// ggufArch is the architecture name, and the prefix of its metadata keys.
const ggufArch = "nemotron"

// GGUFConfig reads the model's configuration from a GGUF file's metadata.
func GGUFConfig(f *gguf.File) (Config, error) {
	fail := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%s: %s", f.Path(), fmt.Sprintf(format, args...))
	}
	if arch, _ := f.Get("general.architecture"); arch != ggufArch {
		return fail("general.architecture is %v, want %q", arch, ggufArch)
	}
	var err error
	// uint reads a count, which writers store as uint32 (some as other integer types).
	uint := func(key string, def int) int {
		v, ok := f.Get(key)
		if !ok {
			if def < 0 && err == nil {
				err = fmt.Errorf("%s: metadata %s is missing", f.Path(), key)
			}
			return def
		}
		switch n := v.(type) {
		case uint32:
			return int(n)
		case int32:
			return int(n)
		case uint64:
			if n < 1<<31 {
				return int(n)
			}
		case int64:
			if n >= 0 && n < 1<<31 {
				return int(n)
			}
		}
		if err == nil {
			err = fmt.Errorf("%s: metadata %s is %v (%T), want a count", f.Path(), key, v, v)
		}
		return def
	}
	float := func(key string, def float64) float64 {
		switch v, _ := f.Get(key); n := v.(type) {
		case float32:
			return float64(n)
		case float64:
			return n
		case nil:
			return def
		default:
			if err == nil {
				err = fmt.Errorf("%s: metadata %s is %v (%T), want a float", f.Path(), key, v, v)
			}
			return def
		}
	}
	k := func(s string) string { return ggufArch + "." + s }
	c := Config{
		Hidden:       uint(k("embedding_length"), -1),
		Intermediate: uint(k("feed_forward_length"), -1),
		Layers:       uint(k("block_count"), -1),
		Heads:        uint(k("attention.head_count"), -1),
		MaxPositions: uint(k("context_length"), 4096),
		// llama.cpp stores epsilon as float32: 1e-5 comes back as 9.99999975e-6.
		NormEps:   float(k("attention.layer_norm_epsilon"), 1e-5),
		RopeTheta: float(k("rope.freq_base"), 10000),
		BOS:       uint("tokenizer.ggml.bos_token_id", 2),
		EOS:       []int{uint("tokenizer.ggml.eos_token_id", 3)},
	}
	c.KVHeads = uint(k("attention.head_count_kv"), c.Heads)
	if c.Heads > 0 {
		c.HeadDim = uint(k("attention.key_length"), c.Hidden/c.Heads)
	}
	c.VocabSize = uint(k("vocab_size"), 0)
	if tokens, ok := f.Get("tokenizer.ggml.tokens"); ok && c.VocabSize == 0 {
		if t, ok := tokens.([]string); ok {
			c.VocabSize = len(t)
		}
	}
	if emb, ok := f.Info("token_embd.weight"); ok && c.VocabSize == 0 && len(emb.Shape) == 2 {
		c.VocabSize = emb.Shape[0]
	}
	rot := uint(k("rope.dimension_count"), c.HeadDim/2)
	if v := uint(k("attention.value_length"), c.HeadDim); v != c.HeadDim && err == nil {
		err = fmt.Errorf("%s: metadata %s is %d, but key_length is %d: this engine needs them equal", f.Path(), k("attention.value_length"), v, c.HeadDim)
	}
	if err != nil {
		return Config{}, err
	}
	if s, ok := f.Get(k("rope.scaling.type")); ok && s != "none" {
		return fail("metadata %s is %v: rope scaling is not implemented", k("rope.scaling.type"), s)
	}
	if c.HeadDim <= 0 || rot <= 0 || rot > c.HeadDim {
		return fail("metadata %s is %d for heads of %d dimensions", k("rope.dimension_count"), rot, c.HeadDim)
	}
	// The file states the rotary dimensions; Config derives them from a factor: pick the
	// factor that gives them back exactly.
	c.PartialRotary = float64(rot) / float64(c.HeadDim)
	for c.RotaryDims() < rot {
		c.PartialRotary = math.Nextafter(c.PartialRotary, 2)
	}
	// llama.cpp uses token_embd for the head when output.weight is absent.
	_, hasHead := f.Info("output.weight")
	c.TieEmbeddings = !hasHead
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", f.Path(), err)
	}
	return c, nil
}

// GGUFSource presents the tensors of a nemotron GGUF file under their Hugging Face names, with
// the norm weights as Hugging Face holds them (the +1 taken out again, in float32).
type GGUFSource struct {
	// Dequantize, when set, returns tensors in block formats dequantized to F32 (a copy, made
	// once): the exact float path over a quantized file's weights, whatever the backend can
	// multiply by.
	Dequantize bool

	f       *gguf.File
	byHF    map[string]string      // Hugging Face name → GGUF name
	norms   map[string]tensor.Host // the unfolded norm weights, and tensors dequantized
	unknown []string               // GGUF tensors the architecture has no place for
}

// NewGGUFSource maps the tensors of f for cfg. A tensor in a ggml type this engine has no
// dtype for is refused here, with its name and type.
func NewGGUFSource(cfg Config, f *gguf.File) (*GGUFSource, error) {
	s := &GGUFSource{f: f, byHF: map[string]string{}, norms: map[string]tensor.Host{}}
	known := map[string]bool{}
	for _, p := range cfg.Params() {
		name := GGUFName(p)
		known[name] = true
		if _, ok := f.Info(name); !ok {
			continue // bindWeights names what is missing
		}
		t, err := f.Tensor(name)
		if err != nil {
			return nil, err
		}
		s.byHF[p.Name] = name
		if foldsOne(p) {
			if !t.DType.IsFloat() {
				return nil, fmt.Errorf("%s: norm weight %s is %s, want a float type", f.Path(), name, t.DType)
			}
			w := t.ToF32()
			for i := range w {
				w[i] -= 1
			}
			s.norms[p.Name] = tensor.FromF32(w, t.Shape...)
		}
	}
	for _, name := range f.Names() {
		if !known[name] {
			s.unknown = append(s.unknown, name)
		}
	}
	return s, nil
}

// Names lists the Hugging Face names of the tensors present, then, under their GGUF names,
// any tensors the architecture does not have (so that binding refuses the file, naming them).
func (s *GGUFSource) Names() []string {
	names := make([]string, 0, len(s.byHF)+len(s.unknown))
	for hf := range s.byHF {
		names = append(names, hf)
	}
	sort.Strings(names)
	return append(names, s.unknown...)
}

// Tensor returns the tensor under its Hugging Face name; where names the GGUF file and tensor.
func (s *GGUFSource) Tensor(name string) (tensor.Host, string, bool) {
	g, ok := s.byHF[name]
	if !ok {
		for _, u := range s.unknown {
			if u == name {
				return tensor.Host{}, s.f.Path() + " (" + name + ")", true
			}
		}
		return tensor.Host{}, s.f.Path(), false
	}
	where := s.f.Path() + " (" + g + ")"
	if t, ok := s.norms[name]; ok {
		return t, where, true
	}
	t, err := s.f.Tensor(g)
	if err == nil && s.Dequantize && t.DType.Quantized() {
		t = tensor.FromF32(t.ToF32(), t.Shape...)
		s.norms[name] = t
	}
	return t, where, err == nil
}

// ReleasePages lets the kernel drop the pages of the named tensor's bytes in the mapped file
// (PageReleaser); a norm weight, unfolded into a copy, has none to release.
func (s *GGUFSource) ReleasePages(name string) error {
	g, ok := s.byHF[name]
	if !ok {
		return nil
	}
	return s.f.ReleasePages(g)
}

// LoadGGUF opens a GGUF file of architecture nemotron (as llama.cpp's convert_hf_to_gguf.py
// writes it) and binds its weights to b: the same model as the checkpoint it was converted from.
func LoadGGUF(path string, b backend.Backend, opts LoadOptions) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := newGGUF(f, b, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	m.closer = f.Close
	return m, nil
}

func newGGUF(f *gguf.File, b backend.Backend, opts LoadOptions) (*Model, error) {
	cfg, err := GGUFConfig(f)
	if err != nil {
		return nil, err
	}
	src, err := NewGGUFSource(cfg, f)
	if err != nil {
		return nil, err
	}
	src.Dequantize = opts.Dequantize
	return NewWithOptions(cfg, src, b, opts)
}
