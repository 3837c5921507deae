package nemotron_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
	"github.com/minitron-go/minitron/tensor"
)

// minitron4B is Minitron-4B-Base's configuration (NOTES.md).
var minitron4B = nemotron.Config{VocabSize: 256000, Hidden: 3072, Intermediate: 9216, Layers: 32, Heads: 24,
	KVHeads: 8, HeadDim: 128, MaxPositions: 4096, NormEps: 1e-5, RopeTheta: 10000, PartialRotary: 0.5}

// The mixes on Minitron-4B: q8_0 everything but the norms; q4_k Q4_K_M's choices (16 of 32
// layers with attn V and MLP down in Q6_K, the head in Q6_K); and their sizes.
func TestQuantMix(t *testing.T) {
	count := func(c nemotron.Config, q nemotron.Quant) (map[string]int, int64) {
		n := map[string]int{}
		var bytes int64
		for _, p := range c.Params() {
			dt, ok := q.Format(c, p)
			key := "float"
			if ok {
				key = dt.String()
				bytes += int64(dt.Bytes(tensor.NumElements(p.Shape)))
			} else if p.Role != nemotron.RoleNorm {
				t.Errorf("%s %s: matrix left float", q, p.Name)
			}
			n[key]++
			n[fmt.Sprintf("%s %s", p.Role, key)]++
		}
		return n, bytes
	}
	n, size := count(minitron4B, nemotron.QuantQ8_0)
	if n["Q8_0"] != 2+6*32 || n["float"] != 4*32+2 {
		t.Errorf("q8_0: %v", n)
	}
	t.Logf("Minitron-4B q8_0: %.3g GB", float64(size)/1e9)
	n, size = count(minitron4B, nemotron.QuantQ4_K)
	for key, want := range map[string]int{"value Q6_K": 16, "down Q6_K": 16, "value Q4_K": 16, "down Q4_K": 16,
		"head Q6_K": 1, "embedding Q4_K": 1, "query Q4_K": 32, "up Q4_K": 32, "float": 4*32 + 2} {
		if n[key] != want {
			t.Errorf("q4_k: %d %s, want %d (%v)", n[key], key, want, n)
		}
	}
	t.Logf("Minitron-4B q4_k: %.3g GB", float64(size)/1e9)
	// Q4_K_M's layers: the first and last eighth, every third between.
	var more []int
	for _, p := range minitron4B.Params() {
		if dt, _ := nemotron.QuantQ4_K.Format(minitron4B, p); p.Role == nemotron.RoleValue && dt == tensor.Q6_K {
			more = append(more, p.Layer)
		}
	}
	if want := []int{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}; !slices.Equal(more, want) {
		t.Errorf("q4_k: attn V in Q6_K on layers %v, want %v", more, want)
	}

	// A tied head is the embedding: Q6_K. Rows of 96 fall back to Q8_0, rows of 40 stay float.
	tied := minitron4B
	tied.TieEmbeddings = true
	for _, p := range tied.Params() {
		if dt, _ := nemotron.QuantQ4_K.Format(tied, p); p.Role == nemotron.RoleEmbedding && dt != tensor.Q6_K {
			t.Errorf("q4_k, tied: embedding %s, want Q6_K", dt)
		}
	}
	for _, tc := range []struct {
		hidden int
		want   tensor.DType
		ok     bool
	}{{96, tensor.Q8_0, true}, {40, 0, false}, {512, tensor.Q4_K, true}} {
		p := nemotron.Param{Name: "x", Shape: []int{64, tc.hidden}, Role: nemotron.RoleQuery, Layer: 5}
		for _, q := range nemotron.Quants {
			want := tc.want
			if q == nemotron.QuantQ8_0 && tc.ok {
				want = tensor.Q8_0
			}
			if dt, ok := q.Format(minitron4B, p); ok != tc.ok || ok && dt != want {
				t.Errorf("%s, rows of %d: %s %v, want %s %v", q, tc.hidden, dt, ok, want, tc.ok)
			}
		}
	}
	if _, ok := nemotron.NoQuant.Format(minitron4B, minitron4B.Params()[0]); ok {
		t.Error("no quantization gave a format")
	}
}

// weights64 returns the float64 values of every tensor of a golden checkpoint as quantizing
// it with q stores them (q == NoQuant: as stored).
func weights64(t *testing.T, model string, q nemotron.Quant) (nemotron.Config, func(string) []float64) {
	cfg, ck := goldentest.OpenCheckpoint(t, goldentest.Dir(1, model))
	w := map[string][]float64{}
	for _, p := range cfg.Params() {
		h, _, ok := ck.Tensor(p.Name)
		if !ok {
			t.Fatalf("%s: no %s", model, p.Name)
		}
		h, err := nemotron.QuantizeTensor(cfg, q, p, h)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float64, h.Len())
		for i, x := range h.ToF32() {
			v[i] = float64(x)
		}
		w[p.Name] = v
	}
	return cfg, func(name string) []float64 {
		v, ok := w[name]
		if !ok {
			t.Fatalf("no tensor %s", name)
		}
		return v
	}
}

// forward64 is goldentest.Forward64 over every case of g, as float32 logits.
func forward64(cfg nemotron.Config, w func(string) []float64, g *goldentest.Golden) map[string][]float32 {
	ref := map[string][]float32{}
	for _, c := range g.Cases {
		for _, v := range goldentest.Forward64(cfg, w, c.IDs) {
			ref[c.Name] = append(ref[c.Name], float32(v))
		}
	}
	return ref
}

// The float64 reference forward pass agrees with transformers' on the golden weights, so
// that it can stand in for it over weights transformers never saw.
func TestForward64(t *testing.T) {
	for _, name := range goldentest.Models {
		g := goldentest.Load(t, goldentest.Dir(1, name))
		cfg, w := weights64(t, name, nemotron.NoQuant)
		ref := forward64(cfg, w, g)
		var worst float64
		for _, c := range g.Cases {
			worst = max(worst, goldentest.Close(t, name+" "+c.Name, ref[c.Name], g.Tensor(t, c.Name+".logits"), 2e-5))
		}
		t.Logf("%s: Forward64 against transformers: max |logit diff| %.3g", name, worst)
	}
}

// Each golden model quantized as it loads, in exact precision, by prefill and by decoding
// (the GEMM and the gemv paths), against the float64 forward pass over its dequantized
// weights: within the exact tolerance, as a float model is against transformers.
func TestQuantizedGoldenLogits(t *testing.T) {
	for _, name := range goldentest.Models {
		for _, q := range nemotron.Quants {
			t.Run(name+"/"+string(q), func(t *testing.T) {
				g := goldentest.Load(t, goldentest.Dir(1, name))
				cfg, w := weights64(t, name, q)
				ref := forward64(cfg, w, g)
				m, err := nemotron.Load(goldentest.Dir(1, name), cpuBackend(t, backend.Exact), nemotron.LoadOptions{Quant: q})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				worst := goldentest.CheckLogitsWith(t, m, g, ref, exact)
				t.Logf("%s %s exact on %s: max |logit error| %.3g against the float64 forward over the dequantized weights", name, q, tensor.Active().Level, worst)
				fast, err := nemotron.Load(goldentest.Dir(1, name), cpuBackend(t, backend.Fast), nemotron.LoadOptions{Quant: q})
				if err != nil {
					t.Fatal(err)
				}
				defer fast.Close()
				worst = goldentest.CheckLogitsWith(t, fast, g, ref, quantFastTolerance)
				t.Logf("%s %s fast on %s: max |logit error| %.3g", name, q, tensor.Active().Level, worst)
			})
		}
	}
}

// quantFastTolerance bounds fast precision over quantized weights: int8 activations in
// blocks of 32 (decode; about twice bf16's rounding step) and bf16 activations and weights
// (prefill, where the CPU has the bf16 GEMM) against the float64 forward over the dequantized
// weights. Measured on an AMD Zen 4 (avx512bf16), max |logit error| (logits up to |15|):
// tiny-a 0.21 (q8_0) and 0.22 (q4_k), tiny-b 0.25, small-c 0.24 and 0.25; exact precision
// on the same weights, at most 1.5e-5. The bound sits above: 0.4, and the top token must be
// the reference's wherever its top two are more than twice that apart.
var quantFastTolerance = goldentest.Tolerance{Logits: 0.4, Margin: 0.8}

// Quantizing at load gives the tensors llama-quantize made from the same weights: the
// quantized model's logits match the float64 forward pass over llama.cpp's files' own
// tensors (testdata/gguf, computed with gguf-py's dequantization).
func TestQuantizedMatchesLlamaCpp(t *testing.T) {
	for _, c := range []struct {
		model string
		q     nemotron.Quant
		file  string
	}{{"tiny-a", nemotron.QuantQ8_0, "tiny-a-q8_0"}, {"small-c", nemotron.QuantQ8_0, "small-c-q8_0"}, {"small-c", nemotron.QuantQ4_K, "small-c-q4_k_m"}} {
		t.Run(c.file, func(t *testing.T) {
			m, err := nemotron.Load(goldentest.Dir(1, c.model), cpuBackend(t, backend.Exact), nemotron.LoadOptions{Quant: c.q})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ref := readNPZ(t, ggufPath(c.file+".logits.npz"))
			worst := goldentest.CheckLogitsWith(t, m, goldentest.Load(t, goldentest.Dir(1, c.model)), ref, exact)
			t.Logf("%s loaded with -quant %s: max |logit error| %.3g against the float64 forward over %s.gguf", c.model, c.q, worst, c.file)
		})
	}
}

// A file already quantized loads under the mix that made it, and is refused, naming a
// tensor, under another: quantizing it again would round twice.
func TestQuantizedGGUFRequant(t *testing.T) {
	m, err := nemotron.LoadGGUF(ggufPath("small-c-q8_0.gguf"), cpuBackend(t, backend.Exact), nemotron.LoadOptions{Quant: nemotron.QuantQ8_0})
	if err != nil {
		t.Fatalf("Q8_0 file with quantization q8_0: %v", err)
	}
	m.Close()
	_, err = nemotron.LoadGGUF(ggufPath("small-c-q8_0.gguf"), cpuBackend(t, backend.Exact), nemotron.LoadOptions{Quant: nemotron.QuantQ4_K})
	if !errors.Is(err, nemotron.ErrBadOption) || !strings.Contains(err.Error(), "is already Q8_0") || !strings.Contains(err.Error(), ".weight") {
		t.Errorf("Q8_0 file with quantization q4_k: %v, want a bad option naming the tensor", err)
	}
	if _, err := nemotron.Load(goldentest.Dir(1, "tiny-a"), cpuBackend(t, backend.Exact), nemotron.LoadOptions{Quant: "q3_k"}); !errors.Is(err, nemotron.ErrBadOption) {
		t.Errorf("quantization q3_k: %v, want a bad option", err)
	}
}

// releasing records the tensors whose pages a load releases.
type releasing struct {
	nemotron.Source
	released []string
}

func (r *releasing) ReleasePages(name string) error {
	r.released = append(r.released, name)
	return r.Source.(nemotron.PageReleaser).ReleasePages(name)
}

// Loading with quantization releases the pages of exactly the tensors it quantized, and
// reports progress up to the source's bytes.
func TestQuantizedReleasesAndProgress(t *testing.T) {
	cfg, ck := goldentest.OpenCheckpoint(t, goldentest.Dir(1, "small-c"))
	src := &releasing{Source: ck}
	var last, total int64
	calls := 0
	m, err := nemotron.NewWithOptions(cfg, src, cpuBackend(t, backend.Exact), nemotron.LoadOptions{Quant: nemotron.QuantQ4_K,
		Progress: func(d, tot int64) {
			if d < last {
				t.Errorf("progress went back from %d to %d", last, d)
			}
			last, total = d, tot
			calls++
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var want []string
	for _, p := range cfg.Params() {
		if _, ok := nemotron.QuantQ4_K.Format(cfg, p); ok {
			want = append(want, p.Name)
		}
	}
	if !slices.Equal(src.released, want) {
		t.Errorf("released %v, want %v", src.released, want)
	}
	if last != total || total == 0 || calls < len(cfg.Params()) {
		t.Errorf("progress ended at %d of %d after %d calls", last, total, calls)
	}
	// The released tensors still read from the file, and the model runs.
	g := goldentest.Load(t, goldentest.Dir(1, "small-c"))
	_, w := weights64(t, "small-c", nemotron.QuantQ4_K)
	goldentest.CheckLogitsWith(t, m, g, forward64(cfg, w, g), exact)
}
