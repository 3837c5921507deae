package nemotron_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron"
)

func randomIDs(rng *rand.Rand, vocab, n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(rng.IntN(vocab))
	}
	return p
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// A prompt whose first tokens another State has run gets, with those rows copied rather than
// computed, the same logits bit for bit: the donor's prompt, the shared part and the rest
// each run as one chunk of 32 rows or more, so that their matrix products (GEMM from 32 rows)
// and attention (panels from 16) take the CPU backend's many-row kernels both ways. Decoding
// on from there stays identical.
func TestCopyPrefixBitIdentical(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 11))
	shared := randomIDs(rng, m.Config.VocabSize, 40)
	donorIDs := append(slices.Clone(shared), randomIDs(rng, m.Config.VocabSize, 6)...)
	prompt := append(slices.Clone(shared), randomIDs(rng, m.Config.VocabSize, 33)...)

	donor, err := m.NewState(96)
	if err != nil {
		t.Fatal(err)
	}
	defer donor.Close()
	if _, err := donor.Forward(ctx, donorIDs, nemotron.NoLogits, nil); err != nil {
		t.Fatal(err)
	}
	alone, err := m.NewState(96)
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	reused, err := m.NewState(96)
	if err != nil {
		t.Fatal(err)
	}
	defer reused.Close()

	want, err := alone.Forward(ctx, prompt, nemotron.AllLogits, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = slices.Clone(want[len(shared)*m.Config.VocabSize:])
	n := nemotron.CommonPrefix(donorIDs, prompt)
	if n != len(shared) {
		t.Fatalf("common prefix %d, want %d", n, len(shared))
	}
	if err := reused.CopyPrefix(donor, n); err != nil {
		t.Fatal(err)
	}
	if reused.Pos() != n {
		t.Fatalf("position %d after copying %d rows", reused.Pos(), n)
	}
	got, err := reused.Forward(ctx, prompt[n:], nemotron.AllLogits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(got, want) {
		t.Fatalf("logits after a copied prefix differ from computing it")
	}
	// Greedy decoding from both: the same logits, token after token.
	a, b := want[len(want)-m.Config.VocabSize:], got[len(got)-m.Config.VocabSize:]
	for i := range 8 {
		id := argmax(a)
		if id != argmax(b) {
			t.Fatalf("token %d: greedy ids differ", i)
		}
		if a, err = alone.Forward(ctx, []int32{id}, nemotron.LastLogits, nil); err != nil {
			t.Fatal(err)
		}
		if b, err = reused.Forward(ctx, []int32{id}, nemotron.LastLogits, nil); err != nil {
			t.Fatal(err)
		}
		if !sameBits(a, b) {
			t.Fatalf("decode step %d: logits differ", i)
		}
	}

	// Truncating the donor to the shared rows and running the prompt's rest is the same too.
	if err := donor.Truncate(n); err != nil {
		t.Fatal(err)
	}
	again, err := donor.Forward(ctx, prompt[n:], nemotron.AllLogits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(again, want) {
		t.Errorf("logits after truncating to the shared prefix differ from computing it")
	}

	// Refusals.
	for name, err := range map[string]error{
		"beyond the source": reused.CopyPrefix(donor, donor.Pos()+1),
		"negative":          reused.CopyPrefix(donor, -1),
		"no source":         reused.CopyPrefix(nil, 0),
		"truncate beyond":   reused.Truncate(reused.Pos() + 1),
	} {
		if !errors.Is(err, nemotron.ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", name, err)
		}
	}
	small, _ := m.NewState(4)
	defer small.Close()
	if err := small.CopyPrefix(donor, 5); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("a prefix longer than the state: %v", err)
	}
}

func TestKVRowBytes(t *testing.T) {
	m := loadModel(t, "tiny-a", 1)
	c := m.Config
	if got, want := m.KVRowBytes(), int64(c.Layers*2*c.KVHeads*c.HeadDim*4); got != want {
		t.Errorf("KVRowBytes = %d, want %d", got, want)
	}
}

// Scoring several continuations after one prefix equals scoring each whole sequence: bit for
// bit where the kernels match (on the CPU, the shared part and a continuation with the
// prefix's last token both 32 rows or more), within the chunked-prefill tolerance otherwise,
// with the same greedy flags and top tokens.
func TestScoreContinuations(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(12, 12))
	prefix := randomIDs(rng, m.Config.VocabSize, 40)
	conts := [][]int32{randomIDs(rng, m.Config.VocabSize, 5), randomIDs(rng, m.Config.VocabSize, 3),
		randomIDs(rng, m.Config.VocabSize, 35), randomIDs(rng, m.Config.VocabSize, 1)}
	opts := nemotron.ScoreOptions{Top: 3}
	got, err := m.ScoreContinuations(ctx, prefix, conts, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, cont := range conts {
		want, err := m.Score(ctx, slices.Concat(prefix, cont), len(prefix), opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(got[i]) != len(want) {
			t.Fatalf("continuation %d: %d scores, want %d", i, len(got[i]), len(want))
		}
		exact := len(cont)+1 >= 32
		for j, w := range want {
			g := got[i][j]
			if g.Pos != w.Pos || g.ID != w.ID || g.Scored != w.Scored || g.Greedy != w.Greedy || len(g.Top) != len(w.Top) {
				t.Fatalf("continuation %d position %d: %+v, want %+v", i, j, g, w)
			}
			d := math.Abs(g.Logprob - w.Logprob)
			if exact && d != 0 || !(d <= 1e-4) {
				t.Errorf("continuation %d position %d: log-probability %v, want %v (exact %v)", i, w.Pos, g.Logprob, w.Logprob, exact)
			}
			for k := range w.Top {
				if g.Top[k].ID != w.Top[k].ID || near.Diff(float32(g.Top[k].Logprob), float32(w.Top[k].Logprob)) > 1e-4 {
					t.Errorf("continuation %d position %d: top %d %+v, want %+v", i, w.Pos, k, g.Top[k], w.Top[k])
				}
			}
		}
	}
	if _, err := m.ScoreContinuations(ctx, nil, conts, opts); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("no prefix: %v", err)
	}
	if _, err := m.ScoreContinuations(ctx, prefix, [][]int32{{1}, {}}, opts); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("an empty continuation: %v", err)
	}
	if _, err := m.ScoreContinuations(ctx, prefix, [][]int32{{int32(m.Config.VocabSize)}}, opts); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("a token outside the vocabulary: %v", err)
	}
}
