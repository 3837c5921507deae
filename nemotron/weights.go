package nemotron

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// weights are a model's parameters, uploaded to its backend; the table of specs below says
// which checkpoint tensor goes where.
type weights struct {
	embed  backend.Tensor // (vocab, hidden)
	layers []layerWeights
	normW  backend.Tensor // (hidden) final LayerNorm1P
	normB  backend.Tensor // (hidden)
	head   backend.Tensor // (vocab, hidden) lm_head, untied unless tie_word_embeddings
}

type layerWeights struct {
	ln1W, ln1B backend.Tensor // (hidden) input_layernorm
	// qkv is Wq (heads·head_dim, hidden), Wk and Wv (kv_heads·head_dim, hidden) stacked:
	// one product gives a position's queries, keys and values side by side.
	qkv        backend.Tensor
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

// A Role is what a tensor does in the network. Formats are chosen per role (quantization
// keeps norms in float, the embedding is read by rows and never multiplied), so every
// tensor of the table below has one.
type Role int

const (
	RoleEmbedding Role = iota + 1 // the token embedding table (vocab, hidden), read by row
	RoleNorm                      // a LayerNorm1P weight or bias (hidden)
	RoleQuery                     // the attention's projections: Wq, Wk, Wv, Wo
	RoleKey
	RoleValue
	RoleAttnOut
	RoleUp // the MLP's projections: Wup, Wdown
	RoleDown
	RoleHead // lm_head (vocab, hidden); absent from a checkpoint that ties it to the embedding
)

var roleNames = [...]string{RoleEmbedding: "embedding", RoleNorm: "norm", RoleQuery: "query",
	RoleKey: "key", RoleValue: "value", RoleAttnOut: "attention output", RoleUp: "up", RoleDown: "down", RoleHead: "head"}

func (r Role) String() string {
	if r > 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Matrix reports whether the role is a matrix that MatMul multiplies activations by: a
// layer's projection or the head.
func (r Role) Matrix() bool { return r >= RoleQuery && r <= RoleHead }

// A Param is one tensor the architecture expects: its Hugging Face name, its shape, its role
// and, for a layer's tensor, the layer's index (-1 for the embedding, final norm and head).
// Part is the row of the table it comes from, the same for a tensor in every layer: what a
// mapping to another format's names, or a choice of format, is keyed by.
type Param struct {
	Name  string // "model.layers.3.self_attn.q_proj.weight"
	Part  string // "self_attn.q_proj.weight"; Name for the embedding, final norm and head
	Shape []int
	Role  Role
	Layer int
	dst   func(w *weights) *backend.Tensor // where binding puts it
}

// A spec is one row of the table of tensors below, the only place their names are written:
// the Hugging Face name (after "model.layers.<L>." for a layer's tensor), the shape, the role
// and the field of W that binding fills. Rows next to each other that fill one field are
// uploaded as one matrix, their rows stacked in table order (Upload).
type spec[W any] struct {
	name  string
	role  Role
	shape func(c Config) []int
	field func(w *W) *backend.Tensor
}

// The tensors of a Nemotron checkpoint, in the order of the forward pass (transformers'
// NemotronForCausalLM): the embedding, each layer's, then the final norm and the head.
var (
	embedSpecs = []spec[weights]{
		{"model.embed_tokens.weight", RoleEmbedding, vocabByHidden, func(w *weights) *backend.Tensor { return &w.embed }},
	}
	layerSpecs = []spec[layerWeights]{
		{"input_layernorm.weight", RoleNorm, hidden, func(l *layerWeights) *backend.Tensor { return &l.ln1W }},
		{"input_layernorm.bias", RoleNorm, hidden, func(l *layerWeights) *backend.Tensor { return &l.ln1B }},
		{"self_attn.q_proj.weight", RoleQuery, qByHidden, func(l *layerWeights) *backend.Tensor { return &l.qkv }},
		{"self_attn.k_proj.weight", RoleKey, kvByHidden, func(l *layerWeights) *backend.Tensor { return &l.qkv }},
		{"self_attn.v_proj.weight", RoleValue, kvByHidden, func(l *layerWeights) *backend.Tensor { return &l.qkv }},
		{"self_attn.o_proj.weight", RoleAttnOut, hiddenByQ, func(l *layerWeights) *backend.Tensor { return &l.o }},
		{"post_attention_layernorm.weight", RoleNorm, hidden, func(l *layerWeights) *backend.Tensor { return &l.ln2W }},
		{"post_attention_layernorm.bias", RoleNorm, hidden, func(l *layerWeights) *backend.Tensor { return &l.ln2B }},
		{"mlp.up_proj.weight", RoleUp, interByHidden, func(l *layerWeights) *backend.Tensor { return &l.up }},
		{"mlp.down_proj.weight", RoleDown, hiddenByInter, func(l *layerWeights) *backend.Tensor { return &l.down }},
	}
	finalSpecs = []spec[weights]{
		{"model.norm.weight", RoleNorm, hidden, func(w *weights) *backend.Tensor { return &w.normW }},
		{"model.norm.bias", RoleNorm, hidden, func(w *weights) *backend.Tensor { return &w.normB }},
		{"lm_head.weight", RoleHead, vocabByHidden, func(w *weights) *backend.Tensor { return &w.head }},
	}
)

// Shapes follow torch.nn.Linear: [out, in].
func hidden(c Config) []int        { return []int{c.Hidden} }
func vocabByHidden(c Config) []int { return []int{c.VocabSize, c.Hidden} }
func qByHidden(c Config) []int     { return []int{c.QDim(), c.Hidden} }
func kvByHidden(c Config) []int    { return []int{c.KVDim(), c.Hidden} }
func hiddenByQ(c Config) []int     { return []int{c.Hidden, c.QDim()} }
func interByHidden(c Config) []int { return []int{c.Intermediate, c.Hidden} }
func hiddenByInter(c Config) []int { return []int{c.Hidden, c.Intermediate} }

// Params lists every tensor of a checkpoint for this config, in the order of the forward pass.
func (c Config) Params() []Param {
	ps := make([]Param, 0, len(embedSpecs)+c.Layers*len(layerSpecs)+len(finalSpecs))
	global := func(specs []spec[weights]) {
		for _, s := range specs {
			if s.role == RoleHead && c.TieEmbeddings {
				continue // the head is the embedding table
			}
			ps = append(ps, Param{Name: s.name, Part: s.name, Shape: s.shape(c), Role: s.role, Layer: -1, dst: s.field})
		}
	}
	global(embedSpecs)
	for l := range c.Layers {
		for _, s := range layerSpecs {
			ps = append(ps, Param{Name: fmt.Sprintf("model.layers.%d.%s", l, s.name), Part: s.name, Shape: s.shape(c), Role: s.role, Layer: l,
				dst: func(w *weights) *backend.Tensor { return s.field(&w.layers[l]) }})
		}
	}
	global(finalSpecs)
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

// bindWeights checks every tensor of src against the config and uploads it, quantized to the
// mix opts.Quant (each matrix as it comes, the pages of a memory-mapped source released after
// it), telling opts.Progress the bytes of src bound so far.
func bindWeights(c Config, src Source, b backend.Backend, opts LoadOptions) (*weights, error) {
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
	progress := func(n int64) {
		if done += n; opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	releaser, _ := src.(PageReleaser)
	copier, _ := b.(backend.Copies)
	w := &weights{layers: make([]layerWeights, c.Layers)}
	// The parts of a stacked matrix wait here until the last of them has come.
	var (
		parts      []tensor.Host
		partNames  []string
		released   []bool // the part is a quantized copy: its source's pages can go
		unreported int64  // bytes of parts not yet counted by progress
	)
	for i, p := range params {
		t, where, ok := src.Tensor(p.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %s is missing from the checkpoint (want shape %s)", p.Name, tensor.ShapeString(p.Shape))
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("%s: tensor %s has shape %s, want %s for this config", where, p.Name, tensor.ShapeString(t.Shape), tensor.ShapeString(p.Shape))
		}
		if !t.DType.IsFloat() && !t.DType.Quantized() {
			return nil, fmt.Errorf("%s: tensor %s has dtype %s, want F32, F16, BF16 or a block format", where, p.Name, t.DType)
		}
		q, quantized, err := quantizeFor(c, opts.Quant, p, t, where, progress)
		if err != nil {
			return nil, err
		}
		if !quantized {
			unreported += int64(len(t.Data))
		}
		parts, partNames, released = append(parts, q), append(partNames, p.Name), append(released, quantized)
		if i+1 < len(params) && params[i+1].dst(w) == p.dst(w) {
			continue
		}
		bt, err := b.Upload(parts...)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", where, strings.Join(partNames, " + "), err)
		}
		*p.dst(w) = bt
		progress(unreported)
		// The source's pages go once the backend holds the tensor in another form.
		copied := copier != nil && copier.Copied(bt)
		for j, name := range partNames {
			if releaser != nil && (released[j] || copied) {
				if err := releaser.ReleasePages(name); err != nil {
					return nil, fmt.Errorf("%s: tensor %s: releasing its pages: %w", where, name, err)
				}
			}
		}
		parts, partNames, released, unreported = parts[:0], partNames[:0], released[:0], 0
	}
	if c.TieEmbeddings {
		w.head = w.embed
	}
	return w, nil
}
