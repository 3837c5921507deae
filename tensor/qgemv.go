package tensor

import "math"

// Matrix-vector products over block-format weights (Q8_0, Q4_K, Q5_K, Q6_K), for decoding
// a quantized model. Each format has two:
//
//   - the exact product, float32 activations against the dequantized weights (what
//     Dequantize gives), so that a quantized model's logits can be checked against a float64
//     forward pass over the same dequantized weights;
//   - the fast product, activations quantized to int8 in blocks of 32 (Q8Act), each block of
//     weights meeting its block of activations as integers: exact integer sums, then one
//     float32 multiply-add per sub-block. This is how llama.cpp decodes quantized models.
//
// The plain-Go versions below specify both; the assembly ones sum in another order.

// Q8Act is a vector quantized for the fast products: int8 values in blocks of Block that
// share a float32 scale, x[i] ≈ D[i/Block]·Q[i], D = max|x|/127 over the block and Q =
// round(x/D), ties to even (the rounding of VCVTPS2DQ). Sums[j] = Σ Q[16j:16j+16], which
// the K formats' minimums (x = d·sc·q − dmin·m) and Q6_K's −32 multiply.
//
// Q8_0 weights meet blocks of 32, their own blocks. The K formats meet blocks of 256, their
// super-blocks, as llama.cpp's Q8_K: one activation scale per super-block lets the kernels
// apply the 6- or 8-bit sub-block scales in integer arithmetic and convert to float once
// per super-block, where blocks of 32 cost a float multiply-add per sub-block.
type Q8Act struct {
	Block int
	Q     []int8
	D     []float32 // per block
	Sums  []int16   // per 16 values
}

// ActBlock is the activation block that dt's fast product takes (Q8Act.Block).
func ActBlock(dt DType) int {
	if dt == Q8_0 {
		return 32
	}
	return 256
}

// NewQ8Act allocates a quantized vector of k values in blocks of block (32 or 256), k a
// multiple of block.
func NewQ8Act(k, block int) *Q8Act {
	if block != 32 && block != 256 || k%block != 0 {
		panic("tensor: a quantized activation vector needs blocks of 32 or 256 and a whole number of them")
	}
	return &Q8Act{Block: block, Q: make([]int8, k), D: make([]float32, k/block), Sums: make([]int16, k/16)}
}

// Len is the number of values a holds.
func (a *Q8Act) Len() int { return len(a.Q) }

func quantizeQ8ActGeneric(a *Q8Act, x []float32) {
	if len(x) != len(a.Q) {
		panic("tensor: quantized activation length differs from the vector's")
	}
	bs := a.Block
	for b := range len(x) / bs {
		xb, qb := x[bs*b:bs*b+bs], a.Q[bs*b:bs*b+bs]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for j, v := range xb {
			qb[j] = int8(math.RoundToEven(float64(v * id)))
		}
		a.D[b] = d
	}
	for j := range a.Sums {
		var s int16
		for _, q := range a.Q[16*j : 16*j+16] {
			s += int16(q)
		}
		a.Sums[j] = s
	}
}

// gemvQuantGeneric is the exact product for any block format: each row's blocks dequantized,
// then dotted with x as dotGeneric does, one block at a time.
func gemvQuantGeneric(dt DType) func(dst []float32, w []byte, x []float32) {
	return func(dst []float32, w []byte, x []float32) {
		k := len(x)
		bs, bb := dt.BlockSize(), dt.BlockBytes()
		rowBytes := dt.Bytes(k)
		var buf [256]float32
		for r := range dst {
			row := w[r*rowBytes : (r+1)*rowBytes]
			var s float32
			for b := range k / bs {
				Dequantize(buf[:bs], dt, row[b*bb:(b+1)*bb])
				s += dotGeneric(buf[:bs], x[b*bs:])
			}
			dst[r] = s
		}
	}
}

// The fast products: dst[r] = Σ over the row's blocks of the block's integer dot with the
// activations, scaled; for k = 32·len(a.D) and w holding len(dst) rows.

func gemvQ8_0Q8Generic(dst []float32, w []byte, a *Q8Act) {
	k := a.Len()
	rowBytes := Q8_0.Bytes(k)
	for r := range dst {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var s float32
		for b := range k / 32 {
			blk := row[34*b : 34*b+34]
			var is int32
			for j := range 32 {
				is += int32(int8(blk[2+j])) * int32(a.Q[32*b+j])
			}
			s += f16At(blk) * a.D[b] * float32(is)
		}
		dst[r] = s
	}
}

func gemvQ4_KQ8Generic(dst []float32, w []byte, a *Q8Act) {
	gemvKQ8Generic(dst, w, a, Q4_K, func(b []byte, g, l int) (lo, hi int32) {
		q := b[16+32*g+l]
		return int32(q & 0xF), int32(q >> 4)
	})
}

func gemvQ5_KQ8Generic(dst []float32, w []byte, a *Q8Act) {
	gemvKQ8Generic(dst, w, a, Q5_K, func(b []byte, g, l int) (lo, hi int32) {
		q, h := b[48+32*g+l], b[16+l]
		return int32(q&0xF | (h>>(2*g)&1)<<4), int32(q>>4 | (h>>(2*g+1)&1)<<4)
	})
}

// gemvKQ8Generic is the fast product for Q4_K and Q5_K, whose super-blocks hold 4 groups of
// 64 weights, sub-blocks 2g (weights l) and 2g+1 (weights l+32) of group g; q returns the
// two weights' integers. x = d·sc·q − dmin·m per sub-block, and the activations' one scale
// per super-block leaves two exact integer sums, Σ sc·(q·xq) and Σ m·Σxq, to convert.
func gemvKQ8Generic(dst []float32, w []byte, a *Q8Act, dt DType, q func(b []byte, g, l int) (lo, hi int32)) {
	k := a.Len()
	rowBytes, bb := dt.Bytes(k), dt.BlockBytes()
	for r := range dst {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var s float32
		for sb := range k / 256 {
			blk := row[sb*bb : (sb+1)*bb]
			var is, ms int32
			for g := range 4 {
				var lo, hi int32
				xq := a.Q[256*sb+64*g:]
				for l := range 32 {
					ql, qh := q(blk, g, l)
					lo += ql * int32(xq[l])
					hi += qh * int32(xq[l+32])
				}
				for h, dot := range [2]int32{lo, hi} {
					j := 2*g + h
					sc, m := scaleMinK4(j, blk[4:16])
					is += int32(sc) * dot
					ms += int32(m) * int32(a.Sums[16*sb+2*j]+a.Sums[16*sb+2*j+1])
				}
			}
			xd := a.D[sb]
			s += f16At(blk)*xd*float32(is) - f16At(blk[2:])*xd*float32(ms)
		}
		dst[r] = s
	}
}

func gemvQ6_KQ8Generic(dst []float32, w []byte, a *Q8Act) {
	k := a.Len()
	rowBytes := Q6_K.Bytes(k)
	for r := range dst {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var s float32
		for sb := range k / 256 {
			blk := row[210*sb : 210*sb+210]
			var qv [256]int32
			for h := range 2 {
				ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
				for l := range 32 {
					y := qv[128*h:]
					y[l] = int32(ql[l]&0xF | (qh[l]>>0&3)<<4)
					y[l+32] = int32(ql[l+32]&0xF | (qh[l]>>2&3)<<4)
					y[l+64] = int32(ql[l]>>4 | (qh[l]>>4&3)<<4)
					y[l+96] = int32(ql[l+32]>>4 | (qh[l]>>6&3)<<4)
				}
			}
			var is int32
			for g := range 16 { // sub-blocks of 16, each with an int8 scale
				var dot int32
				for l := range 16 {
					dot += qv[16*g+l] * int32(a.Q[256*sb+16*g+l])
				}
				is += int32(int8(blk[192+g])) * (dot - 32*int32(a.Sums[16*sb+g]))
			}
			s += f16At(blk[208:]) * a.D[sb] * float32(is)
		}
		dst[r] = s
	}
}

// GemvQuant returns the exact and the fast matrix-vector products for block dtype dt.
func (k *Kernels) GemvQuant(dt DType) (exact func(dst []float32, w []byte, x []float32), fast func(dst []float32, w []byte, a *Q8Act)) {
	switch dt {
	case Q8_0:
		return k.GemvQ8_0, k.GemvQ8_0Q8
	case Q4_K:
		return k.GemvQ4_K, k.GemvQ4_KQ8
	case Q5_K:
		return k.GemvQ5_K, k.GemvQ5_KQ8
	case Q6_K:
		return k.GemvQ6_K, k.GemvQ6_KQ8
	}
	panic("tensor: " + dt.String() + " is not a block format")
}
