package tensor

import "math"

// Q8_0 (ggml's block_q8_0): 32 weights as
//
//	f16 d; int8 qs[32]        x[j] = d·qs[j]
//
// d = max|x|/127, qs = round(x/d) with halves away from zero (C's roundf), as
// quantize_row_q8_0_ref: the quotient uses d in float32, before d is rounded to f16.

func dequantizeQ8_0(dst []float32, b []byte) {
	d := f16At(b)
	for j := range 32 {
		dst[j] = float32(int8(b[2+j])) * d
	}
}

func quantizeQ8_0(b []byte, x []float32) {
	var amax float32
	for _, v := range x[:32] {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	putF16(b, d)
	for j, v := range x[:32] {
		b[2+j] = byte(int8(math.Round(float64(v * id))))
	}
}
