package main

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/minitron-go/minitron/tensor"
)

// What `minitron perplexity` computes at each scored position, and how it sums them: in
// float64 throughout, from the float32 logits, as llama.cpp's llama-perplexity does.

// rowResult is one scored position: the negative log-likelihood of the next token under the
// model and, comparing with a base model, under the base, KL(base ‖ model) of the two
// next-token distributions, and whether their most likely tokens agree.
type rowResult struct {
	nll, baseNLL float64
	kl           float64
	same         bool
}

// scoreRow is the model's row alone: −log softmax(row)[tok].
func scoreRow(row []float32, tok int32) rowResult {
	_, lse := logSumExp(row)
	return rowResult{nll: lse - float64(row[tok])}
}

// compareRows scores tok under the model's row q and the base's row p and compares the two
// distributions:
//
//	KL(P ‖ Q) = Σᵢ Pᵢ (log Pᵢ − log Qᵢ) = Σᵢ Pᵢ (pᵢ − qᵢ) + lse(q) − lse(p)
//
// with Pᵢ = exp(pᵢ − lse(p)) (the second form because Σ Pᵢ = 1: one exponential per logit of
// each row). For identical rows every term is exactly zero: a model compared with itself has
// KL 0, not rounding noise. The argmaxes compare the float32 logits, the first among equals.
func compareRows(q, p []float32, tok int32) rowResult {
	bq, bp := tensor.Argmax(q), tensor.Argmax(p)
	mq, mp := float64(q[bq]), float64(p[bp])
	var sq, sp, sd float64
	for i, x := range p {
		e := math.Exp(float64(x) - mp)
		sp += e
		sd += e * (float64(x) - float64(q[i]))
		sq += math.Exp(float64(q[i]) - mq)
	}
	lseQ, lseP := mq+math.Log(sq), mp+math.Log(sp)
	return rowResult{
		nll:     lseQ - float64(q[tok]),
		baseNLL: lseP - float64(p[tok]),
		kl:      sd/sp + lseQ - lseP,
		same:    bq == bp,
	}
}

// logSumExp returns the argmax of row and log Σ exp(row), shifted by the maximum so that no
// term overflows.
func logSumExp(row []float32) (int, float64) {
	best := tensor.Argmax(row)
	mx := float64(row[best])
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x) - mx)
	}
	return best, mx + math.Log(s)
}

// scoreBlock scores a block of rows on every core (a row of the 4B model's 256,000 logits
// takes milliseconds; the backend waits meanwhile): row j of rows (and of base, when
// comparing) predicts targets[j]. out must have len(targets) elements.
func scoreBlock(out []rowResult, rows, base []float32, vocab int, targets []int32) {
	one := func(j int) {
		r := rows[j*vocab : (j+1)*vocab]
		if base == nil {
			out[j] = scoreRow(r, targets[j])
		} else {
			out[j] = compareRows(r, base[j*vocab:(j+1)*vocab], targets[j])
		}
	}
	workers := min(len(targets), runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for j := w; j < len(targets); j += workers {
				one(j)
			}
		})
	}
	wg.Wait()
}

// pplStats sums rowResults. Standard errors are those of a mean of independent samples,
// √(var/(n−1)), as llama-perplexity reports them (positions of one text are not independent:
// read them as a scale of the noise, not a confidence interval).
type pplStats struct {
	compare bool
	n       int
	nll     moments // −log P(token), the model
	baseNLL moments // the base
	diff    moments // nll − baseNLL: ln(PPL(model)/PPL(base))
	kl      moments
	klMax   float64
	kls     []float64 // every KL, for the percentiles
	same    int
}

// moments are a running sum and sum of squares.
type moments struct{ sum, sum2 float64 }

func (m *moments) add(x float64) { m.sum += x; m.sum2 += x * x }

// meanErr is the mean of n samples and its standard error (0 for fewer than two).
func (m moments) meanErr(n int) (mean, stderr float64) {
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	mean = m.sum / float64(n)
	if n > 1 {
		v := max(m.sum2/float64(n)-mean*mean, 0)
		stderr = math.Sqrt(v / float64(n-1))
	}
	return mean, stderr
}

func (s *pplStats) add(r rowResult) {
	s.n++
	s.nll.add(r.nll)
	if !s.compare {
		return
	}
	s.baseNLL.add(r.baseNLL)
	s.diff.add(r.nll - r.baseNLL)
	s.kl.add(r.kl)
	s.klMax = max(s.klMax, r.kl)
	s.kls = append(s.kls, r.kl)
	if r.same {
		s.same++
	}
}

// perplexity is exp(mean NLL) and its standard error by the delta method, PPL·stderr(NLL).
func perplexity(m moments, n int) (ppl, stderr float64) {
	mean, e := m.meanErr(n)
	ppl = math.Exp(mean)
	return ppl, ppl * e
}

// agreement is the fraction of positions whose argmaxes agree, and its standard error.
func (s *pplStats) agreement() (p, stderr float64) {
	if s.n == 0 {
		return math.NaN(), math.NaN()
	}
	p = float64(s.same) / float64(s.n)
	if s.n > 1 {
		stderr = math.Sqrt(p * (1 - p) / float64(s.n-1))
	}
	return p, stderr
}

// klPercentile is the q-quantile (0…1) of the KL divergences, interpolating linearly between
// the closest ranks; sorted must be s.kls sorted.
func klPercentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	x := q * float64(len(sorted)-1)
	i := int(x)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (x-float64(i))*(sorted[i+1]-sorted[i])
}

// sortedKLs returns a sorted copy of the KL divergences.
func (s *pplStats) sortedKLs() []float64 {
	k := slices.Clone(s.kls)
	slices.Sort(k)
	return k
}
