package tensor

import "fmt"

// ReadRows4 adds up b as little-endian 64-bit words (wrapping), as StreamSum does, but reads
// it the way the decode kernels (gemv_amd64.s) read a block of weight rows: b is rows of
// rowBytes each, walked four rows at a time, 128 bytes of each of the four per step, and, with
// prefetch, each of the four row streams prefetched 2 KiB ahead (PREFETCHT0), the prefetch
// stream jumping to the next group of four at the end of a row. Rows left over from a
// multiple of four are read one after the other. It only loads, so no kernel that reads the
// same rows can stream them faster: the benchmark's read reference.
//
// rowBytes must be a positive multiple of 8 and len(b) a multiple of rowBytes.
func ReadRows4(b []byte, rowBytes int, prefetch bool) uint64 {
	if rowBytes <= 0 || rowBytes%8 != 0 || len(b)%rowBytes != 0 {
		panic(fmt.Sprintf("tensor: ReadRows4 of %d bytes in rows of %d", len(b), rowBytes))
	}
	groups := len(b) / rowBytes / 4 * 4 * rowBytes
	s := uint64(0)
	if groups > 0 {
		s = readRows4(b[:groups], rowBytes, prefetch)
	}
	return s + StreamSum(b[groups:])
}

// readRows4Generic is ReadRows4 over whole groups of four rows (len(b) a multiple of
// 4·rowBytes) in plain Go, in the same order: four rows at a time, 16 words of each per step.
// Go has no prefetch instruction; the flag is ignored.
func readRows4Generic(b []byte, rowBytes int, _ bool) uint64 {
	words, rw := asU64(b), rowBytes/8
	var s [8]uint64
	for g := 0; g+4*rw <= len(words); g += 4 * rw {
		r0, r1, r2, r3 := words[g:g+rw], words[g+rw:g+2*rw], words[g+2*rw:g+3*rw], words[g+3*rw:g+4*rw]
		i := 0
		for ; i+16 <= rw; i += 16 {
			for j := range 8 {
				s[j] += r0[i+j] + r0[i+8+j] + r1[i+j] + r1[i+8+j] + r2[i+j] + r2[i+8+j] + r3[i+j] + r3[i+8+j]
			}
		}
		for ; i < rw; i++ {
			s[0] += r0[i] + r1[i] + r2[i] + r3[i]
		}
	}
	return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
}
