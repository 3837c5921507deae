//go:build !purego

package tensor

import "fmt"

// Register-blocked GEMM micro-kernels for prefill (see Kernels.GemmRows). A kernel keeps an
// R×C tile in vector registers — R panel rows as R/16 zmm (R/8 ymm) by C rows of W — and walks
// k once: each step loads the packed X column (or bf16 column pair) of the R rows and
// broadcasts one element (pair) of each W row, which is read in place.
//
//	level        R × C     accumulators   per step
//	avx2        24 × 4     12 ymm          3 loads, 4 broadcasts, 12 VFMADD231PS
//	avx512      48 × 8     24 zmm          3 loads, 8 broadcasts, 24 VFMADD231PS
//	avx512bf16  48 × 8     24 zmm          3 loads, 8 W pairs broadcast, 24 VDPBF16PS
//
// R = 48 keeps 24 of the 32 zmm registers accumulating, enough independent sums to cover the
// latency of VFMADD231PS and VDPBF16PS on two ports, while a step's 8 broadcasts and 3 loads
// stay well under the load ports' rate; a wider panel also means fewer passes over W. Of
// 32×8, 48×8, 64×6, 80×5 and 96×4, 48×8 ran fastest with W in cache (by 5-10%) and as fast
// as any streaming W. Broadcasting W inside each VFMADD231PS ({1to16}) instead costs 24 loads
// a step rather than 11 and ran about 20% slower. Packing transposes 16×16 (8×8) tiles of x in
// registers: gathers were 2-4× slower.

const (
	gemmRows512, gemmCols512 = 48, 8
	gemmRows256, gemmCols256 = 24, 4
)

func init() {
	override(AVX2, func(k *Kernels) {
		k.GemmRows, k.GemmCols = gemmRows256, gemmCols256
		k.PackF32 = packF32AVX2
		k.GemmF32 = gemmF32AVX2
		k.PackBF16 = packBF16Generic(gemmRows256) // only GemmBF16 reads it, and AVX2 has none
	})
	override(AVX512, func(k *Kernels) {
		k.GemmRows, k.GemmCols = gemmRows512, gemmCols512
		k.PackF32 = packF32AVX512
		k.GemmF32 = gemmF32AVX512
		k.PackBF16 = packBF16AVX512
	})
	override(AVX512BF16, func(k *Kernels) {
		k.GemmBF16 = gemmBF16AVX512BF16
	})
}

// gemmCheck panics unless the slices hold what a GEMM call reads and writes, so that the
// assembly never touches memory outside them; it reports whether there is anything to
// multiply (k > 0).
func gemmCheck(R, C, tileLen, xpLen, wLen, ldw, k, nw int) bool {
	if nw < 0 || nw > C || k < 0 || ldw < 0 {
		panic(fmt.Sprintf("tensor: gemm with nw=%d (max %d), k=%d, ldw=%d", nw, C, k, ldw))
	}
	if nw == 0 {
		return false
	}
	if tileLen < nw*R || k > 0 && (xpLen < k*R || wLen < (nw-1)*ldw+k) {
		panic(fmt.Sprintf("tensor: gemm of %d×%d×%d (ldw %d) on a tile of %d, panel of %d, w of %d",
			R, nw, k, ldw, tileLen, xpLen, wLen))
	}
	return k > 0
}

// packCheck panics unless the slices hold what packing reads and writes, so that the
// assembly never touches memory outside them.
func packCheck(R, xpLen, xLen, ldx, rows, k int) {
	if rows < 0 || rows > R || k < 0 || ldx < 0 {
		panic(fmt.Sprintf("tensor: pack of %d rows (max %d), k=%d, ldx=%d", rows, R, k, ldx))
	}
	if xpLen < k*R || k > 0 && rows > 0 && xLen < (rows-1)*ldx+k {
		panic(fmt.Sprintf("tensor: pack of %d×%d (ldx %d) from %d into %d", rows, k, ldx, xLen, xpLen))
	}
}

func gemmF32AVX512(tile, xp, w []float32, ldw, k, nw int, acc bool) {
	const R, C = gemmRows512, gemmCols512
	if !gemmCheck(R, C, len(tile), len(xp), len(w), ldw, k, nw) {
		if !acc {
			clear(tile[:nw*R])
		}
		return
	}
	gemmF32x48x8(&tile[0], &xp[0], &w[0], ldw, k, nw, acc)
}

func gemmBF16AVX512BF16(tile []float32, xp []uint16, w []uint16, ldw, k, nw int, acc bool) {
	const R, C = gemmRows512, gemmCols512
	if k%2 != 0 {
		panic(fmt.Sprintf("tensor: GemmBF16 with odd k=%d", k))
	}
	if !gemmCheck(R, C, len(tile), len(xp), len(w), ldw, k, nw) {
		if !acc {
			clear(tile[:nw*R])
		}
		return
	}
	gemmBF16x48x8(&tile[0], &xp[0], &w[0], ldw, k, nw, acc)
}

func packF32AVX512(xp, x []float32, ldx, rows, k int) {
	const R = gemmRows512
	packCheck(R, len(xp), len(x), ldx, rows, k)
	if rows == 0 {
		clear(xp[:k*R])
		return
	}
	// Blocks of 16 columns by transposing 16×16 tiles; the rest a column at a time.
	kb := k &^ 15
	if kb > 0 {
		for g := 0; g < R; g += 16 {
			var off [16]int // rows not present read row 0, then are zeroed
			var mask uint16
			for r := range 16 {
				if g+r < rows {
					off[r] = (g + r) * ldx
					mask |= 1 << r
				}
			}
			packF32x16(&xp[g], &x[0], &off, mask, kb/16)
		}
	}
	for p := kb; p < k; p++ {
		col := xp[p*R : (p+1)*R]
		for i := range rows {
			col[i] = x[i*ldx+p]
		}
		clear(col[rows:])
	}
}

func packBF16AVX512(xp []uint16, x []float32, ldx, rows, k int) {
	const R = gemmRows512
	if k%2 != 0 {
		panic(fmt.Sprintf("tensor: PackBF16 with odd k=%d", k))
	}
	packCheck(R, len(xp), len(x), ldx, rows, k)
	if rows == 0 {
		clear(xp[:k*R])
		return
	}
	// Blocks of 16 columns by transposing 16×16 tiles; the rest a pair at a time.
	kb := k &^ 15
	if kb > 0 {
		for g := 0; g < R; g += 16 {
			var off [16]int // rows not present read row 0, then are zeroed
			var mask uint16
			for r := range 16 {
				if g+r < rows {
					off[r] = (g + r) * ldx
					mask |= 1 << r
				}
			}
			packBF16x16(&xp[2*g], &x[0], &off, mask, kb/16)
		}
	}
	for p := kb; p < k; p += 2 {
		pair := xp[p*R : (p+2)*R]
		for i := range rows {
			pair[2*i] = Float32ToBF16(x[i*ldx+p])
			pair[2*i+1] = Float32ToBF16(x[i*ldx+p+1])
		}
		clear(pair[2*rows:])
	}
}

func gemmF32AVX2(tile, xp, w []float32, ldw, k, nw int, acc bool) {
	const R, C = gemmRows256, gemmCols256
	if !gemmCheck(R, C, len(tile), len(xp), len(w), ldw, k, nw) {
		if !acc {
			clear(tile[:nw*R])
		}
		return
	}
	gemmF32x24x4(&tile[0], &xp[0], &w[0], ldw, k, nw, acc)
}

func packF32AVX2(xp, x []float32, ldx, rows, k int) {
	const R = gemmRows256
	packCheck(R, len(xp), len(x), ldx, rows, k)
	if rows == 0 {
		clear(xp[:k*R])
		return
	}
	// Blocks of 8 columns by transposing 8×8 tiles; the rest a column at a time.
	kb := k &^ 7
	if kb > 0 {
		for g := 0; g < R; g += 8 {
			var off [8]int // rows not present read row 0, then are zeroed
			var mask [8]int32
			for r := range 8 {
				if g+r < rows {
					off[r] = (g + r) * ldx
					mask[r] = -1
				}
			}
			packF32x8(&xp[g], &x[0], &off, &mask, kb/8)
		}
	}
	for p := kb; p < k; p++ {
		col := xp[p*R : (p+1)*R]
		for i := range rows {
			col[i] = x[i*ldx+p]
		}
		clear(col[rows:])
	}
}

// gemmF32x48x8 is gemmF32Generic(48) on the first elements of its slices, for k ≥ 1 and
// 1 ≤ nw ≤ 8:
//
//	for j := range nw {
//		for i := range 48 {
//			s := float32(0)
//			if acc {
//				s = tile[j*48+i]
//			}
//			for p := range k {
//				s += xp[p*48+i] * w[j*ldw+p]
//			}
//			tile[j*48+i] = s
//		}
//	}
//
//go:noescape
func gemmF32x48x8(tile, xp, w *float32, ldw, k, nw int, acc bool)

// gemmBF16x48x8 is gemmBF16Generic(48) on the first elements of its slices, for even k ≥ 2
// and 1 ≤ nw ≤ 8 (bf16(u) = BF16ToFloat32(u); VDPBF16PS sums each pair before adding it):
//
//	for j := range nw {
//		for i := range 48 {
//			s := float32(0)
//			if acc {
//				s = tile[j*48+i]
//			}
//			for p := 0; p < k; p += 2 {
//				s += bf16(xp[p*48+2*i])*bf16(w[j*ldw+p]) + bf16(xp[p*48+2*i+1])*bf16(w[j*ldw+p+1])
//			}
//			tile[j*48+i] = s
//		}
//	}
//
//go:noescape
func gemmBF16x48x8(tile *float32, xp, w *uint16, ldw, k, nw int, acc bool)

// gemmF32x24x4 is gemmF32Generic(24) on the first elements of its slices, for k ≥ 1 and
// 1 ≤ nw ≤ 4: gemmF32x48x8's loop with 24 for 48.
//
//go:noescape
func gemmF32x24x4(tile, xp, w *float32, ldw, k, nw int, acc bool)

// packF32x16 packs 16 rows of a panel of 48 for the first 16·nb columns: row r is
// x[off[r]:], present if mask has bit r (else zero), and for p < 16·nb
//
//	for r := range 16 {
//		xp[p*48+r] = 0
//		if mask>>r&1 != 0 {
//			xp[p*48+r] = x[off[r]+p]
//		}
//	}
//
//go:noescape
func packF32x16(xp, x *float32, off *[16]int, mask uint16, nb int)

// packBF16x16 packs 16 rows of a panel of 48 for the first 16·nb columns: row r is
// x[off[r]:], present if mask has bit r (else zero), and for even p < 16·nb
//
//	for r := range 16 {
//		xp[p*48+2*r], xp[p*48+2*r+1] = 0, 0
//		if mask>>r&1 != 0 {
//			xp[p*48+2*r] = Float32ToBF16(x[off[r]+p])
//			xp[p*48+2*r+1] = Float32ToBF16(x[off[r]+p+1])
//		}
//	}
//
//go:noescape
func packBF16x16(xp *uint16, x *float32, off *[16]int, mask uint16, nb int)

// packF32x8 packs 8 rows of a panel of 24 for the first 8·nb columns: row r is
// x[off[r]:], present if mask[r] is -1 (else zero), and for p < 8·nb
//
//	for r := range 8 {
//		xp[p*24+r] = 0
//		if mask[r] != 0 {
//			xp[p*24+r] = x[off[r]+p]
//		}
//	}
//
//go:noescape
func packF32x8(xp, x *float32, off *[8]int, mask *[8]int32, nb int)
