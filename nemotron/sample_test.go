package nemotron

import (
	"math"
	"sort"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
)

// hfReference mirrors transformers' logits processors step by step on a whole vector:
// masks with -Inf, full sorts, cumulative sums. It is slow and obviously right.
func hfReference(logits []float32, history []int32, c Sampling) []float64 {
	sc := make([]float64, len(logits))
	for i, v := range logits {
		sc[i] = float64(v)
	}
	if c.RepetitionPenalty != 0 && c.RepetitionPenalty != 1 {
		seen := map[int32]bool{}
		for _, id := range history {
			if !seen[id] {
				seen[id] = true
				if sc[id] < 0 {
					sc[id] *= c.RepetitionPenalty
				} else {
					sc[id] /= c.RepetitionPenalty
				}
			}
		}
	}
	if c.Temperature == 0 {
		best := 0
		for i := range sc {
			if sc[i] > sc[best] {
				best = i
			}
		}
		out := make([]float64, len(sc))
		out[best] = 1
		return out
	}
	for i := range sc {
		sc[i] /= c.Temperature
	}
	softmax := func(v []float64) []float64 {
		mx := math.Inf(-1)
		for _, x := range v {
			mx = max(mx, x)
		}
		out := make([]float64, len(v))
		var s float64
		for i, x := range v {
			out[i] = math.Exp(x - mx)
			s += out[i]
		}
		for i := range out {
			out[i] /= s
		}
		return out
	}
	inf := math.Inf(-1)
	if c.TopK > 0 && c.TopK < len(sc) { // TopKLogitsWarper
		sorted := append([]float64(nil), sc...)
		sort.Sort(sort.Reverse(sort.Float64Slice(sorted)))
		kth := sorted[c.TopK-1]
		for i := range sc {
			if sc[i] < kth {
				sc[i] = inf
			}
		}
	}
	if c.TopP > 0 && c.TopP < 1 { // TopPLogitsWarper: ascending sort, remove cumprobs <= 1-p
		idx := make([]int, len(sc))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return sc[idx[a]] < sc[idx[b]] })
		sorted := make([]float64, len(sc))
		for i, j := range idx {
			sorted[i] = sc[j]
		}
		probs := softmax(sorted)
		var cum float64
		remove := make([]bool, len(sc))
		for i := range probs {
			cum += probs[i]
			remove[i] = cum <= 1-c.TopP
		}
		remove[len(remove)-1] = false
		for i, j := range idx {
			if remove[i] {
				sc[j] = inf
			}
		}
	}
	if c.MinP > 0 { // MinPLogitsWarper
		probs := softmax(sc)
		top := 0.0
		for _, p := range probs {
			top = max(top, p)
		}
		for i := range sc {
			if probs[i] < c.MinP*top {
				sc[i] = inf
			}
		}
	}
	return softmax(sc)
}

func TestSamplingDistribution(t *testing.T) {
	logits := []float32{2.0, 1.0, 0.5, 0.5, -1, -3, 1.5, 0.25, -0.5, 3}
	history := []int32{9, 0, 9, 5}
	tests := []Sampling{
		{},
		{Temperature: 1},
		{Temperature: 0.7},
		{Temperature: 1, TopK: 3},
		{Temperature: 1, TopK: 3, RepetitionPenalty: 1.3},
		{Temperature: 1, TopK: 4}, // the 4th and 5th tie at 0.5: both kept
		{Temperature: 1, TopP: 0.5},
		{Temperature: 1, TopP: 0.9},
		{Temperature: 1.5, TopP: 0.8, TopK: 6},
		{Temperature: 1, MinP: 0.2},
		{Temperature: 0.8, TopK: 5, TopP: 0.95, MinP: 0.05, RepetitionPenalty: 1.1},
		{RepetitionPenalty: 2}, // greedy after the penalty: 9 falls to 1.5, tying 6; the lower id wins, as argmax does
		{Temperature: 1, TopP: 1e-9},
	}
	for _, c := range tests {
		s, err := NewSampler(c)
		if err != nil {
			t.Fatal(err)
		}
		ids, probs := s.Distribution(logits, history)
		got := make([]float64, len(logits))
		for i, id := range ids {
			got[id] = probs[i]
		}
		want := hfReference(logits, history, c)
		for i := range want {
			if near.Diff(got[i], want[i]) > 1e-12 {
				t.Errorf("%+v: P(%d) = %.15f, want %.15f\n got %v\nwant %v", c, i, got[i], want[i], got, want)
				break
			}
		}
	}
}

// Hand-computed expectations, independent of the reference above.
func TestSamplingByHand(t *testing.T) {
	// Temperature 1, top-k 2 over logits ln 3, ln 1, ln 2: tokens 0 and 2 with 3/5 and 2/5.
	s, _ := NewSampler(Sampling{Temperature: 1, TopK: 2})
	ids, probs := s.Distribution([]float32{float32(math.Log(3)), 0, float32(math.Log(2))}, nil)
	if len(ids) != 2 || ids[0] != 0 || ids[1] != 2 || near.Diff(probs[0], 0.6) > 1e-7 || near.Diff(probs[1], 0.4) > 1e-7 {
		t.Errorf("top-k: %v %v", ids, probs)
	}
	// Probabilities .5 .3 .2 with top-p 0.6: token 0 (mass above it 0 < .6) and token 1
	// (mass above .5 < .6) stay; token 2 (mass above .8) goes.
	s, _ = NewSampler(Sampling{Temperature: 1, TopP: 0.6})
	ids, probs = s.Distribution([]float32{float32(math.Log(.5)), float32(math.Log(.3)), float32(math.Log(.2))}, nil)
	if len(ids) != 2 || near.Diff(probs[0], 0.625) > 1e-7 || near.Diff(probs[1], 0.375) > 1e-7 {
		t.Errorf("top-p: %v %v", ids, probs)
	}
	// Min-p 0.5 with .5 .3 .2: .3 >= .25 stays, .2 goes.
	s, _ = NewSampler(Sampling{Temperature: 1, MinP: 0.5})
	ids, probs = s.Distribution([]float32{float32(math.Log(.5)), float32(math.Log(.3)), float32(math.Log(.2))}, nil)
	if len(ids) != 2 || near.Diff(probs[0], 0.625) > 1e-7 {
		t.Errorf("min-p: %v %v", ids, probs)
	}
	// Greedy is tensor.Argmax's choice, the one NextToken makes on a backend: the first of
	// the largest, never a NaN.
	s, _ = NewSampler(Sampling{})
	nan := float32(math.NaN())
	for _, c := range []struct {
		logits []float32
		want   int32
	}{{[]float32{1, 3, 3}, 1}, {[]float32{nan, -5, -3, nan}, 2}, {[]float32{nan, nan}, 0}} {
		if ids, _ := s.Distribution(c.logits, nil); len(ids) != 1 || ids[0] != c.want {
			t.Errorf("greedy over %v: %v, want %d", c.logits, ids, c.want)
		}
	}
}

// Drawing many tokens reproduces the distribution, and the same seed the same draws.
func TestSamplingFrequencies(t *testing.T) {
	logits := []float32{1, 0.5, 0, -0.5, 2}
	c := Sampling{Temperature: 1, TopK: 4, Seed: 7}
	s, _ := NewSampler(c)
	ids, probs := s.Distribution(logits, nil)
	want := map[int32]float64{}
	for i, id := range ids {
		want[id] = probs[i]
	}
	const n = 200000
	counts := map[int32]int{}
	var draws []int32
	for range n {
		id := s.Sample(logits, nil)
		counts[id]++
		if len(draws) < 50 {
			draws = append(draws, id)
		}
	}
	for id, p := range want {
		f := float64(counts[id]) / n
		if se := math.Sqrt(p * (1 - p) / n); near.Diff(f, p) > 5*se {
			t.Errorf("token %d drawn with frequency %.4f, want %.4f", id, f, p)
		}
	}
	if counts[3] != 0 {
		t.Errorf("token 3, outside the top 4, was drawn %d times", counts[3])
	}
	again, _ := NewSampler(c)
	for i, want := range draws {
		if got := again.Sample(logits, nil); got != want {
			t.Fatalf("draw %d with the same seed: %d, want %d", i, got, want)
		}
	}
}

func TestSamplingValidate(t *testing.T) {
	for _, c := range []Sampling{{Temperature: -1}, {TopK: -1}, {TopP: 1.5}, {MinP: -0.1}, {RepetitionPenalty: -1}, {Temperature: math.NaN()}} {
		if _, err := NewSampler(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
