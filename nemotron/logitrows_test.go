package nemotron

import (
	"context"
	"errors"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
)

// LogitRows yields every position from `from` on exactly once, in order, in blocks of at most
// 16 rows, each row that of one pass's AllLogits within 1e-4 (in exact precision chunking
// keeps the logits' bits, TestChunkedPrefill); a prompt longer than the chunk takes several
// passes.
func TestLogitRows(t *testing.T) {
	m, ids, all := onePass(t)
	vocab := m.Config.VocabSize
	ctx := context.Background()
	want := make([]float64, len(all))
	for i, x := range all {
		want[i] = float64(x)
	}
	for _, chunk := range []int{1, 7, 16, 17, 44, 45} {
		for _, from := range []int{0, 3, 20, 44} {
			s, err := m.NewState(len(ids))
			if err != nil {
				t.Fatal(err)
			}
			s.chunk = chunk
			next := from
			var got []float64
			for b, err := range s.LogitRows(ctx, ids, from) {
				if err != nil {
					t.Fatal(err)
				}
				n := b.N(vocab)
				if b.Pos != next || n < 1 || n > logitRows || n*vocab != len(b.Rows) {
					t.Fatalf("chunk %d from %d: block at %d of %d rows (%d values), want position %d", chunk, from, b.Pos, n, len(b.Rows), next)
				}
				next += n
				for _, x := range b.Rows {
					got = append(got, float64(x))
				}
			}
			s.Close()
			if next != len(ids) {
				t.Fatalf("chunk %d from %d: rows end at %d, want %d", chunk, from, next, len(ids))
			}
			if err := near.Check(got, want[from*vocab:], 1e-4); err != nil {
				t.Errorf("chunk %d from %d: %v", chunk, from, err)
			}
		}
	}
}

// Bad input is refused before any work, yielded once; breaking out stops between blocks;
// a cancelled context is the error.
func TestLogitRowsErrors(t *testing.T) {
	m := loadInternal(t, "tiny-a")
	ctx := context.Background()
	s, err := m.NewState(40)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := make([]int32, 40)
	for i := range ids {
		ids[i] = int32(2 + i)
	}
	for name, c := range map[string]struct {
		ids  []int32
		from int
	}{
		"empty":    {nil, 0},
		"vocab":    {[]int32{2, int32(m.Config.VocabSize)}, 0},
		"from":     {ids[:3], 3},
		"negative": {ids[:3], -1},
		"long":     {append(ids[:40:40], 5), 0},
	} {
		calls := 0
		for b, err := range s.LogitRows(ctx, c.ids, c.from) {
			calls++
			if !errors.Is(err, ErrBadInput) || b.Rows != nil {
				t.Errorf("%s: %v, %d values", name, err, len(b.Rows))
			}
		}
		if calls != 1 || s.Pos() != 0 {
			t.Errorf("%s: %d yields, state at %d", name, calls, s.Pos())
		}
	}
	blocks := 0
	for _, err := range s.LogitRows(ctx, ids, 0) {
		if err != nil {
			t.Fatal(err)
		}
		blocks++
		break
	}
	if blocks != 1 {
		t.Errorf("%d blocks after break", blocks)
	}
	s.Reset()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var last error
	for _, err := range s.LogitRows(cctx, ids, 0) {
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("cancelled: %v", last)
	}
}
