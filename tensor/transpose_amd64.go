//go:build !purego

package tensor

import "fmt"

func init() {
	override(AVX512, func(k *Kernels) { k.Transpose = transposeAVX512 })
}

// transpose16AVX512 transposes one 16×16 block: dst[i·ldd + j] = src[j·lds + i] for i, j < 16,
// strides in elements, in four rounds of shuffles (32-bit, 64-bit, then two of 128-bit lanes).
//
//go:noescape
func transpose16AVX512(dst *float32, ldd int, src *float32, lds int)

// transposeAVX512 is transposeGeneric with the 16×16 blocks in registers.
func transposeAVX512(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if (rows-1)*ldd+cols > len(dst) || (cols-1)*lds+rows > len(src) {
		panic(fmt.Sprintf("tensor: transpose of %d×%d overruns its slices", rows, cols))
	}
	r16, c16 := rows&^15, cols&^15
	for i := 0; i < r16; i += 16 {
		for j := 0; j < c16; j += 16 {
			transpose16AVX512(&dst[i*ldd+j], ldd, &src[j*lds+i], lds)
		}
	}
	// The ragged edges: the columns right of the blocks, then the rows below them.
	if c16 < cols {
		transposeGeneric(dst[c16:], ldd, src[c16*lds:], lds, r16, cols-c16)
	}
	if r16 < rows {
		transposeGeneric(dst[r16*ldd:], ldd, src[r16:], lds, rows-r16, cols)
	}
}
