package nemotron

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// weights are a model's parameters, uploaded to its backend. Shapes follow torch.nn.Linear:
// [out, in].
type weights struct {
	embed  backend.Tensor // (vocab, hidden)
	layers []layerWeights
	normW  backend.Tensor // (hidden) final LayerNorm1P
	normB  backend.Tensor // (hidden)
	head   backend.Tensor // (vocab, hidden) lm_head, untied unless tie_word_embeddings
}

type layerWeights struct {
	ln1W, ln1B backend.Tensor // (hidden) input_layernorm
	q          backend.Tensor // (heads·head_dim, hidden)
	k, v       backend.Tensor // (kv_heads·head_dim, hidden)
	o          backend.Tensor // (hidden, heads·head_dim)
	ln2W, ln2B backend.Tensor // (hidden) post_attention_layernorm
	up         backend.Tensor // (intermediate, hidden)
	down       backend.Tensor // (hidden, intermediate)
}

// Source supplies named host tensors: a checkpoint, or random weights for benchmarks.
// where names the file that holds a tensor, for error messages.
type Source interface {
	Names() []string
	Tensor(name string) (t tensor.Host, where string, ok bool)
}

// A Param is one tensor the architecture expects, with its Hugging Face name and shape.
type Param struct {
	Name  string
	Shape []int
}

// Params lists every tensor of a checkpoint for this config, in the order of the forward pass.
func (c Config) Params() []Param {
	h, q, kv, in := c.Hidden, c.QDim(), c.KVDim(), c.Intermediate
	ps := []Param{{"model.embed_tokens.weight", []int{c.VocabSize, h}}}
	for l := range c.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		ps = append(ps,
			Param{p + "input_layernorm.weight", []int{h}},
			Param{p + "input_layernorm.bias", []int{h}},
			Param{p + "self_attn.q_proj.weight", []int{q, h}},
			Param{p + "self_attn.k_proj.weight", []int{kv, h}},
			Param{p + "self_attn.v_proj.weight", []int{kv, h}},
			Param{p + "self_attn.o_proj.weight", []int{h, q}},
			Param{p + "post_attention_layernorm.weight", []int{h}},
			Param{p + "post_attention_layernorm.bias", []int{h}},
			Param{p + "mlp.up_proj.weight", []int{in, h}},
			Param{p + "mlp.down_proj.weight", []int{h, in}},
		)
	}
	ps = append(ps, Param{"model.norm.weight", []int{h}}, Param{"model.norm.bias", []int{h}})
	if !c.TieEmbeddings {
		ps = append(ps, Param{"lm_head.weight", []int{c.VocabSize, h}})
	}
	return ps
}

// NumParams is the number of parameters the config implies.
func (c Config) NumParams() int64 {
	var n int64
	for _, p := range c.Params() {
		n += int64(tensor.NumElements(p.Shape))
	}
	return n
}

// ignored are tensors some checkpoints carry that the forward pass recomputes.
func ignored(name string) bool { return strings.HasSuffix(name, ".rotary_emb.inv_freq") }

// bindWeights checks every tensor of src against the config and uploads it.
func bindWeights(c Config, src Source, b backend.Backend, progress func(done, total int64)) (*weights, error) {
	params := c.Params()
	want := make(map[string]bool, len(params))
	for _, p := range params {
		want[p.Name] = true
	}
	var unknown []string
	for _, name := range src.Names() {
		if !want[name] && !ignored(name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		more := ""
		if len(unknown) > 3 {
			more = fmt.Sprintf(" and %d more", len(unknown)-3)
			unknown = unknown[:3]
		}
		_, where, _ := src.Tensor(unknown[0])
		return nil, fmt.Errorf("%s: unexpected tensors %s%s: not a Nemotron checkpoint, or one with features this engine does not implement", where, strings.Join(unknown, ", "), more)
	}

	var total, done int64
	for _, p := range params {
		if t, _, ok := src.Tensor(p.Name); ok {
			total += int64(len(t.Data))
		}
	}
	up := make(map[string]backend.Tensor, len(params))
	for _, p := range params {
		t, where, ok := src.Tensor(p.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %s is missing from the checkpoint (want shape %s)", p.Name, tensor.ShapeString(p.Shape))
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("%s: tensor %s has shape %s, want %s for this config", where, p.Name, tensor.ShapeString(t.Shape), tensor.ShapeString(p.Shape))
		}
		if !t.DType.IsFloat() {
			return nil, fmt.Errorf("%s: tensor %s has dtype %s, want F32, F16 or BF16", where, p.Name, t.DType)
		}
		bt, err := b.Upload(t)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", where, p.Name, err)
		}
		up[p.Name] = bt
		if done += int64(len(t.Data)); progress != nil {
			progress(done, total)
		}
	}

	w := &weights{
		embed: up["model.embed_tokens.weight"],
		normW: up["model.norm.weight"],
		normB: up["model.norm.bias"],
		head:  up["lm_head.weight"],
	}
	if c.TieEmbeddings {
		w.head = w.embed
	}
	for l := range c.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		w.layers = append(w.layers, layerWeights{
			ln1W: up[p+"input_layernorm.weight"],
			ln1B: up[p+"input_layernorm.bias"],
			q:    up[p+"self_attn.q_proj.weight"],
			k:    up[p+"self_attn.k_proj.weight"],
			v:    up[p+"self_attn.v_proj.weight"],
			o:    up[p+"self_attn.o_proj.weight"],
			ln2W: up[p+"post_attention_layernorm.weight"],
			ln2B: up[p+"post_attention_layernorm.bias"],
			up:   up[p+"mlp.up_proj.weight"],
			down: up[p+"mlp.down_proj.weight"],
		})
	}
	return w, nil
}
