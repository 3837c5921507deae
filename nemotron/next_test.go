package nemotron_test

import (
	"context"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
	"github.com/minitron-go/minitron/tensor"
)

// newState is a State of the model's whole context, closed when the test ends.
func newState(t *testing.T, m *nemotron.Model) *nemotron.State {
	t.Helper()
	s, err := m.NewState(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// hostOnly hides a backend's Argmaxer: the model then reads the logits and chooses on the host.
type hostOnly struct{ backend.Backend }

// NextToken gives the id of the largest logit that LastLogits returns, from a State alone and
// from a Batch beside sequences that want their logits, where the backend finds it (the CPU
// implements backend.Argmaxer) and where the host does.
func TestNextToken(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		wrap func(backend.Backend) backend.Backend
	}{{"argmaxer", func(b backend.Backend) backend.Backend { return b }}, {"host", func(b backend.Backend) backend.Backend { return hostOnly{b} }}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := cpu.New(backend.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			dir := goldentest.Dir(1, "tiny-b")
			m, g := goldentest.LoadModel(t, dir, tc.wrap(b)), goldentest.Load(t, dir)
			gc := g.Greedy[0]
			ref, s := newState(t, m), newState(t, m)
			in := gc.PromptIDs
			for i := range 6 {
				lg, err := ref.Forward(ctx, in, nemotron.LastLogits, nil)
				if err != nil {
					t.Fatal(err)
				}
				next, err := s.ForwardArgmax(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				if want := int32(tensor.Argmax(lg)); next != want {
					t.Fatalf("step %d: ForwardArgmax %d, the largest of Forward's logits %d", i, next, want)
				}
				in = []int32{next}
			}

			// A batch: NextToken beside LastLogits, each as the sequence gets it alone.
			batch, err := m.NewBatch(64)
			if err != nil {
				t.Fatal(err)
			}
			defer batch.Close()
			states := []*nemotron.State{newState(t, m), newState(t, m), newState(t, m)}
			p := gc.PromptIDs
			adv := []nemotron.Advance{
				{State: states[0], IDs: p, Want: nemotron.NextToken},
				{State: states[1], IDs: p[:3], Want: nemotron.LastLogits},
				{State: states[2], IDs: p[1:], Want: nemotron.NextToken},
			}
			if err := batch.Step(ctx, adv); err != nil {
				t.Fatal(err)
			}
			for i, a := range adv {
				lg, err := newState(t, m).Forward(ctx, a.IDs, nemotron.LastLogits, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Batched, the products take other kernels than alone (TestBatchMatchesAlone):
				// ids are asserted where the top two logits are apart.
				switch best, margin := goldentest.Top2(lg); {
				case a.Want != nemotron.NextToken:
					if d, _ := near.Max(a.Logits, lg); !(d <= batchTol*10) {
						t.Errorf("batched sequence %d: logits %.3g from its logits alone", i, d)
					}
				case len(a.Logits) != 0 || margin > 1e-3 && int(a.Next) != best:
					t.Errorf("batched sequence %d: next %d and %d logits, want %d (margin %.3g) and none", i, a.Next, len(a.Logits), best, margin)
				}
			}
		})
	}
}
