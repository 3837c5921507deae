package tensor

import "fmt"

// ReadRows4 adds up b as little-endian 64-bit words (wrapping), as StreamSum does, but reads
// it the way the decode kernels (gemv_amd64.s) read a block of weight rows: b is rows of
// rowBytes each, read as four streams, one per quarter of the rows (row t of each quarter at
// step t), 128 bytes of each of the four per step, and, with prefetch, each stream prefetched
// 2 KiB ahead (PREFETCHT0). Rows left over from a multiple of four are read one after the
// other. It only loads, so no kernel that reads the
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
// 4·rowBytes) in plain Go, in the same order: the four quarters at once, 16 words of each
// per step. Go has no prefetch instruction; the flag is ignored.
func readRows4Generic(b []byte, _ int, _ bool) uint64 {
	words := asU64(b)
	qw := len(words) / 4
	r0, r1, r2, r3 := words[:qw], words[qw:2*qw], words[2*qw:3*qw], words[3*qw:]
	var s [8]uint64
	i := 0
	for ; i+16 <= qw; i += 16 {
		for j := range 8 {
			s[j] += r0[i+j] + r0[i+8+j] + r1[i+j] + r1[i+8+j] + r2[i+j] + r2[i+8+j] + r3[i+j] + r3[i+8+j]
		}
	}
	for ; i < qw; i++ {
		s[0] += r0[i] + r1[i] + r2[i] + r3[i]
	}
	return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
}
