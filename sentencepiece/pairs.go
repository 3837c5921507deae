package sentencepiece

// pairTable is an open-addressing hash map from a pair of merge ids to the merged id. A slot
// holds key and value together, so that a lookup, in a table of megabytes for a large
// vocabulary, costs one cache miss.
type pairTable struct {
	slots []pairSlot
	shift uint
}

type pairSlot struct{ l, r, id int32 } // l == -1: free

func (t *pairTable) init(n int) {
	size, bits := 8, uint(3)
	for size < 2*n {
		size *= 2
		bits++
	}
	t.slots = make([]pairSlot, size)
	for i := range t.slots {
		t.slots[i].l = -1
	}
	t.shift = 64 - bits
}

func (t *pairTable) slot(l, r int32) int {
	key := uint64(uint32(l))<<32 | uint64(uint32(r))
	return int((key * 0x9E3779B97F4A7C15) >> t.shift) // Fibonacci hashing
}

func (t *pairTable) put(l, r, id int32) {
	mask := len(t.slots) - 1
	for i := t.slot(l, r); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.l < 0 || (s.l == l && s.r == r) {
			*s = pairSlot{l, r, id}
			return
		}
	}
}

func (t *pairTable) get(l, r int32) int32 {
	mask := len(t.slots) - 1
	for i := t.slot(l, r); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.l == l && s.r == r {
			return s.id
		}
		if s.l < 0 {
			return -1
		}
	}
}
