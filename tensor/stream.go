package tensor

// StreamSum adds up b as little-endian 64-bit words (wrapping), reading every byte once: a
// measure of how fast this machine streams memory, to set beside the speed at which a
// kernel streams weights. Trailing bytes beyond a multiple of 8 are ignored.
func StreamSum(b []byte) uint64 {
	n := len(b) / 8 * 8
	if n == 0 {
		return 0
	}
	return streamSum(b[:n])
}

func streamSumGeneric(b []byte) uint64 {
	var s [4]uint64
	words := asU64(b)
	i := 0
	for ; i+4 <= len(words); i += 4 {
		s[0] += words[i]
		s[1] += words[i+1]
		s[2] += words[i+2]
		s[3] += words[i+3]
	}
	for ; i < len(words); i++ {
		s[0] += words[i]
	}
	return s[0] + s[1] + s[2] + s[3]
}
