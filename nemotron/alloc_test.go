package nemotron_test

import (
	"context"
	"testing"

	"github.com/minitron-go/minitron/nemotron"
)

// A decoding step allocates nothing: the worker pool, its tasks, the scratch, the views of it
// and the KV cache are all in place after the first step.
func TestDecodeAllocations(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	s, err := m.NewState(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Forward(ctx, []int32{2, 5, 6, 7}, nemotron.LastLogits, nil); err != nil {
		t.Fatal(err)
	}
	id := []int32{9}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := s.Forward(ctx, id, nemotron.LastLogits, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.0f allocations per decoded token, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(20, func() {
		if _, err := s.ForwardArgmax(ctx, id); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.0f allocations per token decoded greedily (ForwardArgmax), want 0", allocs)
	}
}
