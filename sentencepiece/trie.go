package sentencepiece

// userTrie finds the longest user-defined symbol at the start of a string, as
// sentencepiece's PrefixMatcher does.
type userTrie struct {
	first [256]bool // bytes some symbol starts with, to skip the walk for the rest
	nodes []trieNode
}

type trieNode struct {
	next []trieEdge
	id   int32 // PieceToID of the symbol ending here, or -1
}

type trieEdge struct {
	b    byte
	node int32
}

func (t *userTrie) add(s string, id int32) {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, trieNode{id: -1})
	}
	t.first[s[0]] = true
	n := int32(0)
	for i := 0; i < len(s); i++ {
		child := int32(-1)
		for _, e := range t.nodes[n].next {
			if e.b == s[i] {
				child = e.node
				break
			}
		}
		if child < 0 {
			child = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{id: -1})
			t.nodes[n].next = append(t.nodes[n].next, trieEdge{s[i], child})
		}
		n = child
	}
	t.nodes[n].id = id
}

// longestMatch returns the length and id of the longest symbol that s starts with, or 0, -1.
func longestMatch[S string | []byte](t *userTrie, s S) (int, int32) {
	if len(s) == 0 || !t.first[s[0]] {
		return 0, -1
	}
	best, bestID := 0, int32(-1)
	n := int32(0)
	for i := 0; i < len(s); i++ {
		child := int32(-1)
		for _, e := range t.nodes[n].next {
			if e.b == s[i] {
				child = e.node
				break
			}
		}
		if child < 0 {
			break
		}
		n = child
		if id := t.nodes[n].id; id >= 0 {
			best, bestID = i+1, id
		}
	}
	return best, bestID
}
