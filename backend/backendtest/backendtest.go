// Package backendtest is the conformance suite every backend passes: each operation of
// backend.Backend against a float64 reference computed here, over awkward shapes and every
// weight dtype. A backend's tests call Run.
package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/tensor"
)

// Tol is the largest error allowed, relative to the magnitude of the reference values
// (max(1, mean |ref|)): float32 arithmetic, a few ulps per accumulated term.
const Tol = 2e-5

// MatMulTol is Tol for a matrix product, where the error is relative to √k·max(1, mean|ref|).
// It holds for both precisions, because the reference multiplies what the backend multiplies:
// fast precision's rounding of the activations is in the reference (Config.MatMulActivations),
// so what remains is float32 accumulation.
//
// Weights in a block dtype (QuantWeightTypes) are held to the same bound: the reference
// multiplies their dequantized values, by x as the backend quantizes it where it does (Q8).
//
// Measured on an AMD Zen 4 over MatMulShapes, every weight dtype, 1 and 3 threads: at most
// 1.6e-7 (generic), 2.0e-7 (avx2, avx512, avx512bf16) in exact precision, 1.4e-7 in fast at
// avx512bf16 (bf16 x; the levels below multiply float32 x in fast precision too); the
// emulated GPU (TestEmulatedGPU), 1.8e-7 exact, 1.0e-7 fast (two bf16 terms, and single
// rounding). 2e-6 leaves room for other summation orders (cuBLAS on a GPU), while a dropped
// 2048-column block (at least 9e-3) or one row 10% off (at least 2.4e-3) fails by three orders
// of magnitude (TestSabotage in backend/cpu).
const MatMulTol = 2e-6

// Activations is what a backend's matrix product does to x before multiplying it by w; the
// reference multiplies the same values in float64.
type Activations int

const (
	Float32 Activations = iota // x as it is (exact precision; weights the fast path lacks)
	BF16                       // each element rounded to bfloat16, to nearest even
	BF16x2                     // hi + lo with hi = bf16(x), lo = bf16(x − hi) (two bf16 GEMMs)
	// Q8 is x quantized as tensor.Q8Act in the weights' activation block (tensor.ActBlock: D·Q,
	// D = max|x|/127, Q rounded to nearest even), what the integer kernels of block-dtype
	// weights multiply: the reference quantizes with the plain-Go quantizer, which every
	// implementation matches bit for bit.
	Q8
)

func (a Activations) String() string {
	return [...]string{"float32", "bf16", "bf16x2", "q8"}[a]
}

// Config describes the backend under test.
type Config struct {
	Precision backend.Precision
	// MatMulActivations says how MatMul treats n rows of k activations against weights of
	// dtype w; nil means Float32 for every product.
	MatMulActivations func(w tensor.DType, n, k int) Activations
	// MatMulWeightsBF16 says whether MatMul rounds weights of dtype w (after dequantizing a
	// block dtype) to bfloat16 before multiplying n rows of k activations by them, as the CPU's
	// fast prefill of block-dtype weights does; nil means never.
	MatMulWeightsBF16 func(w tensor.DType, n, k int) bool
}

func (c Config) activations(w tensor.DType, n, k int) Activations {
	if c.MatMulActivations == nil {
		return Float32
	}
	return c.MatMulActivations(w, n, k)
}

func (c Config) weightsBF16(w tensor.DType, n, k int) bool {
	return c.MatMulWeightsBF16 != nil && c.MatMulWeightsBF16(w, n, k)
}

// Run checks every operation of b, created with the precision and rounding cfg describes.
func Run(t *testing.T, b backend.Backend, cfg Config) {
	s := &suite{b: b, cfg: cfg, tol: Tol, rng: rand.New(rand.NewPCG(1, 2))}
	t.Run("MatMul", s.matMul)
	t.Run("Stacks", s.stacks)
	t.Run("Epilogues", s.epilogues)
	t.Run("LayerNorm1P", s.layerNorm)
	t.Run("RotaryKV", s.rotaryKV)
	t.Run("Attention", s.attention)
	t.Run("Embed", s.embed)
	t.Run("RowsAndCopy", s.rowsAndCopy)
	t.Run("Argmax", s.argmax)
}

type suite struct {
	b   backend.Backend
	cfg Config
	tol float64
	rng *rand.Rand
}

func (s *suite) randn(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(s.rng.NormFloat64() * scale)
	}
	return v
}

// host builds a host tensor of dtype dt from values, returning the values as that dtype
// represents them (the reference computes with exactly what the backend sees).
func host(dt tensor.DType, v []float32, shape ...int) (tensor.Host, []float64) {
	h := tensor.Zeros(dt, shape...)
	exact := make([]float64, len(v))
	switch dt {
	case tensor.F32:
		copy(h.F32(), v)
		for i, x := range v {
			exact[i] = float64(x)
		}
	case tensor.BF16:
		u := h.U16()
		for i, x := range v {
			u[i] = tensor.Float32ToBF16(x)
			exact[i] = float64(tensor.BF16ToFloat32(u[i]))
		}
	case tensor.F16:
		u := h.U16()
		for i, x := range v {
			u[i] = tensor.Float32ToF16(x)
			exact[i] = float64(tensor.F16ToFloat32(u[i]))
		}
	default: // a block dtype: quantized, the reference holding the dequantized values
		q, err := tensor.FromF32(v, shape...).Quantize(dt)
		if err != nil {
			panic(err)
		}
		h = q
		for i, x := range q.ToF32() {
			exact[i] = float64(x)
		}
	}
	return h, exact
}

func (s *suite) upload(t *testing.T, h tensor.Host) backend.Tensor {
	t.Helper()
	bt, err := s.b.Upload(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.b.Free(bt) })
	return bt
}

func (s *suite) alloc(t *testing.T, shape ...int) backend.Tensor {
	t.Helper()
	bt, err := s.b.Alloc(tensor.F32, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.b.Free(bt) })
	return bt
}

func (s *suite) activations(t *testing.T, v []float32, shape ...int) (backend.Tensor, []float64) {
	h, exact := host(tensor.F32, v, shape...)
	return s.upload(t, h), exact
}

func (s *suite) read(t *testing.T, bt backend.Tensor) []float32 {
	t.Helper()
	out := make([]float32, tensor.NumElements(bt.Shape()))
	if err := s.b.Read(out, bt); err != nil {
		t.Fatal(err)
	}
	return out
}

// check compares got with the reference, relative to the reference's mean magnitude.
func (s *suite) check(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if _, err := compare(got, want, tol); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// compare returns the largest |got − want| relative to max(1, mean |want|), and an error
// when it exceeds tol (a NaN or infinity in got always does).
func compare(got []float32, want []float64, tol float64) (float64, error) {
	if len(got) != len(want) {
		return math.Inf(1), fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	scale := 1.0
	if len(want) > 0 {
		scale = max(1, floats.Norm(want, 1)/float64(len(want)))
	}
	worst, at := near.Max(got, want)
	if at < 0 {
		return 0, nil
	}
	if rel := worst / scale; !(rel <= tol) {
		return rel, fmt.Errorf("element %d is %v, want %v (|diff| %.3g > %.3g)", at, got[at], want[at], worst, tol*scale)
	}
	return worst / scale, nil
}

// MatMulShapes are the products Run checks, {n, k, m}: k and m around vector widths and
// register blocks; k past the CPU's 2048-column block (2100, 4100) and odd (4099, where a
// bf16 pair kernel cannot run); n from a decode step (gemv, n < 4 on the CPU, ≤ 8 on the GPU)
// to a prefill (GEMM; over 32 rows for the GPU's exact GEMM).
var MatMulShapes = [][3]int{
	{1, 1, 1}, {1, 7, 3}, {1, 64, 17}, {1, 95, 33}, {3, 17, 5}, {5, 128, 64}, {16, 96, 40},
	{33, 257, 31}, {70, 130, 67},
	{2, 4100, 9}, {3, 4099, 5}, {5, 2100, 13}, {12, 4100, 9}, {9, 4099, 20}, {100, 2100, 70},
}

// WeightTypes are the weight dtypes Run multiplies by.
var WeightTypes = []tensor.DType{tensor.F32, tensor.F16, tensor.BF16}

// QuantWeightTypes are the block dtypes Run multiplies by, over QuantMatMulShapes.
var QuantWeightTypes = []tensor.DType{tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K}

// QuantMatMulShapes are the products of block-dtype weights Run checks: k a whole number of
// 256-weight super-blocks, past the CPU's 2048-column block (2304, 4352), n on the gemv
// (decode) and the GEMM (prefill) paths of both backends.
var QuantMatMulShapes = [][3]int{
	{1, 256, 1}, {1, 512, 17}, {3, 256, 33}, {5, 768, 64}, {16, 256, 40},
	{2, 4352, 9}, {5, 2304, 13}, {33, 256, 31}, {40, 2304, 20}, {70, 512, 67}, {100, 4352, 9},
}

func (s *suite) matMul(t *testing.T) {
	types := append(append([]tensor.DType(nil), WeightTypes...), QuantWeightTypes...)
	for _, dt := range types {
		worst := 0.0
		shapes := MatMulShapes
		if dt.Quantized() {
			shapes = QuantMatMulShapes
		}
		for _, sh := range shapes {
			n, k, m := sh[0], sh[1], sh[2]
			t.Run(fmt.Sprintf("%s/n%d_k%d_m%d", dt, n, k, m), func(t *testing.T) {
				rel, err := CheckMatMul(s.b, s.cfg, s.rng, dt, n, k, m)
				worst = max(worst, rel)
				if err != nil {
					t.Error(err)
				}
			})
		}
		t.Logf("%s weights: max |diff| / (√k·max(1, mean|ref|)) %.3g (tolerance %g)", dt, worst, MatMulTol)
	}
}

// CheckMatMul multiplies random x [n, k] by random weights w [m, k] of dtype dt on b and
// compares dst with the float64 product of what the backend multiplies (x as cfg says it
// treats it, w in its dtype: a block dtype's dequantized values, rounded to bf16 where cfg
// says so). It returns the largest error relative to √k·max(1, mean |ref|)
// and an error when that exceeds MatMulTol.
func CheckMatMul(b backend.Backend, cfg Config, rng *rand.Rand, dt tensor.DType, n, k, m int) (float64, error) {
	return CheckProduct(b, cfg, rng, Store, n, k, []Part{{dt, m}})
}

// Epilogue is what a product does with its results: MatMul, MatMulAdd or MatMulReLU2.
type Epilogue int

const (
	Store       Epilogue = iota // dst = x·wᵀ
	Accumulate                  // dst += x·wᵀ
	SquaredReLU                 // dst = relu(x·wᵀ)²
)

func (e Epilogue) String() string { return [...]string{"store", "accumulate", "squared relu"}[e] }

// Part is one matrix of the stack a product multiplies by: its dtype and rows.
type Part struct {
	DType tensor.DType
	Rows  int
}

// CheckProduct is CheckMatMul for weights uploaded as a stack of parts (Upload) and the
// product's epilogue; the error of a squared ReLU is about twice the product's, relative.
func CheckProduct(b backend.Backend, cfg Config, rng *rand.Rand, ep Epilogue, n, k int, parts []Part) (float64, error) {
	randn := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		return v
	}
	xh, x := host(tensor.F32, randn(n*k, 1), n, k)
	m := 0
	var hosts []tensor.Host
	for _, p := range parts {
		m += p.Rows
	}
	want := make([]float64, n*m)
	off := 0
	for _, p := range parts {
		wh, w := host(p.DType, randn(p.Rows*k, 0.5), p.Rows, k)
		hosts = append(hosts, wh)
		if cfg.weightsBF16(p.DType, n, k) {
			w = roundActivations(w, BF16, k, p.DType)
		}
		ws := MatMulReference(roundActivations(x, cfg.activations(p.DType, n, k), k, p.DType), w, n, k, p.Rows)
		for i := range n {
			copy(want[i*m+off:], ws[i*p.Rows:(i+1)*p.Rows])
		}
		off += p.Rows
	}
	xb, err := b.Upload(xh)
	if err != nil {
		return 0, err
	}
	defer b.Free(xb)
	wb, err := b.Upload(hosts...)
	if err != nil {
		return 0, err
	}
	defer b.Free(wb)
	d0 := randn(n*m, 1)
	dh, dr := host(tensor.F32, d0, n, m)
	dst, err := b.Upload(dh)
	if err != nil {
		return 0, err
	}
	defer b.Free(dst)
	tol := MatMulTol
	switch ep {
	case Store:
		b.MatMul(dst, xb, wb)
	case Accumulate:
		b.MatMulAdd(dst, xb, wb)
		for i := range want {
			want[i] += dr[i]
		}
	case SquaredReLU:
		b.MatMulReLU2(dst, xb, wb)
		for i, v := range want {
			want[i] = max(v, 0) * max(v, 0)
		}
		tol *= 4
	}
	got := make([]float32, n*m)
	if err := b.Read(got, dst); err != nil {
		return 0, err
	}
	sk := math.Sqrt(float64(k))
	rel, err := compare(got, want, tol*sk)
	if err != nil {
		err = fmt.Errorf("%s product by %v, n=%d k=%d: %w", ep, parts, n, k, err)
	}
	return rel / sk, err
}

// MatMulReference is dst[n, m] = x[n, k]·w[m, k]ᵀ in float64 (gonum's Dgemm).
func MatMulReference(x, w []float64, n, k, m int) []float64 {
	dst := make([]float64, n*m)
	if n == 0 || m == 0 {
		return dst
	}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1,
		blas64.General{Rows: n, Cols: k, Stride: max(1, k), Data: x},
		blas64.General{Rows: m, Cols: k, Stride: max(1, k), Data: w},
		0, blas64.General{Rows: n, Cols: m, Stride: m, Data: dst})
	return dst
}

// roundActivations returns the values a backend treating x (rows of k) as a multiplies by
// weights of dtype dt.
func roundActivations(x []float64, a Activations, k int, dt tensor.DType) []float64 {
	bf16 := func(v float64) float64 { return float64(tensor.BF16ToFloat32(tensor.Float32ToBF16(float32(v)))) }
	out := make([]float64, len(x))
	if a == Q8 {
		quantize := tensor.Implementations()[0].QuantizeQ8Act // the plain-Go specification
		bs := tensor.ActBlock(dt)
		act, row := tensor.NewQ8Act(k, bs), make([]float32, k)
		for r := range len(x) / k {
			for i := range row {
				row[i] = float32(x[r*k+i])
			}
			quantize(act, row)
			for i, q := range act.Q {
				out[r*k+i] = float64(act.D[i/bs]) * float64(q)
			}
		}
		return out
	}
	for i, v := range x {
		switch a {
		case BF16:
			out[i] = bf16(v)
		case BF16x2:
			hi := bf16(v)
			out[i] = hi + bf16(float64(float32(v)-float32(hi))) // x − hi is exact in float32
		default:
			out[i] = v
		}
	}
	return out
}

// stacks multiplies by matrices uploaded as one (Wq, Wk, Wv): of one dtype, and of a
// quantization mix's two, on the decode and the prefill paths.
func (s *suite) stacks(t *testing.T) {
	for _, parts := range [][]Part{
		{{tensor.F32, 24}, {tensor.F32, 8}, {tensor.F32, 8}},
		{{tensor.BF16, 130}, {tensor.BF16, 7}, {tensor.BF16, 7}},
		{{tensor.Q4_K, 16}, {tensor.Q4_K, 5}, {tensor.Q6_K, 5}},
	} {
		k := 96
		if parts[0].DType.Quantized() {
			k = 512
		}
		for _, n := range []int{1, 3, 40} {
			if _, err := CheckProduct(s.b, s.cfg, s.rng, Store, n, k, parts); err != nil {
				t.Error(err)
			}
		}
	}
}

// epilogues checks MatMulAdd and MatMulReLU2 for every weight dtype, decode and prefill.
func (s *suite) epilogues(t *testing.T) {
	for _, ep := range []Epilogue{Accumulate, SquaredReLU} {
		for _, dt := range append(append([]tensor.DType(nil), WeightTypes...), QuantWeightTypes...) {
			for _, n := range []int{1, 5, 40} {
				if _, err := CheckProduct(s.b, s.cfg, s.rng, ep, n, 256, []Part{{dt, 33}}); err != nil {
					t.Error(err)
				}
			}
		}
	}
}

func (s *suite) layerNorm(t *testing.T) {
	for _, sh := range [][2]int{{1, 1}, {1, 7}, {3, 64}, {5, 333}} {
		n, c := sh[0], sh[1]
		xv := s.randn(n*c, 3)
		for i := range xv {
			xv[i] += 5 // an offset mean that a one-pass variance would lose precision on
		}
		x, xr := s.activations(t, xv, n, c)
		w, wr := s.activations(t, s.randn(c, 0.3), c)
		bb, br := s.activations(t, s.randn(c, 0.3), c)
		dst := s.alloc(t, n, c)
		const eps = 1e-5
		s.b.LayerNorm1P(dst, x, w, bb, eps)
		want := make([]float64, n*c)
		for r := range n {
			row := xr[r*c : (r+1)*c]
			var mean, vr float64
			for _, v := range row {
				mean += v
			}
			mean /= float64(c)
			for _, v := range row {
				vr += (v - mean) * (v - mean)
			}
			vr /= float64(c)
			for i, v := range row {
				want[r*c+i] = (v-mean)/math.Sqrt(vr+eps)*(1+wr[i]) + br[i]
			}
		}
		s.check(t, fmt.Sprintf("layernorm %dx%d", n, c), s.read(t, dst), want, s.tol*4)
		// In place.
		s.b.LayerNorm1P(x, x, w, bb, eps)
		s.check(t, "layernorm in place", s.read(t, x), want, s.tol*4)
	}
}

// rotaryKV splits rows of queries, keys and values into q and the caches, turning queries and
// keys; the cache rows around the ones written keep what they held.
func (s *suite) rotaryKV(t *testing.T) {
	for _, tc := range []struct{ n, heads, kvHeads, headDim, rot, pos0 int }{
		{1, 1, 1, 4, 4, 0}, {3, 2, 1, 16, 8, 5}, {4, 3, 3, 32, 32, 100}, {2, 4, 2, 128, 64, 4000},
	} {
		const theta = 10000.0
		hd, qd, kvd := tc.headDim, tc.heads*tc.headDim, tc.kvHeads*tc.headDim
		w := qd + 2*kvd
		qkv, xr := s.activations(t, s.randn(tc.n*w, 1), tc.n, w)
		rows := tc.pos0 + tc.n + 2
		kc, kr := s.activations(t, s.randn(rows*kvd, 1), rows, kvd)
		vc, vr := s.activations(t, s.randn(rows*kvd, 1), rows, kvd)
		q := s.alloc(t, tc.n, qd)
		s.b.RotaryKV(q, kc, vc, qkv, tc.pos0, backend.Rope{Heads: tc.heads, KVHeads: tc.kvHeads, HeadDim: hd, Dims: tc.rot, Theta: theta})
		wantQ := make([]float64, tc.n*qd)
		half := tc.rot / 2
		// turn writes head h of row r of qkv, from column c, turned, to dst.
		turn := func(dst []float64, r, c int) {
			src := xr[r*w+c : r*w+c+hd]
			copy(dst, src)
			for i := range half {
				// The angle as transformers forms it (float32), its cos/sin in float64.
				invFreq := float32(1 / float32(math.Pow(theta, float64(float32(2*i)/float32(tc.rot)))))
				a := float64(float32(tc.pos0+r) * invFreq)
				c, sn := math.Cos(a), math.Sin(a)
				x0, x1 := src[i], src[i+half]
				dst[i] = x0*c - x1*sn
				dst[i+half] = x1*c + x0*sn
			}
		}
		for r := range tc.n {
			for h := range tc.heads {
				turn(wantQ[r*qd+h*hd:], r, h*hd)
			}
			at := (tc.pos0 + r) * kvd
			for h := range tc.kvHeads {
				turn(kr[at+h*hd:], r, qd+h*hd)
			}
			copy(vr[at:at+kvd], xr[r*w+qd+kvd:(r+1)*w])
		}
		s.check(t, fmt.Sprintf("rotary q %+v", tc), s.read(t, q), wantQ, s.tol*4)
		s.check(t, fmt.Sprintf("rotary k %+v", tc), s.read(t, kc), kr, s.tol*4)
		s.check(t, fmt.Sprintf("rotary v %+v", tc), s.read(t, vc), vr, 0)
	}
}

func (s *suite) attention(t *testing.T) {
	for _, tc := range []struct{ n, pos0, heads, kvHeads, headDim int }{
		{1, 0, 1, 1, 4}, {1, 9, 4, 2, 16}, {5, 0, 4, 4, 8}, {3, 17, 8, 2, 32}, {7, 60, 6, 3, 128},
		{16, 0, 2, 1, 8}, {50, 13, 6, 3, 128}, {100, 30, 4, 2, 32}, // prompts: attention on panels
	} {
		rows := tc.pos0 + tc.n + 2 // cache rows past pos0+n must be ignored
		qc, kvc := tc.heads*tc.headDim, tc.kvHeads*tc.headDim
		q, qr := s.activations(t, s.randn(tc.n*qc, 1), tc.n, qc)
		k, kr := s.activations(t, s.randn(rows*kvc, 1), rows, kvc)
		v, vr := s.activations(t, s.randn(rows*kvc, 1), rows, kvc)
		dst := s.alloc(t, tc.n, qc)
		s.b.Attention(dst, q, k, v, tc.heads, tc.kvHeads, tc.pos0)
		want := make([]float64, tc.n*qc)
		group := tc.heads / tc.kvHeads
		scale := 1 / math.Sqrt(float64(tc.headDim))
		for i := range tc.n {
			for h := range tc.heads {
				off := (h / group) * tc.headDim
				seen := tc.pos0 + i + 1
				sc := make([]float64, seen)
				mx := math.Inf(-1)
				for j := range seen {
					for d := range tc.headDim {
						sc[j] += qr[i*qc+h*tc.headDim+d] * kr[j*kvc+off+d]
					}
					sc[j] *= scale
					mx = max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					for d := range tc.headDim {
						want[i*qc+h*tc.headDim+d] += sc[j] / sum * vr[j*kvc+off+d]
					}
				}
			}
		}
		s.check(t, fmt.Sprintf("attention %+v", tc), s.read(t, dst), want, s.tol*math.Sqrt(float64(tc.headDim)))
	}
}

func (s *suite) embed(t *testing.T) {
	for _, dt := range append(append([]tensor.DType(nil), WeightTypes...), QuantWeightTypes...) {
		vocab, width := 50, 24
		if dt.Quantized() {
			width = 512 // two super-blocks a row
		}
		th, tr := host(dt, s.randn(vocab*width, 1), vocab, width)
		table := s.upload(t, th)
		ids := []int32{0, 49, 7, 7, 3}
		dst := s.alloc(t, len(ids), width)
		s.b.Embed(dst, table, ids)
		want := make([]float64, 0, len(ids)*width)
		for _, id := range ids {
			want = append(want, tr[int(id)*width:(int(id)+1)*width]...)
		}
		s.check(t, "embed "+dt.String(), s.read(t, dst), want, 0)
	}
}

func (s *suite) rowsAndCopy(t *testing.T) {
	src, sr := s.activations(t, s.randn(6*4, 1), 6, 4)
	dst := s.alloc(t, 6, 4)
	// Rows 2..4 of src into rows 1..3 of dst, through a view of src and a row offset.
	s.b.Copy(dst, 1, s.b.Rows(src, 2, 4))
	want := make([]float64, 24)
	copy(want[4:12], sr[8:16])
	s.check(t, "copy of a view to a row offset", s.read(t, dst), want, 0)
	if got := s.b.Rows(dst, 1, 3).Shape(); len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Errorf("view shape %v", got)
	}
	s.check(t, "read of a view", s.read(t, s.b.Rows(dst, 1, 2)), want[4:8], 0)
	// Writes through a view land in the viewed tensor.
	s.b.Copy(s.b.Rows(dst, 4, 6), 1, s.b.Rows(src, 0, 1))
	copy(want[20:24], sr[0:4])
	s.check(t, "copy into a view", s.read(t, dst), want, 0)
}

// argmax checks backend.Argmaxer where b implements it, against a host loop: lengths around
// block and warp widths and Minitron's vocabulary, ties (the lowest index wins, within one
// thread's stride and across threads), infinities, NaNs, and a row of a larger tensor.
func (s *suite) argmax(t *testing.T) {
	am, ok := s.b.(backend.Argmaxer)
	if !ok {
		t.Skipf("%s does not implement backend.Argmaxer", s.b.Name())
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	check := func(what string, v []float32, want int) {
		t.Helper()
		x, _ := s.activations(t, v, len(v))
		var got [1]int32
		if err := am.Argmax(got[:], x); err != nil || got[0] != int32(want) {
			t.Errorf("argmax of %s: %d, %v; want %d", what, got[0], err, want)
		}
	}
	for _, n := range []int{1, 2, 31, 32, 33, 255, 256, 257, 1023, 1024, 1025, 4099, 256000} {
		for _, at := range []int{0, n / 2, n - 1} {
			v := s.randn(n, 1)
			v[at] = 10
			check(fmt.Sprintf("%d values, largest at %d", n, at), v, at)
		}
	}
	tie := func(n int, idx ...int) []float32 {
		v := s.randn(n, 1)
		for _, i := range idx {
			v[i] = 7
		}
		return v
	}
	check("a tie within a stride of 1024", tie(5000, 1029, 5, 2053), 5)
	check("a tie of neighbours", tie(5000, 301, 300), 300)
	check("a tie across the whole", tie(256000, 255999, 128000), 128000)
	check("all -inf", []float32{-inf, -inf, -inf}, 0)
	check("+inf", []float32{1, inf, 3, inf}, 1)
	check("NaN first", []float32{nan, -5, -3, nan}, 2)
	check("all NaN", []float32{nan, nan, nan}, 0)
	check("NaN and -inf", []float32{nan, -inf, nan}, 1)

	// The rows of a [3, n] tensor at once, and one row of it, as the last row of a prompt's
	// logits.
	const n = 3000
	v := s.randn(3*n, 1)
	v[5], v[n+17], v[2*n+2999] = 9, 9, 9
	x, _ := s.activations(t, v, 3, n)
	var got [3]int32
	if err := am.Argmax(got[:], x); err != nil || got != [3]int32{5, 17, 2999} {
		t.Errorf("argmax of three rows: %v, %v; want [5 17 2999]", got, err)
	}
	for row, want := range []int32{5, 17, 2999} {
		if err := am.Argmax(got[:1], s.b.Rows(x, row, row+1)); err != nil || got[0] != want {
			t.Errorf("argmax of row %d: %d, %v; want %d", row, got[0], err, want)
		}
	}

	if err := am.Argmax(got[:2], x); err == nil {
		t.Error("argmax of three rows into two: no error")
	}
	empty := s.alloc(t, 0, 4)
	if err := am.Argmax(got[:0], empty); err == nil {
		t.Error("argmax of an empty tensor: no error")
	}
	h, _ := host(tensor.BF16, []float32{1, 2, 3, 4}, 2, 2) // a matrix: vectors may be uploaded as F32
	if err := am.Argmax(got[:2], s.upload(t, h)); err == nil {
		t.Error("argmax of a BF16 tensor: no error")
	}
}
