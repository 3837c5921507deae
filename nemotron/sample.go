package nemotron

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
)

// Sampling chooses the next token from logits with the semantics, and in the order, of
// transformers' generate: repetition penalty, then temperature, top-k, top-p and min-p.
// The zero value is greedy decoding.
type Sampling struct {
	// Temperature divides the logits; 0 picks the most likely token (greedy).
	Temperature float64
	// TopK keeps the k most likely tokens (and any tied with the k-th); 0 keeps all.
	TopK int
	// TopP keeps the most likely tokens whose probabilities sum to at least p; 0 or 1 keeps all.
	TopP float64
	// MinP drops tokens less likely than MinP times the most likely one; 0 keeps all.
	MinP float64
	// RepetitionPenalty divides the positive logits (multiplies the negative ones) of every
	// token already in the sequence, prompt included; 0 or 1 leaves them alone.
	RepetitionPenalty float64
	// Seed makes sampling reproducible: the same seed, model and prompt give the same tokens.
	Seed uint64
}

// Validate reports settings outside their ranges, naming the setting.
func (s Sampling) Validate() error {
	switch {
	case !(s.Temperature >= 0) || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("temperature %v: must be >= 0", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("top-k %d: must be >= 0", s.TopK)
	case !(s.TopP >= 0 && s.TopP <= 1):
		return fmt.Errorf("top-p %v: must be in [0, 1]", s.TopP)
	case !(s.MinP >= 0 && s.MinP <= 1):
		return fmt.Errorf("min-p %v: must be in [0, 1]", s.MinP)
	case !(s.RepetitionPenalty >= 0) || math.IsInf(s.RepetitionPenalty, 0):
		return fmt.Errorf("repetition penalty %v: must be > 0", s.RepetitionPenalty)
	}
	return nil
}

// Sampler draws tokens for one sequence. It is not safe for concurrent use; give each
// generation its own.
type Sampler struct {
	cfg    Sampling
	rng    *rand.Rand
	scores []float64
	seen   map[int32]bool
	cand   candidates
}

// NewSampler returns a sampler seeded with cfg.Seed.
func NewSampler(cfg Sampling) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)), seen: map[int32]bool{}}, nil
}

// Sample picks the next token given the logits and the sequence so far.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	ids, probs := s.Distribution(logits, history)
	if len(ids) == 1 {
		return ids[0]
	}
	u := s.rng.Float64()
	for i, p := range probs {
		if u < p {
			return ids[i]
		}
		u -= p
	}
	return ids[len(ids)-1] // rounding left u just above the total
}

// Distribution returns the tokens that may be drawn and their probabilities (summing to 1):
// most likely first when top-k or top-p is set, in id order otherwise. Greedy decoding
// returns one token with probability 1. The slices are reused by the next call.
func (s *Sampler) Distribution(logits []float32, history []int32) ([]int32, []float64) {
	c := s.cfg
	if cap(s.scores) < len(logits) {
		s.scores = make([]float64, len(logits))
	}
	sc := s.scores[:len(logits)]
	for i, v := range logits {
		sc[i] = float64(v)
	}

	// Repetition penalty (transformers' RepetitionPenaltyLogitsProcessor), once per distinct
	// token of the sequence.
	if c.RepetitionPenalty != 0 && c.RepetitionPenalty != 1 {
		clear(s.seen)
		for _, id := range history {
			if s.seen[id] || id < 0 || int(id) >= len(sc) {
				continue
			}
			s.seen[id] = true
			if sc[id] < 0 {
				sc[id] *= c.RepetitionPenalty
			} else {
				sc[id] /= c.RepetitionPenalty
			}
		}
	}

	if c.Temperature == 0 { // tensor.Argmax's choice, which NextToken makes on the backend
		best := -1
		for i, v := range sc {
			if v == v && (best < 0 || v > sc[best]) {
				best = i
			}
		}
		best = max(best, 0)
		s.cand.ids, s.cand.p = append(s.cand.ids[:0], int32(best)), append(s.cand.p[:0], 1)
		return s.cand.ids, s.cand.p
	}
	mx := math.Inf(-1)
	for i := range sc {
		sc[i] /= c.Temperature
		mx = max(mx, sc[i])
	}

	// Top-k and top-p keep a prefix of the tokens in descending order of score: a heap
	// yields that prefix lazily instead of sorting the whole vocabulary.
	topP := c.TopP > 0 && c.TopP < 1
	cand := &s.cand
	ids, p := cand.ids[:0], cand.p[:0]
	var total float64
	switch {
	case c.TopK > 0 || topP:
		h := &cand.h
		h.reset(sc)
		var all, pulled float64
		if c.TopK == 0 {
			for _, v := range sc {
				all += math.Exp(v - mx)
			}
		}
		for h.Len() > 0 {
			id := heap.Pop(h).(int32)
			// Top-k keeps every token tied with the k-th, as torch.topk's threshold does.
			if c.TopK > 0 && len(ids) >= c.TopK && sc[id] < sc[ids[c.TopK-1]] {
				break
			}
			e := math.Exp(sc[id] - mx)
			ids, p = append(ids, id), append(p, e)
			pulled += e
			// Without top-k, top-p has all it keeps once the pulled mass reaches p.
			if c.TopK == 0 && pulled >= c.TopP*all {
				break
			}
		}
		total = pulled
		if c.TopK == 0 {
			total = all
		}
		// Top-p (TopPLogitsWarper): a token survives while the mass ranked above it is
		// below p of the mass of the tokens still in play.
		if topP {
			var before float64
			for i := range ids {
				if i > 0 && before >= c.TopP*total {
					ids, p = ids[:i], p[:i]
					break
				}
				before += p[i]
			}
		}
	default:
		for i, v := range sc {
			if !math.IsInf(v, -1) {
				ids, p = append(ids, int32(i)), append(p, math.Exp(v-mx))
			}
		}
	}

	// Min-p (MinPLogitsWarper): relative to the most likely token, whose weight is 1.
	if c.MinP > 0 {
		kept := 0
		for i := range ids {
			if p[i] >= c.MinP {
				ids[kept], p[kept] = ids[i], p[i]
				kept++
			}
		}
		ids, p = ids[:kept], p[:kept]
	}
	total = 0
	for _, v := range p {
		total += v
	}
	for i := range p {
		p[i] /= total
	}
	cand.ids, cand.p = ids, p
	return ids, p
}

// candidates holds the tokens that may be drawn and their weights, reused between calls.
type candidates struct {
	h   idHeap
	ids []int32
	p   []float64
}

// idHeap orders token ids by descending score and, among equal scores, descending id: the
// order a stable ascending torch.sort (as TopPLogitsWarper uses) gives, read backwards.
type idHeap struct {
	ids []int32
	sc  []float64
}

func (h *idHeap) reset(sc []float64) {
	h.sc, h.ids = sc, h.ids[:0]
	for i, v := range sc {
		if !math.IsInf(v, -1) {
			h.ids = append(h.ids, int32(i))
		}
	}
	heap.Init(h)
}

func (h idHeap) Len() int { return len(h.ids) }
func (h idHeap) Less(i, j int) bool {
	a, b := h.sc[h.ids[i]], h.sc[h.ids[j]]
	return a > b || (a == b && h.ids[i] > h.ids[j])
}
func (h idHeap) Swap(i, j int) { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *idHeap) Push(x any)   { h.ids = append(h.ids, x.(int32)) }
func (h *idHeap) Pop() any {
	n := len(h.ids) - 1
	x := h.ids[n]
	h.ids = h.ids[:n]
	return x
}
