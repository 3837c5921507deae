package nemotron

import "math"

// TokenLogprob is a token and its log-probability at one position.
type TokenLogprob struct {
	ID      int32
	Logprob float64
}

// rowScorer turns one row of logits into log-probabilities. Its top buffer is reused from row
// to row, so that scoring allocates nothing per position.
type rowScorer struct {
	top []int32 // the ids of the most likely tokens so far, most likely first
	out []TokenLogprob
}

func newRowScorer(top int) *rowScorer {
	return &rowScorer{top: make([]int32, 0, top), out: make([]TokenLogprob, top)}
}

// score fills ts with id's log-probability under row, whether it is row's argmax, and the
// most likely tokens (ts.Top, valid until the next call).
//
// Everything comes from the same float64 numbers, float64(logit) − logsumexp: a greedy
// token's Logprob is bit-identical to Top[0].Logprob, which is what lm-evaluation-harness
// checks ("the logprob equals the largest of top_logprobs"). The argmax and the top tokens
// compare the float32 logits themselves (float64 conversion keeps their order), the first id
// winning among equals, as torch.argmax and torch.topk on CPU do.
func (r *rowScorer) score(ts *TokenScore, row []float32, id int32) {
	best := 0
	for i, x := range row {
		if x > row[best] {
			best = i
		}
	}
	// log Σ exp(x) = max + log Σ exp(x − max): no term overflows, the largest is exactly 1.
	mx := float64(row[best])
	var sum float64
	for _, x := range row {
		sum += math.Exp(float64(x) - mx)
	}
	lse := mx + math.Log(sum)

	ts.Scored = true
	ts.Logprob = float64(row[id]) - lse
	ts.Greedy = int(id) == best
	ts.Top = nil
	if cap(r.top) == 0 {
		return
	}
	r.selectTop(row)
	for i, t := range r.top {
		r.out[i] = TokenLogprob{ID: t, Logprob: float64(row[t]) - lse}
	}
	ts.Top = r.out[:len(r.top)]
}

// selectTop keeps the cap(r.top) largest logits of row in r.top, largest first, the lower id
// first among equals: ids arrive in increasing order, and a later one passes an earlier only
// when strictly larger.
func (r *rowScorer) selectTop(row []float32) {
	k := cap(r.top)
	top := r.top[:0]
	for i, x := range row {
		if len(top) == k && !(x > row[top[k-1]]) {
			continue
		}
		if len(top) < k {
			top = append(top, 0)
		}
		j := len(top) - 1
		for j > 0 && x > row[top[j-1]] {
			top[j] = top[j-1]
			j--
		}
		top[j] = int32(i)
	}
	r.top = top
}
