//go:build !purego

package tensor

import "fmt"

func init() {
	override(AVX2, func(k *Kernels) { k.Transpose = transposeAVX2 })
	override(AVX512, func(k *Kernels) { k.Transpose = transposeAVX512 })
}

// transpose8AVX2 transposes one 8×8 block: dst[i·ldd + j] = src[j·lds + i] for i, j < 8.
//
//go:noescape
func transpose8AVX2(dst *float32, ldd int, src *float32, lds int)

// transpose16AVX512 transposes one 16×16 block: dst[i·ldd + j] = src[j·lds + i] for i, j < 16,
// strides in elements, in four rounds of shuffles (32-bit, 64-bit, then two of 128-bit lanes).
//
//go:noescape
func transpose16AVX512(dst *float32, ldd int, src *float32, lds int)

// transposeAVX2 is transposeGeneric with 8×8 blocks in registers.
func transposeAVX2(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	transposeBlocks(dst, ldd, src, lds, rows, cols, 8, transpose8AVX2)
}

// transposeAVX512 is transposeGeneric with 16×16 blocks in registers.
func transposeAVX512(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	transposeBlocks(dst, ldd, src, lds, rows, cols, 16, transpose16AVX512)
}

// transposeBlocks runs block, a b×b transpose, over the whole blocks, and transposeGeneric
// over the ragged edges.
func transposeBlocks(dst []float32, ldd int, src []float32, lds, rows, cols, b int, block func(*float32, int, *float32, int)) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if (rows-1)*ldd+cols > len(dst) || (cols-1)*lds+rows > len(src) {
		panic(fmt.Sprintf("tensor: transpose of %d×%d overruns its slices", rows, cols))
	}
	rb, cb := rows/b*b, cols/b*b
	for i := 0; i < rb; i += b {
		for j := 0; j < cb; j += b {
			block(&dst[i*ldd+j], ldd, &src[j*lds+i], lds)
		}
	}
	// The ragged edges: the columns right of the blocks, then the rows below them.
	if cb < cols {
		transposeGeneric(dst[cb:], ldd, src[cb*lds:], lds, rb, cols-cb)
	}
	if rb < rows {
		transposeGeneric(dst[rb*ldd:], ldd, src[rb:], lds, rows-rb, cols)
	}
}
