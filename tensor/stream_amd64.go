//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// streamSumAVX2 is streamSumGeneric over len(b) bytes, len(b) a multiple of 8, 128 bytes
// per iteration in four 256-bit accumulators.
//
//go:noescape
func streamSumAVX2(b []byte) uint64

func streamSum(b []byte) uint64 {
	if cpu.X86.HasAVX2 {
		return streamSumAVX2(b)
	}
	return streamSumGeneric(b)
}
