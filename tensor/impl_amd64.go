//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

func init() {
	supported = func(l Level) bool {
		x := cpu.X86
		switch l {
		case Generic:
			return true
		case AVX2:
			return x.HasAVX2 && x.HasFMA && x.HasF16C
		case AVX512:
			return x.HasAVX512F && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL
		case AVX512BF16:
			return x.HasAVX512BF16
		case AMX:
			return amxUsable()
		}
		return false
	}
}

// amxUsable reports whether AMX bf16 tiles can be used; it is replaced by the AMX kernels'
// file, which asks the kernel for permission to use the tile state.
var amxUsable = func() bool { return false }
