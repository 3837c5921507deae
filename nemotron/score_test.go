package nemotron_test

import (
	"cmp"
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// scoreTolerance bounds |log-probability − reference|: each is a logit minus a log-sum-exp,
// so it carries the logits' error (exact's 1e-4; measured ≤ 1.5e-5) about twice over at most.
const scoreTolerance = 1e-4

// greedyMargin is the reference's lead of its top logit over the runner-up above which the
// greedy flag must agree with the reference's argmax: twice the largest logit error allowed.
const greedyMargin = 2 * 1e-4

// refLogSoftmax is the float64 log-softmax of one row of reference logits.
func refLogSoftmax(row []float32) []float64 {
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

// refTop is every id of row, most likely first, the lower id first among equals.
func refTop(row []float32) []int {
	ids := make([]int, len(row))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(row[b], row[a]) })
	return ids
}

// Score equals the float64 log-softmax of the golden logits at every position of every case
// (prompts of 20 to 53 tokens: up to four blocks of 16 rows of logits), its greedy flags the
// reference's argmax wherever the reference's top two are apart, its top-N the reference's.
func TestScoreGolden(t *testing.T) {
	const top = 5
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name, 2)
			g := goldentest.Load(t, goldentest.Dir(1, name))
			vocab := m.Config.VocabSize
			var worst float64
			asserted, topAsserted := 0, 0
			for _, c := range g.Cases {
				logits := g.Tensor(t, c.Name+".logits")
				for _, from := range slices.Compact([]int{0, 1, len(c.IDs) / 2, len(c.IDs) - 1}) {
					if from >= len(c.IDs) {
						continue
					}
					scores, err := m.Score(context.Background(), c.IDs, from, nemotron.ScoreOptions{Top: top})
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
						ref := refLogSoftmax(row)
						got = append(got, s.Logprob)
						want = append(want, ref[s.ID])
						best, lead := goldentest.Top2(row)
						if lead > greedyMargin {
							asserted++
							if s.Greedy != (int(s.ID) == best) {
								t.Errorf("%s position %d: greedy %v, reference argmax %d, token %d (lead %.3g)", c.Name, p, s.Greedy, best, s.ID, lead)
							}
						}
						// lm-evaluation-harness's greedy test: the logprob is the largest of the top ones.
						if len(s.Top) != top {
							t.Fatalf("%s position %d: %d top tokens, want %d", c.Name, p, len(s.Top), top)
						}
						if s.Greedy != (s.Logprob == s.Top[0].Logprob) || s.Greedy != (s.ID == s.Top[0].ID) {
							t.Errorf("%s position %d: greedy %v, logprob %v, top %+v", c.Name, p, s.Greedy, s.Logprob, s.Top[0])
						}
						order := refTop(row)
						for k, tl := range s.Top {
							got = append(got, tl.Logprob)
							want = append(want, ref[tl.ID])
							if k > 0 && (tl.Logprob > s.Top[k-1].Logprob || tl.Logprob == s.Top[k-1].Logprob && tl.ID < s.Top[k-1].ID) {
								t.Errorf("%s position %d: top out of order: %+v", c.Name, p, s.Top)
							}
							// The rank must be the reference's where it is clear of both neighbours.
							apart := float64(row[order[k]])-float64(row[order[k+1]]) > greedyMargin &&
								(k == 0 || float64(row[order[k-1]])-float64(row[order[k]]) > greedyMargin)
							if apart {
								topAsserted++
								if int(tl.ID) != order[k] {
									t.Errorf("%s position %d: top %d is %d, reference %d", c.Name, p, k, tl.ID, order[k])
								}
							}
						}
					}
					if len(got) == 0 {
						continue // bos_only: nothing to score
					}
					d, at := near.Max(got, want)
					if !(d <= scoreTolerance) {
						t.Errorf("%s from %d: |logprob error| %.3g at %d (got %v, want %v), tolerance %g", c.Name, from, d, at, got[at], want[at], scoreTolerance)
					}
					worst = max(worst, d)
				}
			}
			if asserted == 0 || topAsserted == 0 {
				t.Errorf("%d greedy flags and %d top ranks asserted", asserted, topAsserted)
			}
			t.Logf("%s: max |logprob error| %.3g; %d greedy flags and %d top ranks asserted (margin %g)", name, worst, asserted, topAsserted, greedyMargin)
		})
	}
}

// The sums the command and an evaluation report.
func TestScoresLogLikelihood(t *testing.T) {
	s := nemotron.Scores{{Pos: 0}, {Pos: 1, Scored: true, Logprob: -1}, {Pos: 2, Scored: true, Logprob: -3}}
	if sum, n := s.LogLikelihood(); sum != -4 || n != 2 {
		t.Errorf("log-likelihood %v over %d, want -4 over 2", sum, n)
	}
	if err := near.Check([]float64{s.Perplexity()}, []float64{math.Exp(2)}, 1e-12); err != nil {
		t.Error(err)
	}
	if p := s[:1].Perplexity(); !math.IsNaN(p) {
		t.Errorf("perplexity of nothing scored: %v, want NaN", p)
	}
}

// State.Score leaves the sequence in the state and returns the logits after it, as Forward
// does: generation can continue from a scored prompt.
func TestStateScoreContinues(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	g := goldentest.Load(t, goldentest.Dir(1, "small-c"))
	c := g.Cases[2] // 50 tokens
	vocab := m.Config.VocabSize
	logits := g.Tensor(t, c.Name+".logits")
	s, err := m.NewState(len(c.IDs) + 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	calls := 0
	next, err := s.Score(context.Background(), c.IDs, 40, nemotron.ScoreOptions{}, func(ts nemotron.TokenScore) {
		if ts.Pos != 40+calls || ts.Top != nil {
			t.Errorf("call %d: %+v", calls, ts)
		}
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(c.IDs)-40 || s.Pos() != len(c.IDs) {
		t.Errorf("%d calls, state at %d; want %d, %d", calls, s.Pos(), len(c.IDs)-40, len(c.IDs))
	}
	if err := near.Check(next, logits[(len(c.IDs)-1)*vocab:], 1e-4); err != nil {
		t.Errorf("logits after the prompt: %v", err)
	}
	if _, err := s.Forward(context.Background(), []int32{5}, nemotron.LastLogits, nil); err != nil {
		t.Error(err)
	}
}

func TestScoreErrors(t *testing.T) {
	m := loadModel(t, "tiny-a", 1)
	vocab := int32(m.Config.VocabSize)
	ctx := context.Background()
	ids := []int32{2, 5, 7}
	tests := []struct {
		name string
		ids  []int32
		from int
		top  int
		kind error
	}{
		{"no ids", nil, 0, 0, nemotron.ErrBadInput},
		{"negative from", ids, -1, 0, nemotron.ErrBadInput},
		{"from past the end", ids, 3, 0, nemotron.ErrBadInput},
		{"id past the vocabulary", []int32{2, vocab}, 0, 0, nemotron.ErrBadInput},
		{"negative id", []int32{2, -1}, 0, 0, nemotron.ErrBadInput},
		{"longer than the context", make([]int32, m.Config.MaxPositions+1), 0, 0, nemotron.ErrBadInput},
		{"negative top", ids, 0, -1, nemotron.ErrBadOption},
		{"top past the vocabulary", ids, 0, int(vocab) + 1, nemotron.ErrBadOption},
	}
	for _, tt := range tests {
		if _, err := m.Score(ctx, tt.ids, tt.from, nemotron.ScoreOptions{Top: tt.top}); !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
		}
	}
	if s, err := m.Score(ctx, ids, 0, nemotron.ScoreOptions{Top: int(vocab)}); err != nil || len(s[1].Top) != int(vocab) {
		t.Errorf("top = vocabulary: %v", err)
	}

	s, err := m.NewState(4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Score(ctx, []int32{2, 5, 7, 9, 11}, 0, nemotron.ScoreOptions{}, func(nemotron.TokenScore) {}); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("more ids than the state holds: %v", err)
	}
	if s.Pos() != 0 {
		t.Errorf("a refused Score moved the state to %d", s.Pos())
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Score(cancelled, ids, 0, nemotron.ScoreOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// Cancelling stops the scoring between blocks of logits, not after the whole prompt.
func TestScoreCancelBetweenBlocks(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	ids := make([]int32, 200)
	for i := range ids {
		ids[i] = int32(2 + 31*i%4000)
	}
	s, err := m.NewState(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = s.Score(ctx, ids, 1, nemotron.ScoreOptions{}, func(nemotron.TokenScore) {
		calls++
		cancel()
	})
	if !errors.Is(err, context.Canceled) || calls > 16 {
		t.Errorf("cancelled at the first score: %v after %d scores", err, calls)
	}
}

// Scoring a long prompt allocates a small fraction of what its logits would take on the host
// (len·vocab float32): logits come 16 rows at a time into one buffer the State keeps.
func TestScoreAllocatesNoFullLogits(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	ids := make([]int32, 480)
	for i := range ids {
		ids[i] = int32(2 + 97*i%4000)
	}
	full := uint64(len(ids) * m.Config.VocabSize * 4)
	s, err := m.NewState(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// The backend grows its own scratch at its first pass of this length: not Score's doing.
	if _, err := s.Forward(ctx, ids, nemotron.NoLogits, nil); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	n := 0
	count := func(nemotron.TokenScore) { n++ }
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := s.Score(ctx, ids, 0, nemotron.ScoreOptions{Top: 5}, count); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	bytes := after.TotalAlloc - before.TotalAlloc
	if n != len(ids) {
		t.Fatalf("%d scores, want %d", n, len(ids))
	}
	if bytes > full/8 {
		t.Errorf("scoring %d tokens allocated %d bytes; the full logits are %d", len(ids), bytes, full)
	}
	// Again on the same State, with its buffer in place: a few small objects per block of 16
	// positions (views of the scratch, the goroutines scoring its rows), none of them logits.
	allocs := testing.AllocsPerRun(2, func() {
		s.Reset()
		if _, err := s.Score(ctx, ids, 0, nemotron.ScoreOptions{Top: 5}, count); err != nil {
			t.Fatal(err)
		}
	})
	blocks := float64((len(ids) + 15) / 16)
	if allocs > (8+2*float64(runtime.GOMAXPROCS(0)))*blocks {
		t.Errorf("%.0f allocations to rescore %d tokens (%.0f blocks of logits)", allocs, len(ids), blocks)
	}
	t.Logf("first score of %d tokens: %d bytes allocated (full logits %d); then %.0f allocations", len(ids), bytes, full, allocs)
}
