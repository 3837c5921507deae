package tensor

// The kernels of the active implementation (see Active). Each is documented on Kernels and
// specified by its plain-Go version in generic.go.

// DotF32 returns Σ x[i]·y[i] over len(x) elements (len(y) >= len(x)).
func DotF32(x, y []float32) float32 { return Active().Dot(x, y) }

// Axpy computes y[i] += a·x[i] over len(x) elements.
func Axpy(a float32, x, y []float32) { Active().Axpy(a, x, y) }

// Add computes dst[i] += x[i] over len(x) elements.
func Add(dst, x []float32) { Active().Add(dst, x) }

// ReLU2 computes x[i] = max(x[i], 0)² in place.
func ReLU2(x []float32) { Active().ReLU2(x) }

// Softmax replaces x with exp(x-max)/Σexp(x-max).
func Softmax(x []float32) { Active().Softmax(x) }

// LayerNorm1P computes dst = (x-mean)/sqrt(var+eps)·(1+w) + b over one row, with the biased
// variance: Nemotron's layernorm1p.
func LayerNorm1P(dst, x, w, b []float32, eps float32) { Active().LayerNorm1P(dst, x, w, b, eps) }

// RotateHalf turns the first 2·len(cos) elements of one head in place: with h = len(cos),
// element i pairs with i+h as (x_i, x_{i+h}) ← (x_i·cos_i − x_{i+h}·sin_i, x_{i+h}·cos_i + x_i·sin_i).
func RotateHalf(x, cos, sin []float32) { Active().RotateHalf(x, cos, sin) }

// BF16ToF32 widens src into dst (len(dst) >= len(src)).
func BF16ToF32(dst []float32, src []uint16) { Active().BF16ToF32(dst, src) }

// F16ToF32 widens src into dst (len(dst) >= len(src)).
func F16ToF32(dst []float32, src []uint16) { Active().F16ToF32(dst, src) }

// F32ToBF16 rounds src into dst to the nearest bf16, ties to even (len(dst) >= len(src)).
func F32ToBF16(dst []uint16, src []float32) { Active().F32ToBF16(dst, src) }
