package nemotron

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/minitron-go/minitron/backend"
)

// Config is the architecture of a Nemotron model, as read from a Hugging Face config.json.
// Defaults are those of transformers' NemotronConfig.
type Config struct {
	VocabSize        int     // vocab_size
	Hidden           int     // hidden_size
	Intermediate     int     // intermediate_size: the MLP's inner width
	Layers           int     // num_hidden_layers
	Heads            int     // num_attention_heads
	KVHeads          int     // num_key_value_heads: query heads share KV heads in groups
	HeadDim          int     // head_dim (or kv_channels); hidden_size / heads when absent
	MaxPositions     int     // max_position_embeddings: the longest sequence
	NormEps          float64 // norm_eps
	RopeTheta        float64 // rope_theta
	PartialRotary    float64 // partial_rotary_factor (rope_percent in old revisions)
	TieEmbeddings    bool    // tie_word_embeddings: lm_head shares embed_tokens
	BOS              int     // bos_token_id; -1 when null
	EOS              []int   // eos_token_id: one id or a list
	TransformersVers string  // transformers_version, for messages only
}

// RotaryDims is the number of leading dimensions of each head that rotary embedding turns,
// int(partial_rotary_factor * head_dim) as transformers computes it.
func (c Config) RotaryDims() int { return int(c.PartialRotary * float64(c.HeadDim)) }

// Rope is the rotary embedding of the attention's queries and keys.
func (c Config) Rope() backend.Rope {
	return backend.Rope{Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Dims: c.RotaryDims(), Theta: c.RopeTheta}
}

// QDim and KVDim are the widths of the query and of the key (or value) projections.
func (c Config) QDim() int  { return c.Heads * c.HeadDim }
func (c Config) KVDim() int { return c.KVHeads * c.HeadDim }

// Minitron4B is the configuration of nvidia/Minitron-4B-Base.
func Minitron4B() Config {
	return Config{
		VocabSize: 256000, Hidden: 3072, Intermediate: 9216, Layers: 32, Heads: 24, KVHeads: 8, HeadDim: 128,
		MaxPositions: 4096, NormEps: 1e-5, RopeTheta: 10000, PartialRotary: 0.5, BOS: 2, EOS: []int{3},
	}
}

// LoadConfig reads a config.json.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses config.json in either form seen in the wild: transformers 4.4x (top-level
// rope_theta and partial_rotary_factor, or rope_percent) and 5.x (rope_parameters). It refuses
// what this engine does not implement, naming the field and its value.
func ParseConfig(b []byte) (Config, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Config{}, fmt.Errorf("malformed config: %v", err)
	}
	if raw == nil {
		return Config{}, fmt.Errorf("malformed config: not a JSON object")
	}
	p := fieldParser{raw: raw}
	// The sizes have defaults in transformers, but a config.json without them is truncated or
	// belongs to something else: guessing 6144 would only fail later, less clearly.
	for _, f := range []string{"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"} {
		if !p.has(f) {
			return Config{}, fmt.Errorf("field %s is missing", f)
		}
	}
	c := Config{
		VocabSize:     p.int("vocab_size", 256000),
		Hidden:        p.int("hidden_size", 6144),
		Intermediate:  p.int("intermediate_size", 24576),
		Layers:        p.int("num_hidden_layers", 32),
		Heads:         p.int("num_attention_heads", 48),
		MaxPositions:  p.int("max_position_embeddings", 4096),
		NormEps:       p.float("norm_eps", 1e-5),
		RopeTheta:     p.float("rope_theta", 10000),
		TieEmbeddings: p.bool("tie_word_embeddings", false),
		BOS:           p.int("bos_token_id", 2),
		EOS:           p.ids("eos_token_id", []int{3}),
	}
	if v, ok := raw["bos_token_id"]; ok && string(v) == "null" {
		c.BOS = -1
	}
	c.TransformersVers = p.string("transformers_version", "")
	c.KVHeads = p.int("num_key_value_heads", c.Heads)
	switch {
	case p.has("head_dim"):
		c.HeadDim = p.int("head_dim", 0)
	case p.has("kv_channels"):
		c.HeadDim = p.int("kv_channels", 0)
	case c.Heads > 0:
		c.HeadDim = c.Hidden / c.Heads
	}
	c.PartialRotary = p.float("partial_rotary_factor", p.float("rope_percent", 0.5))

	// transformers 5.x moves the rotary settings into rope_parameters.
	if rp, ok := raw["rope_parameters"]; ok && string(rp) != "null" {
		var sub map[string]json.RawMessage
		if err := json.Unmarshal(rp, &sub); err != nil {
			return Config{}, fmt.Errorf("field rope_parameters: want an object, got %s", rp)
		}
		q := fieldParser{raw: sub, prefix: "rope_parameters."}
		if t := q.string("rope_type", "default"); t != "default" {
			q.fail("rope_type", t, "only rope_type \"default\" is implemented")
		}
		c.RopeTheta = q.float("rope_theta", c.RopeTheta)
		c.PartialRotary = q.float("partial_rotary_factor", c.PartialRotary)
		p.err = firstErr(p.err, q.err)
	}

	// What we do not implement, we refuse rather than compute something else.
	if mt := p.string("model_type", "nemotron"); mt != "nemotron" {
		p.fail("model_type", mt, "only \"nemotron\" models are supported")
	}
	if act := p.string("hidden_act", "relu2"); act != "relu2" {
		p.fail("hidden_act", act, "only \"relu2\" (squared ReLU) is implemented")
	}
	if rs, ok := raw["rope_scaling"]; ok && string(rs) != "null" {
		p.fail("rope_scaling", string(rs), "rope scaling is not implemented")
	}
	for _, f := range []string{"attention_bias", "mlp_bias"} {
		if p.bool(f, false) {
			p.fail(f, "true", "biases in attention and MLP projections are not implemented")
		}
	}
	if p.err != nil {
		return Config{}, p.err
	}
	return c, c.Validate()
}

// Validate checks that the sizes are consistent with one another.
func (c Config) Validate() error {
	positive := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.Hidden}, {"intermediate_size", c.Intermediate},
		{"num_hidden_layers", c.Layers}, {"num_attention_heads", c.Heads},
		{"num_key_value_heads", c.KVHeads}, {"head_dim", c.HeadDim}, {"max_position_embeddings", c.MaxPositions},
	}
	for _, f := range positive {
		if f.v <= 0 {
			return fmt.Errorf("field %s: must be positive, got %d", f.name, f.v)
		}
	}
	// Guard the products used to size buffers against absurd values.
	const limit = 1 << 24
	for _, f := range positive {
		if f.v > limit {
			return fmt.Errorf("field %s: %d is implausibly large", f.name, f.v)
		}
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("field num_key_value_heads: %d does not divide num_attention_heads %d", c.KVHeads, c.Heads)
	}
	if !(c.PartialRotary > 0 && c.PartialRotary <= 1) {
		return fmt.Errorf("field partial_rotary_factor: %v is not in (0, 1]", c.PartialRotary)
	}
	if r := c.RotaryDims(); r < 2 || r%2 != 0 {
		return fmt.Errorf("field partial_rotary_factor: %v of head_dim %d gives %d rotary dimensions, want an even number >= 2", c.PartialRotary, c.HeadDim, r)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("field rope_theta: %v must be positive", c.RopeTheta)
	}
	if !(c.NormEps > 0) || c.NormEps > 1 {
		return fmt.Errorf("field norm_eps: %v must be in (0, 1]", c.NormEps)
	}
	for _, id := range append([]int{c.BOS}, c.EOS...) {
		if id >= c.VocabSize {
			return fmt.Errorf("special token id %d is outside the vocabulary of %d", id, c.VocabSize)
		}
	}
	return nil
}

// fieldParser reads typed fields from a JSON object, keeping the first error.
type fieldParser struct {
	raw    map[string]json.RawMessage
	prefix string
	err    error
}

func (p *fieldParser) has(name string) bool {
	v, ok := p.raw[name]
	return ok && string(v) != "null"
}

func (p *fieldParser) fail(name, value, why string) {
	if p.err == nil {
		p.err = fmt.Errorf("field %s%s: unsupported value %s: %s", p.prefix, name, value, why)
	}
}

func (p *fieldParser) wrongType(name, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("field %s%s: want %s, got %s", p.prefix, name, want, p.raw[name])
	}
}

func (p *fieldParser) number(name string) (json.Number, bool) {
	if !p.has(name) {
		return "", false
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(p.raw[name]))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return "", false
	}
	return n, true
}

func (p *fieldParser) int(name string, def int) int {
	if !p.has(name) {
		return def
	}
	n, ok := p.number(name)
	if ok {
		if v, err := n.Int64(); err == nil && v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v)
		}
		// Some exporters write integral sizes as 3072.0.
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) <= math.MaxInt32 {
			return int(f)
		}
	}
	p.wrongType(name, "an integer")
	return def
}

func (p *fieldParser) float(name string, def float64) float64 {
	if !p.has(name) {
		return def
	}
	if n, ok := p.number(name); ok {
		if f, err := n.Float64(); err == nil {
			return f
		}
	}
	p.wrongType(name, "a number")
	return def
}

func (p *fieldParser) bool(name string, def bool) bool {
	if !p.has(name) {
		return def
	}
	var b bool
	if err := json.Unmarshal(p.raw[name], &b); err != nil {
		p.wrongType(name, "true or false")
		return def
	}
	return b
}

func (p *fieldParser) string(name, def string) string {
	if !p.has(name) {
		return def
	}
	var s string
	if err := json.Unmarshal(p.raw[name], &s); err != nil {
		p.wrongType(name, "a string")
		return def
	}
	return s
}

// ids reads a token id field that may be null (→ no ids), one integer, or a list.
func (p *fieldParser) ids(name string, def []int) []int {
	v, ok := p.raw[name]
	if !ok {
		return def
	}
	if string(v) == "null" {
		return nil
	}
	var one int
	if err := json.Unmarshal(v, &one); err == nil {
		return []int{one}
	}
	var many []int
	if err := json.Unmarshal(v, &many); err != nil {
		p.wrongType(name, "an integer or a list of integers")
		return def
	}
	return many
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
