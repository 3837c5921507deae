package tensor

import "math"

// The plain-Go kernels: the specification of every assembly kernel, and what runs on CPUs
// without one. Dot products keep eight partial sums, the shape a vector unit gives them,
// which also keeps float32 rounding error growing slowly with length.

// dotGeneric returns Σ x[i]·y[i] over len(x) elements (len(y) >= len(x)).
func dotGeneric(x, y []float32) float32 {
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

func dotsGeneric(dst, x, ys []float32, ldy int, scale float32) {
	dotsBy(dotGeneric, dst, x, ys, ldy, scale)
}

// dotsBy is Dots by a call of dot a row.
func dotsBy(dot func(x, y []float32) float32, dst, x, ys []float32, ldy int, scale float32) {
	for j := range dst {
		dst[j] = dot(x, ys[j*ldy:]) * scale
	}
}

// dotBF16Generic returns Σ bf16(w[i])·x[i] over len(w) elements (len(x) >= len(w)).
func dotBF16Generic(w []uint16, x []float32) float32 {
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

// dotF16Generic returns Σ f16(w[i])·x[i] over len(w) elements (len(x) >= len(w)).
func dotF16Generic(w []uint16, x []float32) float32 {
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

// axpyGeneric computes y[i] += a·x[i] over len(x) elements.
func axpyGeneric(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// addGeneric computes dst[i] += x[i] over len(x) elements.
func addGeneric(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] += v
	}
}

// relu2Generic computes x[i] = max(x[i], 0)² in place.
func relu2Generic(x []float32) {
	for i, v := range x {
		if v > 0 {
			x[i] = v * v
		} else {
			x[i] = 0
		}
	}
}

// layerNorm1PGeneric computes dst = (x-mean)/sqrt(var+eps)·(1+w) + b over one row, with the biased
// variance. Mean and variance are accumulated in float64 (two passes): the row costs little
// next to the matrix products, and this keeps the normalisation exact to float32 rounding.
func layerNorm1PGeneric(dst, x, w, b []float32, eps float32) {
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

// softmaxGeneric replaces x with exp(x-max)/Σexp(x-max).
func softmaxGeneric(x []float32) {
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

// rotateHalfGeneric turns the first 2·len(cos) elements of one head in place: with h = len(cos),
// element i pairs with i+h as (x_i, x_{i+h}) ← (x_i·cos_i − x_{i+h}·sin_i, x_{i+h}·cos_i + x_i·sin_i).
func rotateHalfGeneric(x, cos, sin []float32) {
	h := len(cos)
	lo, hi := x[:h], x[h:2*h]
	sin = sin[:h]
	for i, c := range cos {
		a, b := lo[i], hi[i]
		lo[i] = a*c - b*sin[i]
		hi[i] = b*c + a*sin[i]
	}
}

func gemvBF16Generic(dst []float32, w []uint16, x []float32) {
	k := len(x)
	for r := range dst {
		dst[r] = dotBF16Generic(w[r*k:(r+1)*k], x)
	}
}

func gemvF16Generic(dst []float32, w []uint16, x []float32) {
	k := len(x)
	for r := range dst {
		dst[r] = dotF16Generic(w[r*k:(r+1)*k], x)
	}
}

func gemvF32Generic(dst []float32, w []float32, x []float32) {
	k := len(x)
	for r := range dst {
		dst[r] = dotGeneric(w[r*k:(r+1)*k], x)
	}
}

// gemvBF16FastGeneric multiplies bf16 weights by bf16-rounded activations; every product of
// two bf16 values is exact in float32, so only the order of the sums differs from VDPBF16PS.
func gemvBF16FastGeneric(dst []float32, w []uint16, xb []uint16) {
	k := len(xb)
	for r := range dst {
		wr := w[r*k : (r+1)*k]
		var s [8]float32
		for p, x := range xb {
			s[p&7] += BF16ToFloat32(wr[p]) * BF16ToFloat32(x)
		}
		dst[r] = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
	}
}

func packF32Generic(R int) func(xp, x []float32, ldx, rows, k int) {
	return func(xp, x []float32, ldx, rows, k int) {
		xp = xp[:k*R]
		for p := range k {
			col := xp[p*R : (p+1)*R]
			for i := range rows {
				col[i] = x[i*ldx+p]
			}
			clear(col[rows:])
		}
	}
}

func gemmF32Generic(R int) func(tile, xp, w []float32, ldw, k, nw int, acc bool) {
	return func(tile, xp, w []float32, ldw, k, nw int, acc bool) {
		for j := range nw {
			out := tile[j*R : (j+1)*R]
			if !acc {
				clear(out)
			}
			wr := w[j*ldw : j*ldw+k]
			for p, wv := range wr {
				axpyGeneric(wv, xp[p*R:(p+1)*R], out)
			}
		}
	}
}

func packBF16Generic(R int) func(xp []uint16, x []float32, ldx, rows, k int) {
	return func(xp []uint16, x []float32, ldx, rows, k int) {
		xp = xp[:k*R]
		for p := 0; p < k; p += 2 {
			pair := xp[p*R : (p+2)*R]
			for i := range rows {
				pair[2*i] = Float32ToBF16(x[i*ldx+p])
				pair[2*i+1] = Float32ToBF16(x[i*ldx+p+1])
			}
			clear(pair[2*rows:])
		}
	}
}

func gemmBF16Generic(R int) func(tile []float32, xp []uint16, w []uint16, ldw, k, nw int, acc bool) {
	return func(tile []float32, xp []uint16, w []uint16, ldw, k, nw int, acc bool) {
		for j := range nw {
			out := tile[j*R : (j+1)*R]
			if !acc {
				clear(out)
			}
			wr := w[j*ldw : j*ldw+k]
			for p := 0; p < k; p += 2 {
				w0, w1 := BF16ToFloat32(wr[p]), BF16ToFloat32(wr[p+1])
				pair := xp[p*R : (p+2)*R]
				for i := range R {
					out[i] += BF16ToFloat32(pair[2*i])*w0 + BF16ToFloat32(pair[2*i+1])*w1
				}
			}
		}
	}
}

func transposeGeneric(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	for i := range rows {
		row := dst[i*ldd : i*ldd+cols]
		for j := range row {
			row[j] = src[j*lds+i]
		}
	}
}
