package nemotron

import (
	"slices"
	"strings"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// KV caches in half precision. A State's keys and values may be stored as BF16 or F16, half
// the memory of F32: twice the sequences in a cache budget, half the bytes attention reads a
// token at long contexts. New rows are rounded to nearest even as they enter the cache and
// widened exactly when attention reads them, so the logits move by what that rounding does
// to the keys and values (TestKVCacheHalf measures it on the golden models). F32, NewState's,
// stays the exact default.

// NewStateKV is NewState with its KV cache stored as kv: F32, or BF16 or F16 where the
// backend stores caches so (backend.KVCacheTypes); another is ErrBadOption.
func (m *Model) NewStateKV(maxLen int, kv tensor.DType) (*State, error) {
	if err := m.CheckKVCache(kv); err != nil {
		return nil, err
	}
	return m.newState(maxLen, kv)
}

// CheckKVCache reports whether the model's backend stores KV caches as kv (ErrBadOption if not).
func (m *Model) CheckKVCache(kv tensor.DType) error {
	if kv == tensor.F32 {
		return nil
	}
	if kt, ok := m.b.(backend.KVCacheTypes); ok && slices.Contains(kt.KVCacheTypes(), kv) {
		return nil
	}
	return BadOption("the %s backend cannot store a KV cache as %s", strings.SplitN(m.b.Name(), "/", 2)[0], kv)
}

// KVRowBytesOf is KVRowBytes for a cache stored as kv.
func (m *Model) KVRowBytesOf(kv tensor.DType) int64 {
	return int64(m.Config.Layers) * 2 * int64(m.Config.KVDim()) * int64(kv.Size())
}

// ParseKVCache reads a KV cache's dtype as a flag spells it: f32, bf16 or f16.
func ParseKVCache(s string) (tensor.DType, error) {
	switch strings.ToLower(s) {
	case "f32", "":
		return tensor.F32, nil
	case "bf16":
		return tensor.BF16, nil
	case "f16":
		return tensor.F16, nil
	}
	return 0, BadOption("KV cache %q: want f32, bf16 or f16", s)
}
