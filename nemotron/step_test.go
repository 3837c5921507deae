package nemotron_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// batchTol bounds how far a sequence's logits in a batch may be from its logits alone,
// relative to the largest |logit| of the chunk (at least 1): the same arithmetic, except that
// a matrix product of fewer than four rows takes the backend's row-by-row kernel, which sums
// in another order than the many-row one. Measured: 1.5e-5 absolute on small-c, whose logits
// reach about 10, and the relative error is below 2e-6.
const batchTol = 1e-5

// chunk is one step of one sequence, as a batch ran it, and the logits it returned.
type chunk struct {
	ids    []int32
	want   nemotron.Logits
	logits []float32
}

// replay runs a sequence's chunks alone, with Forward, and returns the largest difference
// from the logits the batch returned, relative to the chunk's largest |logit| when above 1,
// and whether every bit was the same.
func replay(t *testing.T, m *nemotron.Model, maxLen int, chunks []chunk) (worst float64, same bool) {
	t.Helper()
	s, err := m.NewState(maxLen)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	same = true
	for i, c := range chunks {
		got, err := s.Forward(context.Background(), c.ids, c.want, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.logits) {
			t.Fatalf("chunk %d: %d logits alone, %d in the batch", i, len(got), len(c.logits))
		}
		scale := 1.0
		for _, v := range got {
			scale = max(scale, math.Abs(float64(v)))
		}
		for j := range got {
			worst = max(worst, near.Diff(c.logits[j], got[j])/scale)
			same = same && math.Float32bits(c.logits[j]) == math.Float32bits(got[j])
		}
	}
	return worst, same
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// Sequences joining at random steps, reading their prompts in random chunks and then decoding
// greedily, get in a batch the logits they get alone.
func TestBatchMatchesAlone(t *testing.T) {
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name, 2)
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			const seqs, maxLen, rows = 6, 64, 48
			batch, err := m.NewBatch(rows)
			if err != nil {
				t.Fatal(err)
			}
			defer batch.Close()
			type seq struct {
				s       *nemotron.State
				join    int
				prompt  []int32
				fed     int // prompt tokens read
				next    int32
				decoded int
				chunks  []chunk
			}
			var all []*seq
			for i := range seqs {
				p := make([]int32, 1+rng.IntN(40))
				for j := range p {
					p[j] = int32(rng.IntN(m.Config.VocabSize))
				}
				s, err := m.NewState(maxLen)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				all = append(all, &seq{s: s, join: rng.IntN(8) * (i % 2), prompt: p})
			}
			ctx := context.Background()
			for step := 0; ; step++ {
				var adv []nemotron.Advance
				var who []*seq
				budget := rows
				for _, q := range all {
					if q.join > step || q.s.Pos() >= maxLen || budget == 0 {
						continue
					}
					a := nemotron.Advance{State: q.s, Want: nemotron.LastLogits}
					if q.fed < len(q.prompt) {
						n := min(1+rng.IntN(len(q.prompt)-q.fed), budget)
						a.IDs = q.prompt[q.fed : q.fed+n]
						switch {
						case rng.IntN(3) == 0:
							a.Want = nemotron.AllLogits
						case q.fed+n < len(q.prompt):
							a.Want = nemotron.NoLogits
						}
						q.fed += n
					} else {
						a.IDs = []int32{q.next}
						q.decoded++
					}
					budget -= len(a.IDs)
					adv, who = append(adv, a), append(who, q)
				}
				if len(adv) == 0 {
					if step > 8 {
						break
					}
					continue
				}
				if err := batch.Step(ctx, adv); err != nil {
					t.Fatal(err)
				}
				for i, a := range adv {
					q := who[i]
					q.chunks = append(q.chunks, chunk{ids: a.IDs, want: a.Want, logits: append([]float32(nil), a.Logits...)})
					if len(a.Logits) > 0 {
						q.next = argmax(a.Logits[len(a.Logits)-m.Config.VocabSize:])
					}
				}
			}
			for i, q := range all {
				worst, _ := replay(t, m, maxLen, q.chunks)
				t.Logf("sequence %d: relative logit difference %.3g", i, worst)
				if worst > batchTol {
					t.Errorf("sequence %d (%d prompt tokens, %d steps): logits differ by %.3g alone", i, len(q.prompt), len(q.chunks), worst)
				}
				// Greedy ids alone are those of the batch: each chunk's last row decides.
				s, _ := m.NewState(maxLen)
				for j, c := range q.chunks {
					lg, err := s.Forward(ctx, c.ids, c.want, nil)
					if err != nil {
						t.Fatal(err)
					}
					if len(lg) > 0 && argmax(lg[len(lg)-m.Config.VocabSize:]) != argmax(c.logits[len(c.logits)-m.Config.VocabSize:]) {
						t.Errorf("sequence %d chunk %d: greedy token alone differs", i, j)
					}
				}
				s.Close()
			}
		})
	}
}

// Where a sequence's matrix products take the same kernels in the batch as alone (on the CPU,
// every product of 32 rows or more, or of fewer in both), its logits are the same bits.
func TestBatchBitIdentical(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	rng := rand.New(rand.NewPCG(7, 7))
	prompt := func(n int) []int32 {
		p := make([]int32, n)
		for i := range p {
			p[i] = int32(rng.IntN(m.Config.VocabSize))
		}
		return p
	}
	batch, err := m.NewBatch(128)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	lens := [][2]int{{32, 33}, {40, 34}, {36, 40}} // two chunks each, of at least 32 rows
	var adv []nemotron.Advance
	var ps [][]int32
	for _, l := range lens {
		s, err := m.NewState(80)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ps = append(ps, prompt(l[0]+l[1]))
		adv = append(adv, nemotron.Advance{State: s})
	}
	chunks := make([][]chunk, len(lens))
	// The first chunks ask for their last row's logits: three rows for the head, fewer than
	// 32, as one row alone; the second chunks ask for every row, in groups of at most 16
	// both alone and in the batch.
	for step, want := range []nemotron.Logits{nemotron.LastLogits, nemotron.AllLogits} {
		for i, l := range lens {
			adv[i].IDs, adv[i].Want = ps[i][:l[0]], want
			if step == 1 {
				adv[i].IDs = ps[i][l[0]:]
			}
		}
		if err := batch.Step(context.Background(), adv); err != nil {
			t.Fatal(err)
		}
		for i, a := range adv {
			chunks[i] = append(chunks[i], chunk{ids: a.IDs, want: a.Want, logits: append([]float32(nil), a.Logits...)})
		}
	}
	for i, c := range chunks {
		if worst, same := replay(t, m, 80, c); !same {
			t.Errorf("sequence %d: logits alone differ from the batch's by up to %.3g, want the same bits", i, worst)
		}
	}
}

// A step that cannot run is refused whole, before it changes any State.
func TestBatchStepRefused(t *testing.T) {
	m := loadModel(t, "tiny-a", 2)
	batch, err := m.NewBatch(8)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	s1, _ := m.NewState(6)
	s2, _ := m.NewState(64)
	defer s1.Close()
	defer s2.Close()
	ok := nemotron.Advance{State: s2, IDs: []int32{2, 5}}
	for name, adv := range map[string][]nemotron.Advance{
		"none":       nil,
		"no state":   {ok, {IDs: []int32{2}}},
		"no tokens":  {ok, {State: s1}},
		"twice":      {ok, {State: s2, IDs: []int32{2}}},
		"vocabulary": {ok, {State: s1, IDs: []int32{2, int32(m.Config.VocabSize)}}},
		"negative":   {ok, {State: s1, IDs: []int32{-1}}},
		"context":    {ok, {State: s1, IDs: make([]int32, 7)}},
		"rows":       {ok, {State: s1, IDs: make([]int32, 5)}, {State: s2, IDs: make([]int32, 2)}},
	} {
		if name == "rows" {
			adv = adv[:2]
			adv[1].IDs = make([]int32, 6)
			s3, _ := m.NewState(64)
			defer s3.Close()
			adv[1].State = s3
			adv[1].IDs = make([]int32, 7)
		}
		if err := batch.Step(context.Background(), adv); !errors.Is(err, nemotron.ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", name, err)
		}
		if s1.Pos() != 0 || s2.Pos() != 0 {
			t.Fatalf("%s: a refused step moved the states to %d, %d", name, s1.Pos(), s2.Pos())
		}
	}
}

// Steps of the same shape, as decoding makes them, allocate nothing.
func TestBatchStepAllocations(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	batch, err := m.NewBatch(16)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	adv := make([]nemotron.Advance, 4)
	for i := range adv {
		s, err := m.NewState(128)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		adv[i] = nemotron.Advance{State: s, IDs: []int32{2, int32(5 + i)}}
	}
	ctx := context.Background()
	if err := batch.Step(ctx, adv); err != nil {
		t.Fatal(err)
	}
	for i := range adv {
		adv[i].IDs = adv[i].IDs[1:]
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := batch.Step(ctx, adv); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.0f allocations per step of four decoding sequences, want 0", allocs)
	}
}
