package nemotron_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/bench"
	"github.com/minitron-go/minitron/nemotron"
)

// BenchmarkBatchDecode decodes B sequences per step on random weights of the 4B model's
// widths (two layers, a 32k vocabulary: 0.36 B parameters), reporting total tokens/s: the
// weights are read once per step, so batching turns their read into more tokens.
func BenchmarkBatchDecode(b *testing.B) {
	cfg := nemotron.Minitron4B()
	cfg.Layers, cfg.VocabSize = 2, 32000
	w, err := bench.RandomWeights(cfg, 1, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		be := cpuBackend(b, p)
		m, err := nemotron.New(cfg, w, be)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 4, 8, 16} {
			b.Run(fmt.Sprintf("%s/batch=%d", p, n), func(b *testing.B) {
				batch, err := m.NewBatch(n)
				if err != nil {
					b.Fatal(err)
				}
				defer batch.Close()
				adv := make([]nemotron.Advance, n)
				for i := range adv {
					s, err := m.NewState(64 + b.N)
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					if _, err := s.Forward(context.Background(), []int32{2, int32(10 + i)}, nemotron.NoLogits, nil); err != nil {
						b.Fatal(err)
					}
					adv[i] = nemotron.Advance{State: s, IDs: []int32{int32(100 + i)}}
				}
				b.ResetTimer()
				for range b.N {
					if err := batch.Step(context.Background(), adv); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}
