//go:build !purego

package tensor

// Assembly kernels for Q8_0 weights (q8_0.go: 34-byte blocks, an f16 scale d then 32 int8)
// and for the activation quantizer of the fast products. As the bf16 decode kernels
// (gemv_amd64.go), the products are bound by memory bandwidth: each walks four rows at a
// time, one from each quarter of the rows, so that each quarter is read as one sequential
// stream, with the same software-prefetch and NoPF builds chosen by GemvPrefetch.
//
// The exact product widens each block's int8 weights to float32 in registers, sums their
// products with x, and multiplies that sum by the block's scale into the row's accumulator.
// The fast one multiplies the int8 weights by the int8 activations as exact int32 sums,
// with VPDPBUSD where the CPU has AVX512_VNNI and VPMADDUBSW+VPMADDWD otherwise, then adds
// (d·D)·float32(sum) per block as its twin does; it computes the same float32 operations in
// the same order as gemvQ8_0Q8Generic (bit-identical where Go does not fuse s += a·b into an
// FMA). The quantizer (AVX2 at both levels: it runs once per product) is bit-identical to
// quantizeQ8ActGeneric.
//
// The products need k to be a multiple of 32 (a whole number of blocks per row), which
// the Checked wrappers check, with the lengths the assembly trusts.

func init() {
	override(AVX2, func(k *Kernels) {
		k.GemvQ8_0 = gemvQ8_0AVX2Checked
		k.GemvQ8_0Q8 = gemvQ8_0Q8AVX2Checked
		k.QuantizeQ8Act = quantizeQ8ActAVX2Checked
	})
	override(AVX512, func(k *Kernels) {
		k.GemvQ8_0 = gemvQ8_0AVX512Checked
		if hostCPU().Features.AVX512VNNI {
			k.GemvQ8_0Q8 = gemvQ8_0Q8VNNIChecked
		}
	})
}

// checkQ8_0 panics unless k is a whole number of blocks and w holds rows rows of them.
func checkQ8_0(rows, k, nw int) {
	if k%32 != 0 {
		panic("tensor: Q8_0 rows need a multiple of 32 columns")
	}
	if nw < rows*Q8_0.Bytes(k) {
		panic("tensor: Q8_0 weights shorter than len(dst) rows")
	}
}

// checkQ8Act panics unless a holds a whole Q8Act of k values in blocks of block, as NewQ8Act
// makes it, so that the assembly can trust the lengths.
func checkQ8Act(a *Q8Act, k, block int) {
	if a.Block != block || k%block != 0 || len(a.D) < k/block || len(a.Sums) < k/16 {
		panic("tensor: malformed quantized activation vector")
	}
}

func gemvQ8_0AVX2Checked(dst []float32, w []byte, x []float32) {
	checkQ8_0(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvQ8_0AVX2(dst, w, x)
	} else {
		gemvQ8_0AVX2NoPF(dst, w, x)
	}
}

func gemvQ8_0AVX512Checked(dst []float32, w []byte, x []float32) {
	checkQ8_0(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvQ8_0AVX512(dst, w, x)
	} else {
		gemvQ8_0AVX512NoPF(dst, w, x)
	}
}

func gemvQ8_0Q8AVX2Checked(dst []float32, w []byte, a *Q8Act) {
	checkQ8Act(a, a.Len(), 32)
	checkQ8_0(len(dst), a.Len(), len(w))
	if GemvPrefetch {
		gemvQ8_0Q8AVX2(dst, w, a.Q, a.D)
	} else {
		gemvQ8_0Q8AVX2NoPF(dst, w, a.Q, a.D)
	}
}

func gemvQ8_0Q8VNNIChecked(dst []float32, w []byte, a *Q8Act) {
	checkQ8Act(a, a.Len(), 32)
	checkQ8_0(len(dst), a.Len(), len(w))
	if GemvPrefetch {
		gemvQ8_0Q8VNNI(dst, w, a.Q, a.D)
	} else {
		gemvQ8_0Q8VNNINoPF(dst, w, a.Q, a.D)
	}
}

func quantizeQ8ActAVX2Checked(a *Q8Act, x []float32) {
	if len(x) != len(a.Q) {
		panic("tensor: quantized activation length differs from the vector's")
	}
	checkQ8Act(a, len(x), a.Block)
	quantizeQ8ActAVX2(a.Q, a.D, a.Sums, x, a.Block/32)
}

// gemvQ8_0AVX2 computes, with k = len(x) a multiple of 32 and w holding at least len(dst)
// rows of k/32 Q8_0 blocks (34 bytes each),
//
//	for r := range dst {
//		var s float32
//		for b := range k / 32 {
//			blk := w[(r*k/32+b)*34:][:34]
//			var sb float32
//			for j := range 32 {
//				sb += float32(int8(blk[2+j])) * x[32*b+j]
//			}
//			s += f16At(blk) * sb
//		}
//		dst[r] = s
//	}
//
// summing in another order (the twin is gemvQuantGeneric(Q8_0), which multiplies the
// dequantized weights d·q by x instead).
//
//go:noescape
func gemvQ8_0AVX2(dst []float32, w []byte, x []float32)

// gemvQ8_0AVX512 computes what gemvQ8_0AVX2 does, 16 weights per vector.
//
//go:noescape
func gemvQ8_0AVX512(dst []float32, w []byte, x []float32)

// gemvQ8_0Q8AVX2 computes, with k = len(q) a multiple of 32, len(d) ≥ k/32 and w holding
// at least len(dst) rows of k/32 Q8_0 blocks,
//
//	for r := range dst {
//		var s float32
//		for b := range k / 32 {
//			blk := w[(r*k/32+b)*34:][:34]
//			var is int32
//			for j := range 32 {
//				is += int32(int8(blk[2+j])) * int32(q[32*b+j])
//			}
//			s += f16At(blk) * d[b] * float32(is)
//		}
//		dst[r] = s
//	}
//
// with VPMADDUBSW and VPMADDWD for the integer sums: the twin is gemvQ8_0Q8Generic with
// q = a.Q and d = a.D.
//
//go:noescape
func gemvQ8_0Q8AVX2(dst []float32, w []byte, q []int8, d []float32)

// gemvQ8_0Q8VNNI computes what gemvQ8_0Q8AVX2 does, with VPDPBUSD (AVX512_VNNI) for the
// integer sums.
//
//go:noescape
func gemvQ8_0Q8VNNI(dst []float32, w []byte, q []int8, d []float32)

// quantizeQ8ActAVX2 computes quantizeQ8ActGeneric(a, x) with a.Q, a.D and a.Sums passed as
// q, d and sums and chunks = a.Block/32; len(x) is a multiple of a.Block that the slices'
// lengths fit.
//
//go:noescape
func quantizeQ8ActAVX2(q []int8, d []float32, sums []int16, x []float32, chunks int)

// The NoPF builds compute what the kernels above compute, without software prefetch.

//go:noescape
func gemvQ8_0AVX2NoPF(dst []float32, w []byte, x []float32)

//go:noescape
func gemvQ8_0AVX512NoPF(dst []float32, w []byte, x []float32)

//go:noescape
func gemvQ8_0Q8AVX2NoPF(dst []float32, w []byte, q []int8, d []float32)

//go:noescape
func gemvQ8_0Q8VNNINoPF(dst []float32, w []byte, q []int8, d []float32)
