package nemotron

import (
	"context"
	"math"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
)

// A prompt longer than a State's chunk is scored in several passes, each cut into blocks of
// logits that do not line up with the chunks: the log-probabilities stay those of one pass's
// logits (float64 log-softmax of Forward's AllLogits), within 1e-4 (in exact precision
// chunking keeps the logits' bits, TestChunkedPrefill).
func TestScoreChunked(t *testing.T) {
	m, ids, logits := onePass(t)
	vocab := m.Config.VocabSize
	ctx := context.Background()
	want := make([]float64, len(ids))
	for p := 1; p < len(ids); p++ {
		row := logits[(p-1)*vocab : p*vocab]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = max(mx, float64(x))
		}
		var sum float64
		for _, x := range row {
			sum += math.Exp(float64(x) - mx)
		}
		want[p] = float64(row[ids[p]]) - mx - math.Log(sum)
	}
	for _, chunk := range []int{1, 7, 16, 17, 33, 44} {
		for _, from := range []int{0, 3, 20} {
			s, err := m.NewState(len(ids))
			if err != nil {
				t.Fatal(err)
			}
			s.chunk = chunk
			got := make([]float64, len(ids))
			copy(got, want[:from])
			_, err = s.Score(ctx, ids, from, ScoreOptions{Top: 2}, func(ts TokenScore) { got[ts.Pos] = ts.Logprob })
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := near.Check(got, want, 1e-4); err != nil {
				t.Errorf("chunk %d from %d: %v", chunk, from, err)
			}
		}
	}
}
