package bench

import (
	"bytes"
	"context"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

var small = nemotron.Config{VocabSize: 512, Hidden: 64, Intermediate: 128, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 16,
	MaxPositions: 256, NormEps: 1e-5, RopeTheta: 1e4, PartialRotary: 0.5, BOS: 2, EOS: []int{3}}

func TestRandomWeightsDeterministic(t *testing.T) {
	a, err := RandomWeights(small, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := RandomWeights(small, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("weights depend on the number of threads")
	}
	up, _, _ := a.Tensor("model.layers.1.mlp.up_proj.weight")
	for _, v := range up.U16() {
		if f := tensor.BF16ToFloat32(v); f == 0 || f > 0.04 || f < -0.04 {
			t.Fatalf("weight %v out of range", f)
		}
	}
	if n, _, _ := a.Tensor("model.norm.bias"); n.ToF32()[0] != 0 {
		t.Error("norm bias not zero")
	}
}

func TestRun(t *testing.T) {
	w, err := RandomWeights(small, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b, _ := cpu.New(backend.Options{Threads: 2})
	defer b.Close()
	m, err := nemotron.New(small, w, b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), m, w, w.Bytes(), Options{Prompts: []int{8, 32}, DecodeContexts: []int{4, 32}, DecodeTokens: 3, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Prefill["32"] <= 0 || r.DecodeTokS <= 0 || r.Decode["32"] <= 0 || r.ReadGBps <= 0 || r.WeightGBps <= 0 || r.PeakRSS <= 0 {
		t.Errorf("incomplete report %+v", r)
	}
	// Decoding reads every matrix but the embedding table, and one row of it.
	want := int64(2 * (small.NumParams() - int64(small.VocabSize*small.Hidden) - int64(small.Layers*4*small.Hidden+2*small.Hidden) + int64(small.Hidden)))
	if r.WeightBytes != want {
		t.Errorf("weight bytes per token %d, want %d", r.WeightBytes, want)
	}
}
