package nemotron_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/bench"
	"github.com/minitron-go/minitron/nemotron"
)

// BenchmarkLookupPass times a verification pass of 1+N rows (the last token chosen and N
// drafts, logits for every row) against a decoding step of one row, at a context of 256, on
// random weights of the 4B model's widths: four layers and a 32k vocabulary (0.43 B
// parameters, the layers-to-head ratio of the real model). Its "vs_1row" metric is what a
// pass costs in steps of one row: prompt lookup gains where the tokens a pass gives, 1 plus
// the drafts accepted, exceed it.
func BenchmarkLookupPass(b *testing.B) {
	cfg := nemotron.Minitron4B()
	cfg.Layers, cfg.VocabSize = 4, 32000
	w, err := bench.RandomWeights(cfg, 1, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		m, err := nemotron.New(cfg, w, cpuBackend(b, p))
		if err != nil {
			b.Fatal(err)
		}
		s, err := m.NewState(512)
		if err != nil {
			b.Fatal(err)
		}
		prompt := make([]int32, 256)
		for i := range prompt {
			prompt[i] = int32(10 + i)
		}
		if _, err := s.Forward(ctx, prompt, nemotron.NoLogits, nil); err != nil {
			b.Fatal(err)
		}
		var one float64 // seconds a step of one row
		for _, n := range []int{0, 2, 4, 8, nemotron.MaxLookup} {
			b.Run(fmt.Sprintf("%s/drafts=%d", p, n), func(b *testing.B) {
				ids := make([]int32, 1+n)
				want := nemotron.AllLogits
				for range b.N {
					if _, err := s.Forward(ctx, ids, want, nil); err != nil {
						b.Fatal(err)
					}
					s.Truncate(256) // the drafts rejected: the context stays where it was
				}
				per := b.Elapsed().Seconds() / float64(b.N)
				if n == 0 {
					one = per
				}
				if one > 0 {
					b.ReportMetric(per/one, "vs_1row")
				}
			})
		}
		s.Close()
	}
}
