package nemotron_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
	"github.com/minitron-go/minitron/tensor"
)

// kvHalfTol bounds how far logits with a BF16 or F16 KV cache may be from those with an F32
// cache, relative to the largest |logit| of the row (at least 1): the keys and values rounded
// to 8 (bf16) or 11 (f16) significant bits. Measured on the golden models (logits up to
// about 15), every row of a greedy case's prompt and continuation, read as a prefill then
// decoded a token at a time: bf16 up to 3.1e-3, f16 up to 3.6e-4 (see the test's log).
var kvHalfTol = map[tensor.DType]float64{tensor.BF16: 6e-3, tensor.F16: 1e-3}

// Logits with a half-precision KV cache stay within kvHalfTol of the F32 cache's, on both of
// the CPU's attention paths (a prompt of 16 rows or more on the panel kernels, decoding on
// the row kernels), and a cache's prefix copied into another (CopyPrefix) goes on as the
// original does, bit for bit.
func TestKVCacheHalf(t *testing.T) {
	ctx := context.Background()
	for _, name := range goldentest.Models {
		m := loadModel(t, name, 2)
		g := goldentest.Load(t, goldentest.Dir(1, name))
		for _, dt := range []tensor.DType{tensor.BF16, tensor.F16} {
			worst := 0.0
			for _, gc := range g.Greedy {
				ids := slices.Concat(gc.PromptIDs, gc.NewIDs)
				split := min(20, len(ids)-1) // the prefill, then a token at a time
				f32, err := m.NewState(len(ids))
				if err != nil {
					t.Fatal(err)
				}
				half, err := m.NewStateKV(len(ids), dt)
				if err != nil {
					t.Fatal(err)
				}
				want, got := goldentest.PrefillThenDecode(t, f32, ids, split), goldentest.PrefillThenDecode(t, half, ids, split)
				for i := range want {
					scale := 1.0
					for _, v := range want[i] {
						scale = max(scale, math.Abs(float64(v)))
					}
					d, _ := near.Max(got[i], want[i])
					worst = max(worst, d/scale)
				}
				// A copy of the half cache's first rows goes on as the original did.
				cp, err := m.NewStateKV(len(ids), dt)
				if err != nil {
					t.Fatal(err)
				}
				if err := cp.CopyPrefix(half, split); err != nil {
					t.Fatal(err)
				}
				again := half
				again.Truncate(split)
				for _, id := range ids[split:min(split+4, len(ids))] {
					a, _ := cp.Forward(ctx, []int32{id}, nemotron.LastLogits, nil)
					a = slices.Clone(a)
					b, _ := again.Forward(ctx, []int32{id}, nemotron.LastLogits, nil)
					if !slices.Equal(a, b) {
						t.Errorf("%s %s %s: a copied prefix's logits differ from the original's", name, dt, gc.Case)
						break
					}
				}
				f32.Close()
				half.Close()
				cp.Close()
			}
			t.Logf("%s %s KV cache: logits within %.3g of the F32 cache's (relative)", name, dt, worst)
			if !(worst <= kvHalfTol[dt]) {
				t.Errorf("%s %s KV cache: logits %.3g from the F32 cache's, tolerance %.3g", name, dt, worst, kvHalfTol[dt])
			}
		}
	}
	m := loadModel(t, "tiny-a", 2)
	if _, err := m.NewStateKV(8, tensor.F64); !errors.Is(err, nemotron.ErrBadOption) {
		t.Errorf("an F64 KV cache: %v, want ErrBadOption", err)
	}
	if m.KVRowBytesOf(tensor.BF16)*2 != m.KVRowBytes() {
		t.Errorf("a BF16 row of %d bytes, an F32 one of %d", m.KVRowBytesOf(tensor.BF16), m.KVRowBytes())
	}
}
