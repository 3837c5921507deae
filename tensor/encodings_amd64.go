//go:build !purego

package tensor

// encodingsEntry returns the machine-code address of the table of hand-encoded instructions
// in encodings_amd64.s, for TestEncodings to disassemble (test binaries carry no symbol table
// to find it by name).
func encodingsEntry() uintptr

// vdpbf16psTest runs the hand-encoded VDPBF16PS with three register assignments (Z3 += Z2·Z1,
// Z30 += Z9·Z17, Z5 += Z20·Z8), each on a and b:
//
//	for j := range acc {
//		for i := range 16 {
//			acc[j][i] += BF16ToFloat32(a[2*i+1])*BF16ToFloat32(b[2*i+1]) +
//				BF16ToFloat32(a[2*i])*BF16ToFloat32(b[2*i])
//		}
//	}
//
// with the rounding of VDPBF16PS (subnormal inputs and outputs flushed to zero). For
// TestVDPBF16PS only.
//
//go:noescape
func vdpbf16psTest(acc *[3][16]float32, a, b *[32]uint16)

// vcvtneps2bf16Test rounds src to bf16 through the hand-encoded VCVTNEPS2BF16 with two
// register assignments (Z1 → Y2, Z17 → Y25):
//
//	for j := range dst {
//		for i, f := range src {
//			dst[j][i] = Float32ToBF16(f) // except that subnormal f become ±0
//		}
//	}
//
// For TestVCVTNEPS2BF16 only.
//
//go:noescape
func vcvtneps2bf16Test(dst *[2][16]uint16, src *[16]float32)
