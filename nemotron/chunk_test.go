package nemotron

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/internal/near"
)

// A prompt longer than a State's chunk is run in several passes; the logits must not change.
func TestChunkedPrefill(t *testing.T) {
	m := loadInternal(t, "small-c")
	ids := make([]int32, 45)
	for i := range ids {
		ids[i] = int32(2 + 97*i%4000)
	}
	ctx := context.Background()
	whole, err := m.NewState(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	want, err := whole.Forward(ctx, ids, AllLogits, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 7, 16, 44} {
		s, err := m.NewState(len(ids))
		if err != nil {
			t.Fatal(err)
		}
		s.chunk = chunk
		got, err := s.Forward(ctx, ids, AllLogits, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if d := near.Diff(got[i], want[i]); d > 5e-5 { // the decode and prefill kernels sum in different orders
				t.Fatalf("chunk %d: logit %d differs by %g", chunk, i, d)
			}
		}
		last, err := s.Forward(ctx, nil, LastLogits, nil)
		if err == nil || last != nil {
			t.Errorf("empty forward accepted")
		}
		s.Close()
	}
}

// loadInternal loads a golden model on a 2-thread exact CPU backend, for the tests inside the
// package (goldentest, which the outside tests use, imports this package).
func loadInternal(t *testing.T, model string) *Model {
	t.Helper()
	b, err := cpu.New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	m, err := Load(filepath.Join("..", "testdata", "models", model), b, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
