package goldentest

import (
	"cmp"
	"context"
	"math"
	"slices"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
)

// ScoreTop is how many alternatives CheckScore asks of each position.
const ScoreTop = 5

// CheckScore scores every case from several starting positions (0, 1, the middle, the last)
// and compares each log-probability, the token's and its top alternatives', with the float64
// log-softmax of the reference logits, within tol; it returns the largest difference. The
// greedy flag must be the reference's argmax, and each top rank the reference's, wherever the
// reference's logits there are more than margin apart from their neighbours; a greedy token's
// log-probability must equal Top[0]'s exactly (lm-evaluation-harness's test of greediness).
func CheckScore(t *testing.T, m *nemotron.Model, g *Golden, tol, margin float64) float64 {
	t.Helper()
	vocab := m.Config.VocabSize
	var worst float64
	greedy, ranks := 0, 0
	for _, c := range g.Cases {
		logits := g.Tensor(t, c.Name+".logits")
		for _, from := range slices.Compact([]int{0, 1, len(c.IDs) / 2, len(c.IDs) - 1}) {
			if from >= len(c.IDs) {
				continue
			}
			scores, err := m.Score(context.Background(), c.IDs, from, nemotron.ScoreOptions{Top: ScoreTop})
			if err != nil {
				t.Fatal(err)
			}
			if len(scores) != len(c.IDs)-from {
				t.Fatalf("%s from %d: %d scores, want %d", c.Name, from, len(scores), len(c.IDs)-from)
			}
			var got, want []float64
			for i, s := range scores {
				p := from + i
				if s.Pos != p || s.ID != c.IDs[p] || s.Scored != (p > 0) {
					t.Fatalf("%s from %d: score %d is %+v, want position %d, id %d, scored %v", c.Name, from, i, s, p, c.IDs[p], p > 0)
				}
				if p == 0 {
					if s.Logprob != 0 || s.Greedy || s.Top != nil {
						t.Errorf("%s: unscored first token %+v", c.Name, s)
					}
					continue
				}
				row := logits[(p-1)*vocab : p*vocab]
				ref := LogSoftmax(row)
				got = append(got, s.Logprob)
				want = append(want, ref[s.ID])
				if best, lead := Top2(row); lead > margin {
					greedy++
					if s.Greedy != (int(s.ID) == best) {
						t.Errorf("%s position %d: greedy %v, reference argmax %d, token %d (lead %.3g)", c.Name, p, s.Greedy, best, s.ID, lead)
					}
				}
				if len(s.Top) != ScoreTop {
					t.Fatalf("%s position %d: %d top tokens, want %d", c.Name, p, len(s.Top), ScoreTop)
				}
				if s.Greedy != (s.Logprob == s.Top[0].Logprob) || s.Greedy != (s.ID == s.Top[0].ID) {
					t.Errorf("%s position %d: greedy %v, logprob %v, top %+v", c.Name, p, s.Greedy, s.Logprob, s.Top[0])
				}
				order := ranked(row)
				for k, tl := range s.Top {
					got = append(got, tl.Logprob)
					want = append(want, ref[tl.ID])
					if k > 0 && (tl.Logprob > s.Top[k-1].Logprob || tl.Logprob == s.Top[k-1].Logprob && tl.ID < s.Top[k-1].ID) {
						t.Errorf("%s position %d: top out of order: %+v", c.Name, p, s.Top)
					}
					apart := float64(row[order[k]])-float64(row[order[k+1]]) > margin &&
						(k == 0 || float64(row[order[k-1]])-float64(row[order[k]]) > margin)
					if apart {
						ranks++
						if int(tl.ID) != order[k] {
							t.Errorf("%s position %d: top %d is %d, reference %d", c.Name, p, k, tl.ID, order[k])
						}
					}
				}
			}
			if len(got) == 0 {
				continue // a one-token case: nothing to score
			}
			d, at := near.Max(got, want)
			if !(d <= tol) {
				t.Errorf("%s from %d: |logprob error| %.3g at %d (got %v, want %v), tolerance %g", c.Name, from, d, at, got[at], want[at], tol)
			}
			worst = max(worst, d)
		}
	}
	if greedy == 0 || ranks == 0 {
		t.Errorf("%d greedy flags and %d top ranks asserted (margin %g)", greedy, ranks, margin)
	}
	t.Logf("%d greedy flags and %d top ranks asserted (margin %g)", greedy, ranks, margin)
	return worst
}

// LogSoftmax is the float64 log-softmax of a row of logits.
func LogSoftmax(row []float32) []float64 {
	mx := math.Inf(-1)
	for _, x := range row {
		mx = max(mx, float64(x))
	}
	var sum float64
	for _, x := range row {
		sum += math.Exp(float64(x) - mx)
	}
	lse := mx + math.Log(sum)
	out := make([]float64, len(row))
	for i, x := range row {
		out[i] = float64(x) - lse
	}
	return out
}

// ranked is every id of row, the most likely first, the lower id first among equals.
func ranked(row []float32) []int {
	ids := make([]int, len(row))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(row[b], row[a]) })
	return ids
}
