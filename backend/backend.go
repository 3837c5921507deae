// Package backend defines the small set of eager operations the Nemotron model is written
// against, and a registry of the implementations (CPU, CUDA) that provide them.
//
// Tensors belong to a backend: weights are uploaded once, activations and the KV cache are
// allocated once, and every operation writes into a destination the caller owns. Operations
// do not return errors: shapes are the caller's contract (a mismatch panics, being a bug), and
// device failures are sticky, reported by the next Read or Sync.
package backend

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/minitron-go/minitron/tensor"
)

// Tensor is a backend-owned tensor, row-major.
type Tensor interface {
	DType() tensor.DType
	Shape() []int
}

// Backend computes the operations of a Nemotron forward pass.
//
// Matrices are [rows, cols]; x and dst of the element-wise and normalisation ops are F32
// activations [n, width]. Weights may be F32, F16 or BF16, or a block dtype (tensor.Q8_0,
// Q4_K, Q5_K, Q6_K): a backend that does not multiply by those (see QuantizedWeights) may
// dequantize them in Upload, or refuse them.
type Backend interface {
	// Name identifies the backend and its precision, e.g. "cpu/avx512 exact".
	Name() string

	// Upload makes a host tensor available to the backend. The CPU backend keeps a view of
	// the host data (so a memory-mapped checkpoint is used in place); a GPU copies it.
	// Several matrices of one width become one, their rows stacked in order, so that one
	// product computes what several would (Wq, Wk and Wv: one read of x and, on a GPU, one
	// launch instead of three). Their dtypes may differ; a stack's DType is its first part's.
	Upload(parts ...tensor.Host) (Tensor, error)
	// Alloc returns a zeroed tensor: F32, or BF16 or F16 for a KV cache where the backend
	// stores one so (see KVCacheTypes).
	Alloc(dt tensor.DType, shape ...int) (Tensor, error)
	// Rows is a view of rows [lo, hi) of a tensor: writes to it go to t.
	Rows(t Tensor, lo, hi int) Tensor
	// Free releases a tensor that is no longer used (views need not be freed).
	Free(t Tensor)

	// MatMul computes dst[n,m] = x[n,k] · w[m,k]ᵀ, the layout of a torch.nn.Linear weight.
	MatMul(dst, x, w Tensor)
	// MatMulAdd computes dst += x·wᵀ, each product rounded to F32 before it is added: a
	// residual connection, in the bits of MatMul followed by an addition.
	MatMulAdd(dst, x, w Tensor)
	// MatMulReLU2 computes dst = relu(x·wᵀ)², each product rounded to F32 first: the MLP's
	// activation, in the bits of MatMul followed by squaring the positive part.
	MatMulReLU2(dst, x, w Tensor)
	// LayerNorm1P computes, per row, (x-mean)/sqrt(var+eps) · (1+weight) + bias with the
	// biased variance: Nemotron's "layernorm1p". dst may be x.
	LayerNorm1P(dst, x, weight, bias Tensor, eps float32)
	// RotaryKV takes the rows of qkv [n, (heads+2·kvHeads)·headDim] (a position's queries,
	// keys and values side by side, as the stacked projection writes them) for positions
	// pos0…pos0+n-1. The queries go to q [n, heads·headDim] and the keys to rows pos0… of the
	// cache k, each head's first r.Dims dimensions turned by the position's angles, pairing
	// dimension i with i+r.Dims/2 (rotate-half, NeoX), with inverse frequencies
	// theta^(-2i/r.Dims); the values go to the same rows of v as they are. A BF16 or F16
	// cache takes its rows rounded to nearest even (as Copy rounds).
	RotaryKV(q, k, v, qkv Tensor, pos0 int, r Rope)
	// Attention computes causal scaled dot-product attention of q [n, heads·headDim] over the
	// first pos0+n rows of the caches k and v [rows, kvHeads·headDim]: query row i (position
	// pos0+i) sees positions 0…pos0+i; query head h reads KV head h/(heads/kvHeads); the
	// scale is 1/sqrt(headDim). The result goes to dst [n, heads·headDim]. The caches are
	// F32, or both BF16 or both F16 (KVCacheTypes), their values widened to F32 exactly.
	Attention(dst, q, k, v Tensor, heads, kvHeads, pos0 int)
	// Embed copies rows ids of table [vocab, width] into dst [len(ids), width] as F32.
	// The caller checks that ids are in range.
	Embed(dst, table Tensor, ids []int32)
	// Copy copies the rows of src (F32) into dst from row row0 on: dst[row0+i] = src[i]. It
	// is how new keys and values enter the KV cache. A BF16 or F16 dst takes src rounded to
	// nearest even, or the rows of a src of its own dtype as they are (a cache's prefix).
	Copy(dst Tensor, row0 int, src Tensor)

	// Read copies an F32 tensor to the host, after all queued work; it reports sticky errors.
	Read(dst []float32, t Tensor) error
	// Sync waits for queued work and reports any error since the last Sync or Read.
	Sync() error
	// Close releases the backend and everything it allocated.
	Close() error
}

// Rope is the shape of a rotary embedding: the heads of queries and keys, their dimensions,
// the first Dims of which turn, and the base of the angles' frequencies.
type Rope struct {
	Heads, KVHeads, HeadDim, Dims int
	Theta                         float64
}

// Precision selects how activations meet weights.
type Precision int

const (
	// Exact keeps activations and accumulation in float32: results match float64 references
	// to about 1e-4 on logits.
	Exact Precision = iota
	// Fast rounds activations to bfloat16 where the hardware multiplies bf16 pairs
	// (AVX512_BF16, tensor cores); its error is measured and documented, not hidden.
	Fast
)

func (p Precision) String() string {
	if p == Fast {
		return "fast"
	}
	return "exact"
}

// ParsePrecision accepts "exact" or "fast".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "exact":
		return Exact, nil
	case "fast":
		return Fast, nil
	}
	return 0, fmt.Errorf("unknown precision %q (want exact or fast)", s)
}

// Options configure a backend when it is opened.
type Options struct {
	Threads   int       // CPU worker threads; 0 means one per core
	Precision Precision // exact by default
	Device    int       // GPU ordinal
	// Warn receives notes a user should see, such as "auto" falling back to the CPU.
	Warn func(msg string)
}

// Opener creates a backend.
type Opener func(Options) (Backend, error)

var (
	mu       sync.Mutex
	registry = map[string]Opener{}
)

// Register makes a backend available to Open under name. Backends call it from init.
func Register(name string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("backend: " + name + " registered twice")
	}
	registry[name] = open
}

// Names lists the registered backends.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open creates the named backend. "auto" picks CUDA when it can be opened and the CPU
// otherwise, telling opts.Warn why it fell back.
func Open(name string, opts Options) (Backend, error) {
	if name == "auto" {
		mu.Lock()
		cuda, ok := registry["cuda"]
		mu.Unlock()
		if ok {
			b, err := cuda(opts)
			if err == nil {
				return b, nil
			}
			if opts.Warn != nil {
				opts.Warn(fmt.Sprintf("backend auto: CUDA unavailable (%v); using the CPU", err))
			}
		}
		name = "cpu"
	}
	mu.Lock()
	open, ok := registry[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown backend %q (have %s, auto)", name, strings.Join(Names(), ", "))
	}
	return open(opts)
}

// Argmaxer is an optional capability of a Backend, found by type assertion: the index of the
// largest element of each row, computed where the tensor lives, so that greedy decoding on a
// GPU brings 4 bytes back per token instead of the logits. Callers fall back to Read and a
// host loop (tensor.Argmax) when a backend lacks it.
type Argmaxer interface {
	// Argmax sets dst[i] to the lowest index of the largest element of row i of the F32
	// tensor t, which has len(dst) rows (a vector is one row), after all queued work, and
	// reports sticky errors as Read does. NaN is never chosen over a number, and a row of
	// NaNs gives 0; empty rows, a row count other than len(dst) or another dtype are errors.
	Argmax(dst []int32, t Tensor) error
}

// KVCacheTypes is implemented by a backend whose KV caches may be stored in other dtypes
// than F32 (Alloc, Copy and Attention take them); a backend without it keeps them in F32.
type KVCacheTypes interface {
	KVCacheTypes() []tensor.DType
}

// QuantizedWeights is an optional capability of a Backend, found by type assertion: whether
// Upload keeps weights of block dtype dt (tensor.Q8_0, …) in that format and MatMul multiplies
// by them, reading their bytes. A backend without it, or answering false, dequantizes such
// weights as they upload (or refuses them), so quantizing for it saves neither memory nor
// time.
type QuantizedWeights interface {
	KeepsQuantized(dt tensor.DType) bool
}

// Copies is an optional capability of a Backend, found by type assertion: whether the tensor
// Upload returned holds its own copy of the host data (a GPU's memory, a CPU matrix in
// another layout), so that the host's pages may be released. Without it a backend is taken
// to keep views of the host data.
type Copies interface {
	Copied(t Tensor) bool
}
