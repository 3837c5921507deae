package tensor

import "math"

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
