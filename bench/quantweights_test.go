package bench

import (
	"bytes"
	"math"
	"testing"

	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// wide has rows of whole Q4_K super-blocks (256), as the 4B model's.
var wide = nemotron.Config{VocabSize: 512, Hidden: 256, Intermediate: 512, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 64,
	MaxPositions: 256, NormEps: 1e-5, RopeTheta: 1e4, PartialRotary: 0.5, BOS: 2, EOS: []int{3}}

// allIn stores every matrix in dt except the embedding, left BF16.
func allIn(dt tensor.DType) Format {
	return func(p nemotron.Param) tensor.DType {
		if p.Role == nemotron.RoleEmbedding {
			return tensor.BF16
		}
		return dt
	}
}

// Random blocks dequantize to weights of the bf16 weights' scale: mean 0 (within 0.05 σ,
// about 15 standard errors of a matrix's mean here), RMS within 10 % of randomSigma's, every
// value finite and within 4 σ, and not all alike; they do not depend on the number of threads;
// the BF16 tensors are RandomWeights' own, bit for bit; the bytes one token reads follow.
// Q5_K has no generator: its blocks are quantized from the bf16 values, and pass the same.
func TestRandomWeightsIn(t *testing.T) {
	plain, err := RandomWeights(wide, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	rms := func(x []float32) (mean, rms, amax float64) {
		for _, v := range x {
			mean += float64(v)
			rms += float64(v) * float64(v)
			amax = max(amax, math.Abs(float64(v)))
		}
		return mean / float64(len(x)), math.Sqrt(rms / float64(len(x))), amax
	}
	_, bfRMS, _ := rms(tensorF32(t, plain, "model.layers.0.mlp.up_proj.weight"))
	if math.Abs(bfRMS/randomSigma-1) > 0.02 {
		t.Errorf("bf16 weights have RMS %.5f, randomSigma says %.5f", bfRMS, randomSigma)
	}
	for _, dt := range []tensor.DType{tensor.Q8_0, tensor.Q4_K, tensor.Q6_K, tensor.Q5_K} {
		a, err := RandomWeightsIn(wide, 3, 1, allIn(dt))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := RandomWeightsIn(wide, 3, 3, allIn(dt))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: weights depend on the number of threads", dt)
		}
		for _, name := range []string{"model.embed_tokens.weight", "model.norm.weight", "model.layers.1.input_layernorm.bias"} {
			x, _, _ := a.Tensor(name)
			y, _, _ := plain.Tensor(name)
			if x.DType != tensor.BF16 || !bytes.Equal(x.Data, y.Data) {
				t.Errorf("%s: %s is %s, not RandomWeights' BF16", dt, name, x.DType)
			}
		}
		for _, p := range wide.Params() {
			if !p.Role.Matrix() {
				continue
			}
			h, _, _ := a.Tensor(p.Name)
			if h.DType != dt || len(h.Data) != dt.Bytes(tensor.NumElements(p.Shape)) {
				t.Fatalf("%s: %s is %s of %d bytes", dt, p.Name, h.DType, len(h.Data))
			}
			x := tensorF32(t, a, p.Name)
			mean, r, amax := rms(x)
			distinct := map[float32]bool{}
			for _, v := range x[:1024] {
				distinct[v] = true
			}
			if p.Name == "lm_head.weight" {
				t.Logf("%s: mean %.2g, RMS %.5f (σ %.5f), max |x| %.4f", dt, mean, r, randomSigma, amax)
			}
			if !(math.Abs(mean) < 0.05*randomSigma) || !(math.Abs(r/randomSigma-1) < 0.1) || !(amax < 4*randomSigma) || len(distinct) < 64 {
				t.Errorf("%s %s: mean %.2g, RMS %.4f (σ %.4f), max |x| %.4f, %d distinct of 1024", dt, p.Name, mean, r, randomSigma, amax, len(distinct))
			}
		}
		// One token reads every matrix in its format and one bf16 row of the embedding.
		var want int64
		for _, p := range wide.Params() {
			if p.Role.Matrix() {
				want += int64(dt.Bytes(tensor.NumElements(p.Shape)))
			}
		}
		want += int64(2 * wide.Hidden)
		if got := DecodeBytes(wide, a); got != want {
			t.Errorf("%s: %d bytes a token, want %d", dt, got, want)
		}
		if f := Formats(wide, a); f[dt.String()] != 1+6*wide.Layers || f["BF16"] != 1 || len(f) != 2 {
			t.Errorf("%s: formats %v", dt, f)
		}
	}
	// Rows that are not whole blocks are refused, naming the tensor.
	if _, err := RandomWeightsIn(small, 3, 1, allIn(tensor.Q4_K)); err == nil {
		t.Error("Q4_K rows of 64: no error")
	}
}

// tensorF32 is a tensor of w dequantized (or widened) to float32.
func tensorF32(t *testing.T, w *Weights, name string) []float32 {
	t.Helper()
	h, _, ok := w.Tensor(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	if !h.DType.Quantized() {
		return h.ToF32()
	}
	x := make([]float32, tensor.NumElements(h.Shape))
	tensor.Dequantize(x, h.DType, h.Data)
	return x
}
