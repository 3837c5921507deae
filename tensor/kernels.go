package tensor

// The conversions of the active implementation (see Active), for code outside the kernels'
// callers; each kernel is documented on Kernels and specified by its plain-Go version.

// BF16ToF32 widens src into dst (len(dst) >= len(src)).
func BF16ToF32(dst []float32, src []uint16) { Active().BF16ToF32(dst, src) }

// F16ToF32 widens src into dst (len(dst) >= len(src)).
func F16ToF32(dst []float32, src []uint16) { Active().F16ToF32(dst, src) }
