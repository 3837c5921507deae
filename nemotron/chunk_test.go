package nemotron

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/internal/near"
)

// A prompt longer than a State's chunk is run in several passes; in exact precision the
// logits must keep their bits, token by token (the decode kernels) as in one pass of 45 rows
// (the GEMM and attention on panels): batch invariance.
func TestChunkedPrefill(t *testing.T) {
	m, ids, want := onePass(t)
	ctx := context.Background()
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
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("chunk %d: logit %d (row %d) is %g, in one pass %g (|diff| %.3g): not bit-identical", chunk, i, i/m.Config.VocabSize, got[i], want[i], near.Diff(got[i], want[i]))
			}
		}
		last, err := s.Forward(ctx, nil, LastLogits, nil)
		if err == nil || last != nil {
			t.Errorf("empty forward accepted")
		}
		s.Close()
	}
}

// onePass loads small-c and runs a 45-token prompt through it in one pass: the logits of
// every position, which the chunked passes of the tests are held to.
func onePass(t *testing.T) (*Model, []int32, []float32) {
	t.Helper()
	m := loadInternal(t, "small-c")
	ids := make([]int32, 45)
	for i := range ids {
		ids[i] = int32(2 + 97*i%4000)
	}
	whole, err := m.NewState(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	all, err := whole.Forward(context.Background(), ids, AllLogits, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, ids, all
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
