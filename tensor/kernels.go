package tensor

import "math"

// The plain-Go kernels. Dot products keep eight partial sums, the shape a vector unit gives
// them, which also keeps float32 rounding error growing slowly with length.

// DotF32 returns Σ x[i]·y[i] over len(x) elements (len(y) >= len(x)).
func DotF32(x, y []float32) float32 {
	y = y[:len(x)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		for j := range 8 {
			s[j] += x[i+j] * y[i+j]
		}
	}
	for ; i < len(x); i++ {
		s[i&7] += x[i] * y[i]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

// DotBF16 returns Σ bf16(w[i])·x[i] over len(w) elements (len(x) >= len(w)).
func DotBF16(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(w); i += 8 {
		for j := range 8 {
			s[j] += BF16ToFloat32(w[i+j]) * x[i+j]
		}
	}
	for ; i < len(w); i++ {
		s[i&7] += BF16ToFloat32(w[i]) * x[i]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

// DotF16 returns Σ f16(w[i])·x[i] over len(w) elements (len(x) >= len(w)).
func DotF16(w []uint16, x []float32) float32 {
	x = x[:len(w)]
	var s [8]float32
	i := 0
	for ; i+8 <= len(w); i += 8 {
		for j := range 8 {
			s[j] += F16ToFloat32(w[i+j]) * x[i+j]
		}
	}
	for ; i < len(w); i++ {
		s[i&7] += F16ToFloat32(w[i]) * x[i]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

// Axpy computes y[i] += a·x[i] over len(x) elements.
func Axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// Add computes dst[i] += x[i] over len(x) elements.
func Add(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] += v
	}
}

// ReLU2 computes x[i] = max(x[i], 0)² in place.
func ReLU2(x []float32) {
	for i, v := range x {
		if v > 0 {
			x[i] = v * v
		} else {
			x[i] = 0
		}
	}
}

// LayerNorm1P computes dst = (x-mean)/sqrt(var+eps)·(1+w) + b over one row, with the biased
// variance. Mean and variance are accumulated in float64 (two passes): the row costs little
// next to the matrix products, and this keeps the normalisation exact to float32 rounding.
func LayerNorm1P(dst, x, w, b []float32, eps float32) {
	n := len(x)
	dst, w, b = dst[:n], w[:n], b[:n]
	var sum float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	inv := 1 / math.Sqrt(ss/float64(n)+float64(eps))
	m, r := float32(mean), float32(inv)
	for i, v := range x {
		dst[i] = (v-m)*r*(1+w[i]) + b[i]
	}
}

// Softmax replaces x with exp(x-max)/Σexp(x-max).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// RotateHalf turns the first 2·len(cos) elements of one head in place: with h = len(cos),
// element i pairs with i+h as (x_i, x_{i+h}) ← (x_i·cos_i − x_{i+h}·sin_i, x_{i+h}·cos_i + x_i·sin_i).
func RotateHalf(x, cos, sin []float32) {
	h := len(cos)
	lo, hi := x[:h], x[h:2*h]
	sin = sin[:h]
	for i, c := range cos {
		a, b := lo[i], hi[i]
		lo[i] = a*c - b*sin[i]
		hi[i] = b*c + a*sin[i]
	}
}

// RopeInvFreq returns theta^(-2i/rotDims) for i < rotDims/2, computed in float32 as
// transformers does (its cos/sin tables are float32 even when the model runs in float64).
func RopeInvFreq(rotDims int, theta float64) []float32 {
	inv := make([]float32, rotDims/2)
	for i := range inv {
		e := float32(2*i) / float32(rotDims)
		inv[i] = float32(1 / float32(math.Pow(theta, float64(e))))
	}
	return inv
}

// RopeAngles writes cos and sin of pos·invFreq[i], the angle formed in float32 as transformers
// does, the functions evaluated in float64 and rounded.
func RopeAngles(cos, sin, invFreq []float32, pos int) {
	p := float32(pos)
	for i, f := range invFreq {
		a := float64(p * f)
		cos[i] = float32(math.Cos(a))
		sin[i] = float32(math.Sin(a))
	}
}
