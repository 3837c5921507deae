package nemotron

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
)

// The top tokens are the largest logits, the lower id first among equals, however many are
// asked for; the argmax agrees with them.
func TestRowScorerTop(t *testing.T) {
	row := []float32{1, 3, 3, -1, 2, 3, float32(math.Inf(-1)), 2}
	var sum float64
	for _, x := range row {
		sum += math.Exp(float64(x) - 3)
	}
	lse := 3 + math.Log(sum)
	for _, tt := range []struct {
		k    int
		want []int32
	}{
		{0, nil}, {1, []int32{1}}, {2, []int32{1, 2}}, {3, []int32{1, 2, 5}},
		{5, []int32{1, 2, 5, 4, 7}}, {8, []int32{1, 2, 5, 4, 7, 0, 3, 6}},
	} {
		r := newRowScorer(tt.k)
		var ts TokenScore
		r.score(&ts, row, 2) // equal to the largest, but not the first of them
		if len(ts.Top) != len(tt.want) || ts.Greedy || !ts.Scored {
			t.Fatalf("top %d: %+v", tt.k, ts)
		}
		if err := near.Check([]float64{ts.Logprob}, []float64{3 - lse}, 1e-12); err != nil {
			t.Errorf("logprob: %v", err)
		}
		for i, tl := range ts.Top {
			if tl.ID != tt.want[i] || near.Diff(tl.Logprob, float64(row[tl.ID])-lse) > 1e-12 {
				t.Errorf("top %d: %+v, want ids %v", tt.k, ts.Top, tt.want)
				break
			}
		}
		r.score(&ts, row, 1)
		if !ts.Greedy || (tt.k > 0 && ts.Logprob != ts.Top[0].Logprob) {
			t.Errorf("top %d: token 1 (first of the largest) not greedy: %+v", tt.k, ts)
		}
	}
}

// One row of the 4B model's logits (vocabulary 256000) scored with 5 alternatives.
func BenchmarkRowScore256k(b *testing.B) {
	row := make([]float32, 256000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range row {
		row[i] = float32(rng.NormFloat64() * 3)
	}
	r := newRowScorer(5)
	var ts TokenScore
	for b.Loop() {
		r.score(&ts, row, 17)
	}
}
