package nemotron

// Prompt lookup: speculative decoding without a draft model. Text that quotes its context
// (code being edited, a document being summarised, a list being continued) repeats runs of
// tokens the sequence already holds, so the tokens that followed an earlier occurrence of
// the sequence's last few tokens are a cheap guess at what comes next. The guesses (drafts)
// run through the network with the token just chosen, in one pass of 1+N rows; where decoding
// is bound by reading the weights that pass costs little more than a pass of one row, and
// every draft the model agrees with is a token gained.
//
// The result is the one plain decoding gives, for any sampler: at each verified row the
// sequence's sampler chooses a token from that row's logits, exactly as it would have after
// decoding the tokens before it one at a time (the same history, the same one random draw
// per token), and the drafts are accepted while they equal the tokens chosen. The token
// chosen at the first mismatch is kept too, so a pass gives 1 to N+1 tokens. The cache rows
// of rejected drafts are forgotten (State.Truncate) and written over by the next pass.
//
// This holds bit for bit when the rows of a verification pass get the same logits as one
// row at a time. On the CPU backend in exact precision every matrix product under 32 rows
// computes each row on its own, and attention under 16 rows does too (above, it runs on the
// panel kernels, which sum in another order): MaxLookup keeps a pass at 15 rows.

// MaxLookup bounds GenerateOptions.Lookup: a verification pass of 1+MaxLookup rows stays
// below the CPU backend's 16-row attention kernels, so its logits are those of decoding the
// same tokens one at a time, bit for bit. More drafts would rarely be accepted anyway.
const MaxLookup = 14

// lookupNGrams are the lengths of the context's tail that a draft is looked up by, longest
// first: a longer match is the better guess, a single token still often finds one.
var lookupNGrams = [...]int{3, 2, 1}

// Draft appends to dst the tokens guessed to follow the sequence (up to n of them, up to
// the length its last passes earned (see Accept), and never more than the sequence can still
// take): those that followed the latest earlier occurrence
// of its last three tokens, else of its last two, else of its last one. It returns dst
// unchanged when the sequence has no such occurrence, or is already decoding plainly
// (GenerateOptions.Lookup 0).
func (q *Sequence) Draft(dst []int32, n int) []int32 {
	ids := q.ids
	// The pass feeds the last token chosen and the drafts, and may choose one token after
	// every one of them: 1+n new tokens must fit in the limit.
	n = min(n, q.draftLen, q.limit-len(ids)-1)
	if q.opts.MaxTokens > 0 {
		n = min(n, q.opts.MaxTokens-(len(ids)-q.prompt)-1)
	}
	if n <= 0 {
		return dst
	}
	for _, g := range lookupNGrams {
		if len(ids) <= g {
			continue
		}
		tail := ids[len(ids)-g:]
		// The latest occurrence ending before the tail's own last token, so that at least
		// one token follows it (which may be part of the tail: a repeating pattern).
		for end := len(ids) - 1; end >= g; end-- {
			if equalIDs(ids[end-g:end], tail) {
				return append(dst, ids[end:min(end+n, len(ids))]...)
			}
		}
	}
	return dst
}

func equalIDs(a, b []int32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Accept chooses tokens from the logits of a verification pass: the pass fed the last token
// chosen and then drafts, and logits holds one row per fed token. Row i's token is chosen as
// Next would choose it; the drafts are accepted while they equal the tokens chosen, and the
// first token that differs from its draft (or follows the last draft) ends the pass. The
// chosen tokens are appended to dst, and the reason the generation ends with the last of
// them is returned (0 when it goes on). The sequence's State holds valid cache rows for
// the first len(tokens) fed tokens only: the caller truncates it to its position before the
// pass plus len(tokens).
func (q *Sequence) Accept(dst []int32, logits []float32, drafts []int32) ([]int32, StopReason) {
	vocab := len(logits) / (len(drafts) + 1)
	for i := 0; ; i++ {
		id, stop := q.Next(logits[i*vocab : (i+1)*vocab])
		dst = append(dst, id)
		if stop != 0 || i == len(drafts) || id != drafts[i] {
			q.drafted += len(drafts)
			q.accepted += i
			// The next guess is longer after a pass that took every draft, shorter after
			// one that did not (transformers' assisted generation, "heuristic"): a row
			// costs something (BenchmarkLookupPass), and text that does not repeat its
			// context wastes fewer of them.
			switch {
			case len(drafts) == 0:
			case i == len(drafts):
				q.draftLen = min(q.opts.Lookup, q.draftLen+2)
			default:
				q.draftLen = max(1, q.draftLen-1)
			}
			return dst, stop
		}
	}
}

// Lookups reports the drafts the sequence has verified so far and how many were accepted.
func (q *Sequence) Lookups() (drafted, accepted int) { return q.drafted, q.accepted }
