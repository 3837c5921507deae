//go:build !purego

package tensor

// Assembly vector kernels. Each wrapper checks the slice lengths the plain-Go twin would
// index (so a short slice panics the same way) before calling the assembly, which trusts
// them.

func init() {
	override(AVX2, func(k *Kernels) {
		k.Dot = dotAVX2Checked
		k.Dots = dotsAVX2Checked
		k.Axpy = axpyAVX2Checked
		k.Add = addAVX2Checked
		k.ReLU2 = relu2AVX2
		k.Softmax = softmaxAVX2
		k.BF16ToF32 = bf16ToF32AVX2Checked
		k.F16ToF32 = f16ToF32AVX2Checked
		k.F32ToBF16 = f32ToBF16AVX2Checked
	})
	override(AVX512, func(k *Kernels) {
		k.Dot = dotAVX512Checked
		k.Dots = dotsAVX512Checked
		k.Dots4 = dots4AVX512Checked
		k.Axpy = axpyAVX512Checked
		k.Add = addAVX512Checked
		k.ReLU2 = relu2AVX512
		k.Softmax = softmaxAVX512
		k.LayerNorm1P = layerNorm1PAVX512Checked
		k.RotateHalf = rotateHalfAVX512Checked
		k.BF16ToF32 = bf16ToF32AVX512Checked
		k.F16ToF32 = f16ToF32AVX512Checked
		k.F32ToBF16 = f32ToBF16AVX512Checked
	})
}

func dotAVX512Checked(x, y []float32) float32 { return dotAVX512(x, y[:len(x)]) }
func dotAVX2Checked(x, y []float32) float32   { return dotAVX2(x, y[:len(x)]) }

// dotsAVX2Checked is Dots in one call for rows of a multiple of 32 elements (attention's
// heads), else a call of dotAVX2 a row.
func dotsAVX2Checked(dst, x, ys []float32, ldy int, scale float32) {
	dotsChecked(dst, x, ys, ldy, scale, 32, dotAVX2Checked, dotsAVX2)
}

// dotsAVX512Checked is Dots in one call for rows of a multiple of 64 elements (attention's
// heads of 64 or 128), else a call of dotAVX512 a row.
func dotsAVX512Checked(dst, x, ys []float32, ldy int, scale float32) {
	dotsChecked(dst, x, ys, ldy, scale, 64, dotAVX512Checked, dotsAVX512)
}

// dotsChecked checks the rows Dots reads, then runs all (one call) for rows of a multiple of
// width elements, else one (a call a row).
func dotsChecked(dst, x, ys []float32, ldy int, scale float32, width int, one func(x, y []float32) float32, all func(dst, x []float32, ys *float32, ldy int, scale float32)) {
	if len(dst) == 0 {
		return
	}
	_ = ys[(len(dst)-1)*ldy+len(x)-1]
	if len(x)%width != 0 {
		dotsBy(one, dst, x, ys, ldy, scale)
		return
	}
	all(dst, x, &ys[0], ldy, scale)
}

// dots4AVX512Checked is Dots4: in one call for rows of a multiple of 64 elements, else
// dotsAVX512Checked for each query.
func dots4AVX512Checked(dst, x [4][]float32, ys []float32, ldy int, scale float32) {
	n, hd := len(dst[0]), len(x[0])
	for q := range 4 {
		if len(dst[q]) != n || len(x[q]) != hd {
			panic("tensor: Dots4 of queries or outputs of different lengths")
		}
	}
	if n == 0 {
		return
	}
	_ = ys[(n-1)*ldy+hd-1]
	if hd%64 != 0 {
		for q := range 4 {
			dotsAVX512Checked(dst[q], x[q], ys, ldy, scale)
		}
		return
	}
	dots4AVX512(&dst[0][0], &dst[1][0], &dst[2][0], &dst[3][0], n, &x[0][0], &x[1][0], &x[2][0], &x[3][0], hd, &ys[0], ldy, scale)
}

// dots4AVX512 is dots4AVX512Checked for hd a multiple of 64 (vec_amd64.s).
//
//go:noescape
func dots4AVX512(d0, d1, d2, d3 *float32, n int, x0, x1, x2, x3 *float32, hd int, ys *float32, ldy int, scale float32)

// dotsAVX2 is dotsAVX2Checked for len(x) a multiple of 32 (vec_amd64.s).
//
//go:noescape
func dotsAVX2(dst, x []float32, ys *float32, ldy int, scale float32)

// dotsAVX512 is dotsAVX512Checked for len(x) a multiple of 64 (vec_amd64.s).
//
//go:noescape
func dotsAVX512(dst, x []float32, ys *float32, ldy int, scale float32)

func axpyAVX512Checked(a float32, x, y []float32) { axpyAVX512(a, x, y[:len(x)]) }
func axpyAVX2Checked(a float32, x, y []float32)   { axpyAVX2(a, x, y[:len(x)]) }

func addAVX512Checked(dst, x []float32) { addAVX512(dst[:len(x)], x) }
func addAVX2Checked(dst, x []float32)   { addAVX2(dst[:len(x)], x) }

func layerNorm1PAVX512Checked(dst, x, w, b []float32, eps float32) {
	n := len(x)
	layerNorm1PAVX512(dst[:n], x, w[:n], b[:n], eps)
}

func rotateHalfAVX512Checked(x, cos, sin []float32) {
	h := len(cos)
	rotateHalfAVX512(x[:2*h], cos, sin[:h])
}

func bf16ToF32AVX512Checked(dst []float32, src []uint16) {
	bf16ToF32AVX512(dst[:len(src)], src)
}

func f16ToF32AVX512Checked(dst []float32, src []uint16) {
	f16ToF32AVX512(dst[:len(src)], src)
}

func f32ToBF16AVX512Checked(dst []uint16, src []float32) {
	f32ToBF16AVX512(dst[:len(src)], src)
}

// The AVX2 conversions leave the last len(src)%8 elements to the plain-Go loops.

func bf16ToF32AVX2Checked(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	bf16ToF32AVX2(dst, src)
	n := len(src) &^ 7
	bf16ToF32Generic(dst[n:], src[n:])
}

func f16ToF32AVX2Checked(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	f16ToF32AVX2(dst, src)
	n := len(src) &^ 7
	f16ToF32Generic(dst[n:], src[n:])
}

func f32ToBF16AVX2Checked(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	f32ToBF16AVX2(dst, src)
	n := len(src) &^ 7
	f32ToBF16Generic(dst[n:], src[n:])
}

// dotAVX512 returns dotGeneric(x, y) summed in another order; len(y) ≥ len(x):
//
//	var s float32
//	for i := range x {
//		s += x[i] * y[i]
//	}
//	return s
//
//go:noescape
func dotAVX512(x, y []float32) float32

// dotAVX2 is dotAVX512 with AVX2 and FMA: dotGeneric(x, y) summed in another order.
//
//go:noescape
func dotAVX2(x, y []float32) float32

// axpyAVX512 computes, with one fused multiply-add per element (len(y) ≥ len(x)),
//
//	for i, v := range x {
//		y[i] += a * v
//	}
//
//go:noescape
func axpyAVX512(a float32, x, y []float32)

// axpyAVX2 is axpyAVX512 with AVX2 and FMA: axpyGeneric(a, x, y) with fused multiply-adds.
//
//go:noescape
func axpyAVX2(a float32, x, y []float32)

// addAVX512 computes, exactly as addGeneric (len(dst) ≥ len(x)),
//
//	for i, v := range x {
//		dst[i] += v
//	}
//
//go:noescape
func addAVX512(dst, x []float32)

// addAVX2 is addAVX512 with AVX2: addGeneric(dst, x), exactly.
//
//go:noescape
func addAVX2(dst, x []float32)

// relu2AVX512 computes, exactly as relu2Generic (a NaN becomes 0),
//
//	for i, v := range x {
//		x[i] = max(v, 0) * max(v, 0)
//	}
//
//go:noescape
func relu2AVX512(x []float32)

// relu2AVX2 is relu2AVX512 with AVX2: relu2Generic(x), exactly.
//
//go:noescape
func relu2AVX2(x []float32)

// softmaxAVX512 computes softmaxGeneric(x):
//
//	m := max(x...)
//	var sum float64
//	for i, v := range x {
//		x[i] = expAVX512(v - m)
//		sum += float64(x[i])
//	}
//	for i := range x {
//		x[i] *= float32(1 / sum)
//	}
//
// with the vectorized exp of expAVX512 in place of float32(math.Exp(float64(v-m))). A NaN
// in x makes every element NaN, as in the plain-Go loop.
//
//go:noescape
func softmaxAVX512(x []float32)

// softmaxAVX2 is softmaxAVX512 with the exp of expAVX2: softmaxGeneric(x) up to the
// rounding of exp, and 0 where exp(v-m) < 2⁻¹²⁶.
//
//go:noescape
func softmaxAVX2(x []float32)

// expAVX512 computes, to about 1 ulp (len(dst) ≥ len(x)),
//
//	for i, v := range x {
//		dst[i] = float32(math.Exp(float64(v)))
//	}
//
// including the subnormal results, 0 from -Inf and +Inf above 88.72. Softmax uses the same
// code; this entry point exists so that tests can sweep it against math.Exp.
//
//go:noescape
func expAVX512(dst, x []float32)

// expAVX2 is expAVX512 for v ≤ 88.3 (larger v give exp(88.3)), with results below 2⁻¹²⁶
// (v < -87.33654) flushed to 0: 2ⁿ is formed from exponent bits, so n stays in [-126, 127].
//
//go:noescape
func expAVX2(dst, x []float32)

// layerNorm1PAVX512 computes layerNorm1PGeneric(dst, x, w, b, eps): mean and variance
// accumulated in float64 lanes (two passes), then
//
//	for i, v := range x {
//		dst[i] = (v-m)*r*(1+w[i]) + b[i]
//	}
//
// with m and r the mean and 1/sqrt(var+eps) rounded to float32, rounded step by step as
// the plain-Go loop does. len(dst), len(w) and len(b) are at least len(x).
//
//go:noescape
func layerNorm1PAVX512(dst, x, w, b []float32, eps float32)

// rotateHalfAVX512 computes, exactly as rotateHalfGeneric (h = len(cos); len(x) ≥ 2h,
// len(sin) ≥ h),
//
//	for i, c := range cos {
//		a, b := x[i], x[h+i]
//		x[i] = a*c - b*sin[i]
//		x[h+i] = b*c + a*sin[i]
//	}
//
//go:noescape
func rotateHalfAVX512(x, cos, sin []float32)

// bf16ToF32AVX512 computes bf16ToF32Generic(dst, src) (len(dst) ≥ len(src)):
//
//	for i, b := range src {
//		dst[i] = math.Float32frombits(uint32(b) << 16)
//	}
//
//go:noescape
func bf16ToF32AVX512(dst []float32, src []uint16)

// bf16ToF32AVX2 is bf16ToF32Generic(dst, src) for the first len(src)&^7 elements.
//
//go:noescape
func bf16ToF32AVX2(dst []float32, src []uint16)

// f16ToF32AVX512 computes f16ToF32Generic(dst, src) with VCVTPH2PS (len(dst) ≥ len(src)):
//
//	for i, h := range src {
//		dst[i] = F16ToFloat32(h)
//	}
//
// identical except that a signalling NaN comes out quiet.
//
//go:noescape
func f16ToF32AVX512(dst []float32, src []uint16)

// f16ToF32AVX2 is f16ToF32AVX512 for the first len(src)&^7 elements (f16ToF32Generic but for
// signalling NaNs, which come out quiet).
//
//go:noescape
func f16ToF32AVX2(dst []float32, src []uint16)

// f32ToBF16AVX512 computes f32ToBF16Generic(dst, src) bit for bit, with integer operations
// (VCVTNEPS2BF16 would flush subnormal inputs to zero); len(dst) ≥ len(src):
//
//	for i, f := range src {
//		dst[i] = Float32ToBF16(f)
//	}
//
//go:noescape
func f32ToBF16AVX512(dst []uint16, src []float32)

// f32ToBF16AVX2 is f32ToBF16Generic(dst, src) bit for bit, for the first len(src)&^7
// elements.
//
//go:noescape
func f32ToBF16AVX2(dst []uint16, src []float32)
