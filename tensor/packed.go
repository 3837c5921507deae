package tensor

import "unsafe"

// Packed bf16 matrices: the layout the CPU backend keeps its bf16 weights in, for two reasons
// measured on the AMD Zen 4 (see bench/README.md):
//
//   - Decoding reads a group of 128 rows as one sequential stream (row-major, a matrix-vector
//     product reads as many streams as it has rows in flight, and one core then streamed
//     17.3–18.3 GB/s against 25.4–25.8 for a plain sequential read; packed, 22.8–25.2).
//   - Every output is one multiply-add chain over k in order, in the matrix-vector kernels
//     (a vector lane per row of w) as in the GEMM (a lane per row of x): decoding, prefill and
//     any batch give an output bit for bit the same value, which is what batch invariance
//     needs.
//
// A packed matrix of m rows and k columns (k even) is ⌈m/128⌉ groups of 128 rows, each k/2
// steps of 128 pairs: element (r, p) of group g = r/128 is at
//
//	((g·k/2 + p/2)·128 + r%128)·2 + p%2
//
// so a step holds columns p, p+1 of the group's 128 rows, each pair one 32-bit word: the
// operand VDPBF16PS multiplies. Rows past m are zero.

// PackedRows is the number of rows of one group of a packed matrix.
const PackedRows = 128

// PackedLen is the number of bf16 elements of a packed m×k matrix.
func PackedLen(m, k int) int { return (m + PackedRows - 1) / PackedRows * PackedRows * k }

// PackBF16 packs the row-major m×k matrix w (k even) into dst, PackedLen(m, k) elements.
func PackBF16(dst, w []uint16, m, k int) {
	if k%2 != 0 {
		panic("tensor: a packed matrix needs an even number of columns")
	}
	dst = dst[:PackedLen(m, k)]
	if len(dst) == 0 {
		return
	}
	w = w[:m*k]
	// A pair of columns is one 32-bit word, in the source as in the group. The group is
	// copied in tiles of 8 rows × 16 words: 8 source lines in, 16 lines of 8 words out, few
	// enough for L1 whatever the rows' stride does to its sets (a tile a row at a time, or a
	// step at a time, missed L1 on every word: 20 ns a pair).
	pairs := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)/2)
	var src []uint32
	if len(w) > 0 {
		src = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(w))), len(w)/2)
	}
	half := k / 2
	for g := 0; g*PackedRows < m; g++ {
		rows := min(PackedRows, m-g*PackedRows)
		grp := pairs[g*PackedRows*half : (g+1)*PackedRows*half]
		base := src[g*PackedRows*half:]
		if rows < PackedRows {
			clear(grp)
		}
		for s0 := 0; s0 < half; s0 += 16 {
			s1 := min(half, s0+16)
			for r0 := 0; r0 < rows; r0 += 8 {
				for r := r0; r < min(rows, r0+8); r++ {
					row := base[r*half+s0 : r*half+s1]
					for j, v := range row {
						grp[(s0+j)*PackedRows+r] = v
					}
				}
			}
		}
	}
}

// UnpackedRow writes row r of the packed m×k matrix w to dst (k values, as bf16).
func UnpackedRow(dst, w []uint16, r, k int) {
	g, i := r/PackedRows, r%PackedRows
	grp := w[g*PackedRows*k:]
	for s := range k / 2 {
		dst[2*s] = grp[(s*PackedRows+i)*2]
		dst[2*s+1] = grp[(s*PackedRows+i)*2+1]
	}
}

// gemvPackedGeneric computes dst[r] = Σ_p w(r, p)·x[p] for whole groups: len(dst) is a
// multiple of PackedRows, group g's steps for x start at w[g·ldg] (ldg = PackedRows·k for a
// whole matrix of k columns; x may be a block of columns, w then starting at its first
// step). Each output is one chain s += w·x over p in order, the chain gemmF32Generic runs
// for a row of x, in the same Go expression, so that both round alike; with acc the chains
// carry on from dst's values.
func gemvPackedGeneric(dst []float32, w []uint16, x []float32, ldg int, acc bool) {
	k := len(x)
	for g := range len(dst) / PackedRows {
		grp := w[g*ldg : g*ldg+PackedRows*k]
		out := dst[g*PackedRows : (g+1)*PackedRows]
		if !acc {
			clear(out)
		}
		for s := range k / 2 {
			step := grp[s*2*PackedRows : (s+1)*2*PackedRows]
			x0, x1 := x[2*s], x[2*s+1]
			for r := range out {
				out[r] += BF16ToFloat32(step[2*r]) * x0
				out[r] += BF16ToFloat32(step[2*r+1]) * x1
			}
		}
	}
}

// gemvPackedFastGeneric is gemvPackedGeneric with x rounded to bf16 (xb), the pair of products
// of a step summed first, as VDPBF16PS sums them.
func gemvPackedFastGeneric(dst []float32, w []uint16, xb []uint16, ldg int, acc bool) {
	k := len(xb)
	for g := range len(dst) / PackedRows {
		grp := w[g*ldg : g*ldg+PackedRows*k]
		out := dst[g*PackedRows : (g+1)*PackedRows]
		if !acc {
			clear(out)
		}
		for s := range k / 2 {
			step := grp[s*2*PackedRows : (s+1)*2*PackedRows]
			x0, x1 := BF16ToFloat32(xb[2*s]), BF16ToFloat32(xb[2*s+1])
			for r := range out {
				out[r] += BF16ToFloat32(step[2*r])*x0 + BF16ToFloat32(step[2*r+1])*x1
			}
		}
	}
}

// unpackF32Generic widens steps of a packed group into dst, column by column:
// dst[p·PackedRows + r] = w(r, p) for p < 2·steps, src holding steps·2·PackedRows elements.
// A GEMM over a group's block then reads row j of w at column p as dst[p·PackedRows + j].
func unpackF32Generic(dst []float32, src []uint16, steps int) {
	unpackF32Panels(PackedRows)(dst, src, steps)
}

// unpackF32Panels returns UnpackF32 for panels of width rows (a divisor of PackedRows): the
// group's rows in blocks of width, each block its k = 2·steps columns in order, a column's
// width rows side by side, so that w(r, p) is at UnpackedIndex(r, p, k). At width PackedRows
// that is unpackF32Generic's layout; at GemmCols a micro-kernel's W is one sequential stream.
func unpackF32Panels(width int) func(dst []float32, src []uint16, steps int) {
	return func(dst []float32, src []uint16, steps int) {
		k := 2 * steps
		for s := range steps {
			step := src[s*2*PackedRows : (s+1)*2*PackedRows]
			for r := range PackedRows {
				at := unpackedIndex(width, r, 2*s, k)
				dst[at] = BF16ToFloat32(step[2*r])
				dst[at+width] = BF16ToFloat32(step[2*r+1])
			}
		}
	}
}

// unpackedIndex is where UnpackF32 in panels of width rows writes w(r, p) of k columns.
func unpackedIndex(width, r, p, k int) int { return r/width*width*k + p*width + r%width }

// UnpackedIndex is where kn.UnpackF32, widening k columns of a group, writes w(r, p):
// GemmF32Cols over rows j0… (j0 a multiple of GemmCols) from column p0 on reads
// dst[UnpackedIndex(j0, p0, k):] with ldp = UnpackWidth.
func (kn *Kernels) UnpackedIndex(r, p, k int) int {
	return unpackedIndex(kn.UnpackWidth, r, p, k)
}

// gemmF32ColsGeneric is GemmF32 over w stored by columns: tile[j·R+i] = Σ_p xp[p·R+i]·w[p·ldp+j]
// (the layout UnpackF32 writes, from UnpackedIndex(j0, 0, k) with ldp = UnpackWidth).
func gemmF32ColsGeneric(R int) func(tile, xp, w []float32, ldp, k, nw int, acc bool) {
	return func(tile, xp, w []float32, ldp, k, nw int, acc bool) {
		for j := range nw {
			out := tile[j*R : (j+1)*R]
			if !acc {
				clear(out)
			}
			for p := range k {
				axpyGeneric(w[p*ldp+j], xp[p*R:(p+1)*R], out)
			}
		}
	}
}

// gemmBF16ColsGeneric is GemmBF16 over the pairs of a packed group: pair (j, p/2) of W, its
// columns p and p+1, at w[(p/2·ldp + j)·2] (ldp = PackedRows for a group read in place).
func gemmBF16ColsGeneric(R int) func(tile []float32, xp []uint16, w []uint16, ldp, k, nw int, acc bool) {
	return func(tile []float32, xp []uint16, w []uint16, ldp, k, nw int, acc bool) {
		for j := range nw {
			out := tile[j*R : (j+1)*R]
			if !acc {
				clear(out)
			}
			for p := 0; p < k; p += 2 {
				q := (p/2*ldp + j) * 2
				w0, w1 := BF16ToFloat32(w[q]), BF16ToFloat32(w[q+1])
				pair := xp[p*R : (p+2)*R]
				for i := range R {
					out[i] += BF16ToFloat32(pair[2*i])*w0 + BF16ToFloat32(pair[2*i+1])*w1
				}
			}
		}
	}
}
