//go:build !purego

package tensor

import "fmt"

// GEMM micro-kernels over W stored by columns, the layout UnpackF32 writes a packed group in
// (packed.go), and over a packed group's bf16 pairs directly. They are the row-major kernels
// of gemm_amd64.go with W addressed otherwise (gemm_amd64.h): a step broadcasts nw
// consecutive elements (pairs) of W instead of one element of each of nw rows, so every
// output is the same chain of VFMADD231PS (VDPBF16PS) over k as GemmF32's (GemmBF16's) for the
// same values, bit for bit.
//
// At the AMX level GemmCols is 32; there the kernels are called on blocks of 8 rows, as
// GemmF32 is.

func init() {
	override(AVX2, func(k *Kernels) {
		k.UnpackF32 = unpackF32AVX2
		k.UnpackWidth = gemmCols256
		k.GemmF32Cols = gemmF32ColsAVX2
	})
	override(AVX512, func(k *Kernels) {
		k.UnpackF32 = unpackF32AVX512
		k.UnpackWidth = PackedRows
		k.GemmF32Cols = gemmF32ColsAVX512(gemmCols512, gemmF32Cols48x8)
		k.GemmF32Cols32 = gemmF32ColsAVX512(gemmCols512, gemmF32Cols32x8)
	})
	override(AVX512BF16, func(k *Kernels) {
		k.GemmBF16Cols = gemmBF16ColsAVX512BF16(gemmCols512, gemmBF16Cols48x8)
		k.GemmBF16Cols32 = gemmBF16ColsAVX512BF16(gemmCols512, gemmBF16Cols32x8)
	})
	override(AMX, func(k *Kernels) {
		k.GemmF32Cols = gemmF32ColsAVX512(gemmColsAMX, gemmF32Cols48x8)
		k.GemmF32Cols32 = gemmF32ColsAVX512(gemmColsAMX, gemmF32Cols32x8)
		k.GemmBF16Cols = gemmBF16ColsAVX512BF16(gemmColsAMX, gemmBF16Cols48x8)
		k.GemmBF16Cols32 = gemmBF16ColsAVX512BF16(gemmColsAMX, gemmBF16Cols32x8)
	})
}

// gemmColsCheck panics unless the slices hold what a GEMM over W by columns reads and writes,
// so that the assembly never touches memory outside them; it reports whether there is
// anything to multiply (k > 0). W elements come in groups of pair (1 for f32, 2 for bf16
// pairs): a step is one group of each of nw rows, ldp groups from one step to the next, k/pair
// steps.
func gemmColsCheck(R, C, pair, tileLen, xpLen, wLen, ldp, k, nw int) bool {
	if nw < 0 || nw > C || k < 0 || ldp < 0 {
		panic(fmt.Sprintf("tensor: gemm by columns with nw=%d (max %d), k=%d, ldp=%d", nw, C, k, ldp))
	}
	if nw == 0 {
		return false
	}
	if tileLen < nw*R || k > 0 && (xpLen < k*R || wLen < pair*((k/pair-1)*ldp+nw)) {
		panic(fmt.Sprintf("tensor: gemm by columns of %d×%d×%d (ldp %d) on a tile of %d, panel of %d, w of %d",
			R, nw, k, ldp, tileLen, xpLen, wLen))
	}
	return k > 0
}

func gemmF32ColsAVX2(tile, xp, w []float32, ldp, k, nw int, acc bool) {
	const R, C = gemmRows256, gemmCols256
	if !gemmColsCheck(R, C, 1, len(tile), len(xp), len(w), ldp, k, nw) {
		if !acc {
			clear(tile[:nw*R])
		}
		return
	}
	gemmF32Cols24x4(&tile[0], &xp[0], &w[0], ldp, k, nw, acc)
}

// gemmF32ColsAVX512 returns GemmF32Cols (kern gemmF32Cols48x8) or GemmF32Cols32 (kern
// gemmF32Cols32x8) for nw ≤ C rows of W, in blocks of 8.
func gemmF32ColsAVX512(C int, kern func(tile, xp, w *float32, ldp, k, nw int, acc bool)) func(tile, xp, w []float32, ldp, k, nw int, acc bool) {
	const R, B = gemmRows512, gemmCols512
	return func(tile, xp, w []float32, ldp, k, nw int, acc bool) {
		if !gemmColsCheck(R, C, 1, len(tile), len(xp), len(w), ldp, k, nw) {
			if !acc {
				clear(tile[:nw*R])
			}
			return
		}
		for j := 0; j < nw; j += B {
			kern(&tile[j*R], &xp[0], &w[j], ldp, k, min(B, nw-j), acc)
		}
	}
}

// gemmBF16ColsAVX512BF16 returns GemmBF16Cols (kern gemmBF16Cols48x8) or GemmBF16Cols32
// (kern gemmBF16Cols32x8) for nw ≤ C rows of W, in blocks of 8.
func gemmBF16ColsAVX512BF16(C int, kern func(tile *float32, xp, w *uint16, ldp, k, nw int, acc bool)) func(tile []float32, xp []uint16, w []uint16, ldp, k, nw int, acc bool) {
	const R, B = gemmRows512, gemmCols512
	return func(tile []float32, xp []uint16, w []uint16, ldp, k, nw int, acc bool) {
		if k%2 != 0 {
			panic(fmt.Sprintf("tensor: GemmBF16Cols with odd k=%d", k))
		}
		if !gemmColsCheck(R, C, 2, len(tile), len(xp), len(w), ldp, k, nw) {
			if !acc {
				clear(tile[:nw*R])
			}
			return
		}
		for j := 0; j < nw; j += B {
			kern(&tile[j*R], &xp[0], &w[2*j], ldp, k, min(B, nw-j), acc)
		}
	}
}

// unpackCheck panics unless src and dst hold steps steps of a packed group, so that the
// assembly never touches memory outside them.
func unpackCheck(dstLen, srcLen, steps int) {
	if steps < 0 || srcLen < steps*2*PackedRows || dstLen < steps*2*PackedRows {
		panic(fmt.Sprintf("tensor: unpack of %d steps from %d into %d", steps, srcLen, dstLen))
	}
}

func unpackF32AVX2(dst []float32, src []uint16, steps int) {
	unpackCheck(len(dst), len(src), steps)
	if steps > 0 {
		unpackF32x256P4(&dst[0], &src[0], steps)
	}
}

func unpackF32AVX512(dst []float32, src []uint16, steps int) {
	unpackCheck(len(dst), len(src), steps)
	if steps > 0 {
		unpackF32x512(&dst[0], &src[0], steps)
	}
}

// gemmF32Cols48x8 is gemmF32ColsGeneric(48) on the first elements of its slices, for k ≥ 1
// and 1 ≤ nw ≤ 8:
//
//	for j := range nw {
//		for i := range 48 {
//			s := float32(0)
//			if acc {
//				s = tile[j*48+i]
//			}
//			for p := range k {
//				s += xp[p*48+i] * w[p*ldp+j]
//			}
//			tile[j*48+i] = s
//		}
//	}
//
//go:noescape
func gemmF32Cols48x8(tile, xp, w *float32, ldp, k, nw int, acc bool)

// gemmBF16Cols48x8 is gemmBF16ColsGeneric(48) on the first elements of its slices, for even
// k ≥ 2 and 1 ≤ nw ≤ 8 (bf16(u) = BF16ToFloat32(u); VDPBF16PS sums each pair before adding it):
//
//	for j := range nw {
//		for i := range 48 {
//			s := float32(0)
//			if acc {
//				s = tile[j*48+i]
//			}
//			for p := 0; p < k; p += 2 {
//				q := (p/2*ldp + j) * 2
//				s += bf16(xp[p*48+2*i])*bf16(w[q]) + bf16(xp[p*48+2*i+1])*bf16(w[q+1])
//			}
//			tile[j*48+i] = s
//		}
//	}
//
//go:noescape
func gemmBF16Cols48x8(tile *float32, xp, w *uint16, ldp, k, nw int, acc bool)

// gemmF32Cols32x8 and gemmBF16Cols32x8 are gemmF32Cols48x8 and gemmBF16Cols48x8 over the
// panel's rows i < 32 only: the same loops and bits there, rows 32…47 of the tile untouched.
//
//go:noescape
func gemmF32Cols32x8(tile, xp, w *float32, ldp, k, nw int, acc bool)

//go:noescape
func gemmBF16Cols32x8(tile *float32, xp, w *uint16, ldp, k, nw int, acc bool)

// gemmF32Cols24x4 is gemmF32ColsGeneric(24) on the first elements of its slices, for k ≥ 1
// and 1 ≤ nw ≤ 4: gemmF32Cols48x8's loop with 24 for 48.
//
//go:noescape
func gemmF32Cols24x4(tile, xp, w *float32, ldp, k, nw int, acc bool)

// unpackF32x512 is unpackF32Generic on the first elements of its slices, for steps ≥ 1:
//
//	for s := range steps {
//		for r := range 128 {
//			dst[2*s*128+r] = BF16ToFloat32(src[(s*128+r)*2])
//			dst[(2*s+1)*128+r] = BF16ToFloat32(src[(s*128+r)*2+1])
//		}
//	}
//
//go:noescape
func unpackF32x512(dst *float32, src *uint16, steps int)

// unpackF32x256P4 is unpackF32Panels(4) on the first elements of its slices, for steps ≥ 1:
//
//	for s := range steps {
//		for r := range 128 {
//			at := r/4*4*2*steps + 2*s*4 + r%4
//			dst[at] = BF16ToFloat32(src[(s*128+r)*2])
//			dst[at+4] = BF16ToFloat32(src[(s*128+r)*2+1])
//		}
//	}
//
// In panels of GemmCols rows, the AVX2 micro-kernel reads its W as one sequential stream, 4
// steps to a cache line; by columns of 128 rows it read a line a step from L2 for 16 bytes of
// it. On an AMD EPYC Zen 3 (go test ./tensor -bench GemmF32Cols/avx2, one core, W in L2) that
// was 55–60 GFLOP/s by columns and 72–78 in panels, beside 71–76 for row-major W.
//
//go:noescape
func unpackF32x256P4(dst *float32, src *uint16, steps int)
