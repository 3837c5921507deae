//go:build !purego

package tensor

func init() {
	supported = func(l Level) bool {
		f := hostCPU().Features
		switch l {
		case Generic:
			return true
		case AVX2:
			return f.AVX2 && f.FMA && f.F16C
		case AVX512:
			return f.AVX512F && f.AVX512BW && f.AVX512DQ && f.AVX512VL
		case AVX512BF16:
			return f.AVX512BF16
		case AMX:
			return amxUsable()
		}
		return false
	}
}

// amxUsable reports whether AMX bf16 tiles can be used; it is replaced by the AMX kernels'
// file, which asks the kernel for permission to use the tile state.
var amxUsable = func() bool { return false }
