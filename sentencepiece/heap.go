package sentencepiece

import "math"

// queued is a candidate merge waiting in the priority queue: the symbol at left with the
// one that follows it. The right symbol is not stored; it is left's next when popped, and
// the pair is stale unless the two still add up to size bytes (bpe_model.cc's test: a
// symbol only grows by absorbing its right neighbour, so a changed pair changes length).
type queued struct {
	key  uint64 // priority: score, then leftmost first (see queueKey)
	size int32  // bytes of the merged piece
	id   int32  // the merged piece
}

// queueKey packs bpe_model.cc's order (higher score first, then lower left index) into one
// integer, larger first: the score's bits made to sort as integers, then ^left.
func queueKey(score float32, left int32) uint64 {
	bits := math.Float32bits(score)
	switch {
	case score == 0:
		bits = 1 << 31 // -0 == +0, as the C++ comparison has it
	case bits>>31 != 0:
		bits = ^bits
	default:
		bits |= 1 << 31
	}
	return uint64(bits)<<32 | uint64(^uint32(left))
}

func (q queued) left() int32 { return int32(^uint32(q.key)) }

// pairHeap is a binary max-heap of queued merges. Written out rather than through
// container/heap to avoid interface calls in the hot loop.
type pairHeap []queued

func (h *pairHeap) reset() { *h = (*h)[:0] }

func (h *pairHeap) push(q queued) {
	s := append(*h, q)
	i := len(s) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if s[parent].key >= q.key {
			break
		}
		s[i] = s[parent]
		i = parent
	}
	s[i] = q
	*h = s
}

func (h *pairHeap) pop() queued {
	s := *h
	top := s[0]
	last := s[len(s)-1]
	s = s[:len(s)-1]
	i := 0
	for {
		c := 2*i + 1
		if c >= len(s) {
			break
		}
		if r := c + 1; r < len(s) && s[r].key > s[c].key {
			c = r
		}
		if s[c].key <= last.key {
			break
		}
		s[i] = s[c]
		i = c
	}
	if len(s) > 0 {
		s[i] = last
	}
	*h = s
	return top
}
