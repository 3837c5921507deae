//go:build !purego

package tensor

func init() {
	override(AVX2, func(k *Kernels) { k.Dequantize = dequantizeAVX2 })
}

// dequantizeAVX2 is Dequantize with Q8_0 blocks in assembly: prefill dequantizes every
// weight of a block matrix once a product.
func dequantizeAVX2(dst []float32, dt DType, src []byte) {
	if dt != Q8_0 {
		Dequantize(dst, dt, src)
		return
	}
	if n := checkBlocks(dt, len(dst), len(src)); n > 0 {
		dequantizeQ8_0AVX2(&dst[0], &src[0], n)
	}
}

// dequantizeQ8_0AVX2 is dequantizeQ8_0 over blocks blocks, the products rounded alike (one
// float32 multiply each), so the same bits:
//
//	for i := range blocks {
//		d := f16At(src[34*i:])
//		for j := range 32 {
//			dst[32*i+j] = float32(int8(src[34*i+2+j])) * d
//		}
//	}
//
//go:noescape
func dequantizeQ8_0AVX2(dst *float32, src *byte, blocks int)
