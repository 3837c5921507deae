//go:build !purego

package tensor

// Assembly matrix-vector products over Q4_K, Q5_K and Q6_K weights (qgemv.go specifies
// them; the block layouts are in q4_k.go, q5_k.go and q6_k.go). qgemv_qk_amd64.s says how
// each works.
//
// Every kernel runs over 256-bit vectors, also at the AVX-512 level: on the AMD Zen 4 the
// project runs on, a 512-bit operation costs two 256-bit ones, and a super-block's natural
// pieces (32 bytes of nibbles, 8 sub-blocks) fit a Y register. The exact kernels (float32
// x) and the AVX2 fast ones need only AVX2 and FMA; the AVX-512 level replaces the fast ones
// with VPDPWSSD (AVX512_VNNI, EVEX-encoded on Y registers) where the CPU has it.
//
// The fast kernels, which run near the memory's rate, walk four rows at a time, one from
// each quarter of the rows, so that four sequential streams are in flight (on the Zen 4, in
// one noisy run, four streams read at 24-26 GB/s and one at 18-20). The exact kernels are
// bound by their arithmetic, at about 9 GB/s, and walk the rows one after the next.

func init() {
	override(AVX2, func(k *Kernels) {
		k.GemvQ4_K = gemvQ4_KAVX2Checked
		k.GemvQ6_K = gemvQ6_KAVX2Checked
		k.GemvQ5_K = gemvQ5_KAVX2Checked
		k.GemvQ4_KQ8 = gemvQ4_KQ8AVX2Checked
		k.GemvQ5_KQ8 = gemvQ5_KQ8AVX2Checked
		k.GemvQ6_KQ8 = gemvQ6_KQ8AVX2Checked
	})
	override(AVX512, func(k *Kernels) {
		if hostCPU().Features.AVX512VNNI {
			k.GemvQ4_KQ8 = gemvQ4_KQ8VNNIChecked
			k.GemvQ5_KQ8 = gemvQ5_KQ8VNNIChecked
			k.GemvQ6_KQ8 = gemvQ6_KQ8VNNIChecked
		}
	})
}

// checkQK panics unless k is a whole number of 256-weight super-blocks and w holds rows
// rows of them, so that the assembly can trust the lengths.
func checkQK(dt DType, rows, k, nw int) {
	if k%256 != 0 {
		panic("tensor: " + dt.String() + " gemv needs a multiple of 256 columns")
	}
	if nw < rows*dt.Bytes(k) {
		panic("tensor: " + dt.String() + " gemv weights shorter than len(dst) rows")
	}
}

func gemvQ4_KAVX2Checked(dst []float32, w []byte, x []float32) {
	checkQK(Q4_K, len(dst), len(x), len(w))
	if len(x) == 0 {
		clear(dst)
		return
	}
	gemvQ4_KAVX2(dst, w, x)
}

func gemvQ5_KAVX2Checked(dst []float32, w []byte, x []float32) {
	checkQK(Q5_K, len(dst), len(x), len(w))
	if len(x) == 0 {
		clear(dst)
		return
	}
	gemvQ5_KAVX2(dst, w, x)
}

func gemvQ6_KAVX2Checked(dst []float32, w []byte, x []float32) {
	checkQK(Q6_K, len(dst), len(x), len(w))
	if len(x) == 0 {
		clear(dst)
		return
	}
	gemvQ6_KAVX2(dst, w, x)
}

func gemvQ4_KQ8AVX2Checked(dst []float32, w []byte, a *Q8Act) {
	checkQK(Q4_K, len(dst), a.Len(), len(w))
	checkQ8Act(a, a.Len(), 256)
	if a.Len() == 0 {
		clear(dst)
		return
	}
	gemvQ4_KQ8AVX2(dst, w, a.Q, a.D, a.Sums)
}

func gemvQ4_KQ8VNNIChecked(dst []float32, w []byte, a *Q8Act) {
	checkQK(Q4_K, len(dst), a.Len(), len(w))
	checkQ8Act(a, a.Len(), 256)
	if a.Len() == 0 {
		clear(dst)
		return
	}
	gemvQ4_KQ8VNNI(dst, w, a.Q, a.D, a.Sums)
}

func gemvQ5_KQ8AVX2Checked(dst []float32, w []byte, a *Q8Act) {
	checkQK(Q5_K, len(dst), a.Len(), len(w))
	checkQ8Act(a, a.Len(), 256)
	if a.Len() == 0 {
		clear(dst)
		return
	}
	gemvQ5_KQ8AVX2(dst, w, a.Q, a.D, a.Sums)
}

func gemvQ5_KQ8VNNIChecked(dst []float32, w []byte, a *Q8Act) {
	checkQK(Q5_K, len(dst), a.Len(), len(w))
	checkQ8Act(a, a.Len(), 256)
	if a.Len() == 0 {
		clear(dst)
		return
	}
	gemvQ5_KQ8VNNI(dst, w, a.Q, a.D, a.Sums)
}

func gemvQ6_KQ8AVX2Checked(dst []float32, w []byte, a *Q8Act) {
	checkQK(Q6_K, len(dst), a.Len(), len(w))
	checkQ8Act(a, a.Len(), 256)
	if a.Len() == 0 {
		clear(dst)
		return
	}
	gemvQ6_KQ8AVX2(dst, w, a.Q, a.D, a.Sums)
}

func gemvQ6_KQ8VNNIChecked(dst []float32, w []byte, a *Q8Act) {
	checkQK(Q6_K, len(dst), a.Len(), len(w))
	checkQ8Act(a, a.Len(), 256)
	if a.Len() == 0 {
		clear(dst)
		return
	}
	gemvQ6_KQ8VNNI(dst, w, a.Q, a.D, a.Sums)
}

// gemvQ4_KAVX2 computes, with k = len(x) a positive multiple of 256 and w holding len(dst)
// rows of k/256 Q4_K super-blocks,
//
//	for r := range dst {
//		var s float32
//		for b := range k / 256 {
//			dequantizeQ4_K(buf[:], w[(r*k/256+b)*144:])
//			s += dotGeneric(buf[:], x[256*b:])
//		}
//		dst[r] = s
//	}
//
// summing in another order, each weight d·sc·q − dmin·m formed with one FMA (the twin is
// gemvQuantGeneric(Q4_K)).
//
//go:noescape
func gemvQ4_KAVX2(dst []float32, w []byte, x []float32)

// gemvQ5_KAVX2 computes, with k = len(x) a positive multiple of 256 and w holding len(dst)
// rows of k/256 Q5_K super-blocks,
//
//	for r := range dst {
//		var s float32
//		for b := range k / 256 {
//			dequantizeQ5_K(buf[:], w[(r*k/256+b)*176:])
//			s += dotGeneric(buf[:], x[256*b:])
//		}
//		dst[r] = s
//	}
//
// summing in another order, each weight d·sc·q − dmin·m formed with one FMA (the twin is
// gemvQuantGeneric(Q5_K)).
//
//go:noescape
func gemvQ5_KAVX2(dst []float32, w []byte, x []float32)

// gemvQ6_KAVX2 computes, with k = len(x) a positive multiple of 256 and w holding len(dst)
// rows of k/256 Q6_K super-blocks,
//
//	for r := range dst {
//		var s float32
//		for b := range k / 256 {
//			dequantizeQ6_K(buf[:], w[(r*k/256+b)*210:])
//			s += dotGeneric(buf[:], x[256*b:])
//		}
//		dst[r] = s
//	}
//
// summing in another order; each weight (d·sc)·(q−32) is the one dequantizeQ6_K gives, formed
// as the FMA (d·sc)·q + (−32·d·sc), whose one rounding is that of the product (the twin is
// gemvQuantGeneric(Q6_K)).
//
//go:noescape
func gemvQ6_KAVX2(dst []float32, w []byte, x []float32)

// gemvQ4_KQ8AVX2 computes, with k = len(xq) a positive multiple of 256 and w holding
// len(dst) rows of k/256 Q4_K super-blocks,
//
//	gemvQ4_KQ8Generic(dst, w, &Q8Act{Block: 256, Q: xq, D: xd, Sums: sums})
//
// the integer sums exact (VPMADDUBSW, VPMADDWD), each super-block's lanes converted and
// summed in another order.
//
//go:noescape
func gemvQ4_KQ8AVX2(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)

// gemvQ4_KQ8VNNI computes what gemvQ4_KQ8AVX2 does, the integer sums with VPDPWSSD.
//
//go:noescape
func gemvQ4_KQ8VNNI(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)

// gemvQ5_KQ8AVX2 computes, with k = len(xq) a positive multiple of 256 and w holding
// len(dst) rows of k/256 Q5_K super-blocks,
//
//	gemvQ5_KQ8Generic(dst, w, &Q8Act{Block: 256, Q: xq, D: xd, Sums: sums})
//
// the integer sums exact (VPMADDUBSW, VPMADDWD), each super-block's lanes converted and
// summed in another order.
//
//go:noescape
func gemvQ5_KQ8AVX2(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)

// gemvQ5_KQ8VNNI computes what gemvQ5_KQ8AVX2 does, the integer sums with VPDPWSSD.
//
//go:noescape
func gemvQ5_KQ8VNNI(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)

// gemvQ6_KQ8AVX2 computes, with k = len(xq) a positive multiple of 256 and w holding
// len(dst) rows of k/256 Q6_K super-blocks,
//
//	gemvQ6_KQ8Generic(dst, w, &Q8Act{Block: 256, Q: xq, D: xd, Sums: sums})
//
// the integer sums exact (VPMADDUBSW, VPMADDWD), each super-block's lanes converted and
// summed in another order.
//
//go:noescape
func gemvQ6_KQ8AVX2(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)

// gemvQ6_KQ8VNNI computes what gemvQ6_KQ8AVX2 does, the integer sums with VPDPWSSD.
//
//go:noescape
func gemvQ6_KQ8VNNI(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)
