package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// With a BF16 KV cache a byte budget holds twice the rows, and generations run in it to
// their end; their greedy tokens are those of the F32 cache where the margins allow (the
// golden models' are wide at the start of these prompts).
func TestEngineKVCacheBF16(t *testing.T) {
	m := loadModel(t, "small-c")
	const rows = 40
	budget := rows * m.KVRowBytesOf(tensor.BF16)
	e := newEngine(t, m, engine.Options{CacheBytes: budget, KVCache: tensor.BF16})
	prompt := []int32{2, 380, 1554, 318, 77}
	opts := nemotron.GenerateOptions{MaxTokens: rows - len(prompt), EOS: []int32{}}
	ids, g, err := collect(context.Background(), e.Generate, prompt, opts)
	if err != nil {
		t.Fatal(err)
	}
	if g.Stop != nemotron.StopMaxTokens || len(ids) != opts.MaxTokens {
		t.Errorf("%d tokens, %v", len(ids), g.Stop)
	}
	want, _, _ := collect(context.Background(), m.Generate, prompt, nemotron.GenerateOptions{MaxTokens: 8, EOS: []int32{}})
	for i := range want {
		if ids[i] != want[i] {
			t.Errorf("token %d: %d with a BF16 cache, %d with F32", i, ids[i], want[i])
		}
	}
	// The budget in F32 rows is half as many: the same request does not fit.
	f32 := newEngine(t, m, engine.Options{CacheBytes: budget})
	if _, _, err := collect(context.Background(), f32.Generate, prompt, opts); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("%d rows in an F32 budget of %d bytes: %v, want ErrBadInput", rows, budget, err)
	}
	if _, err := engine.New(m, engine.Options{KVCache: tensor.F64}); !errors.Is(err, nemotron.ErrBadOption) {
		t.Errorf("an F64 KV cache: %v, want ErrBadOption", err)
	}
}
