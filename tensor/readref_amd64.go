//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// The assembly twins of readRows4Generic, for len(b) a multiple of 4·rowBytes and rowBytes
// a multiple of 128. The AVX-512 ones read as the AVX-512 decode kernels do (two 64-byte
// loads per row per step); the AVX2 ones as four 32-byte loads. The PF forms prefetch as
// the kernels do, the others not at all.
//
//go:noescape
func readRows4AVX512(b []byte, rowBytes int) uint64

//go:noescape
func readRows4PFAVX512(b []byte, rowBytes int) uint64

//go:noescape
func readRows4AVX2(b []byte, rowBytes int) uint64

//go:noescape
func readRows4PFAVX2(b []byte, rowBytes int) uint64

func readRows4(b []byte, rowBytes int, prefetch bool) uint64 {
	if rowBytes%128 != 0 {
		return readRows4Generic(b, rowBytes, prefetch)
	}
	switch {
	case cpu.X86.HasAVX512F && prefetch:
		return readRows4PFAVX512(b, rowBytes)
	case cpu.X86.HasAVX512F:
		return readRows4AVX512(b, rowBytes)
	case cpu.X86.HasAVX2 && prefetch:
		return readRows4PFAVX2(b, rowBytes)
	case cpu.X86.HasAVX2:
		return readRows4AVX2(b, rowBytes)
	}
	return readRows4Generic(b, rowBytes, prefetch)
}

// readRows4Impls are the implementations this CPU runs, by name, for the tests.
func readRows4Impls() map[string]func([]byte, int) uint64 {
	m := map[string]func([]byte, int) uint64{}
	if cpu.X86.HasAVX2 {
		m["avx2"], m["avx2-pf"] = readRows4AVX2, readRows4PFAVX2
	}
	if cpu.X86.HasAVX512F {
		m["avx512"], m["avx512-pf"] = readRows4AVX512, readRows4PFAVX512
	}
	return m
}
