package nemotron

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// StopReason says why a generation ended.
type StopReason int

const (
	StopEOS         StopReason = iota + 1 // the model produced an end-of-sequence token
	StopMaxTokens                         // the token limit was reached
	StopContextFull                       // prompt and output filled the context
	StopRequested                         // the caller's callback asked to stop
	StopString                            // one of the caller's stop strings appeared
)

func (r StopReason) String() string {
	switch r {
	case StopEOS:
		return "eos"
	case StopMaxTokens:
		return "max tokens"
	case StopContextFull:
		return "context full"
	case StopRequested:
		return "stop requested"
	case StopString:
		return "stop string"
	}
	return fmt.Sprintf("StopReason(%d)", int(r))
}

// GenerateOptions configure a generation.
type GenerateOptions struct {
	Sampling
	// MaxTokens bounds the new tokens; 0 generates until EOS or a full context.
	MaxTokens int
	// EOS lists the ids that end the generation (yielded, then stop); nil means the
	// config's eos_token_id, an empty non-nil slice never stops on a token.
	EOS []int32
	// Lookup, when above 0, decodes by prompt lookup (see Sequence.Draft): each pass checks up
	// to Lookup tokens guessed from the context, at most MaxLookup. The tokens are those of
	// plain decoding, for any sampler; 0 decodes one token a pass.
	Lookup int
}

// Generation reports what a finished generation did.
type Generation struct {
	Stop         StopReason
	PromptTokens int
	Tokens       int // new tokens yielded
	// Drafted and Accepted count the tokens prompt lookup guessed and checked, and those
	// of them that were right (GenerateOptions.Lookup): each accepted one saved a pass.
	Drafted, Accepted int
	Prefill           time.Duration // reading the prompt, up to the first new token's logits
	Decode            time.Duration // every later step
}

// Validate checks the options on their own, as Generate does first: a caller may check them
// before loading a model. Its errors are ErrBadOption.
func (o GenerateOptions) Validate() error {
	if o.MaxTokens < 0 {
		return BadOption("max tokens %d is negative", o.MaxTokens)
	}
	if o.Lookup < 0 || o.Lookup > MaxLookup {
		return BadOption("lookup %d: must be in 0…%d", o.Lookup, MaxLookup)
	}
	if err := o.Sampling.Validate(); err != nil {
		return BadOption("%w", err)
	}
	return nil
}

// Generate continues prompt, calling yield with each new token as soon as it is chosen, and
// last set when the generation ends with it; yield returning false stops the generation.
// Each call owns its KV cache, sized for the prompt and MaxTokens, so one Model serves many
// generations at once. Cancelling ctx stops within one token, returning ctx's error.
//
// Options out of range are ErrBadOption; a prompt that is empty, or that leaves no room for
// a new token or for MaxTokens of them in the context, is ErrBadInput.
func (m *Model) Generate(ctx context.Context, prompt []int32, opts GenerateOptions, yield func(id int32, last bool) bool) (g Generation, err error) {
	g.PromptTokens = len(prompt)
	q, err := m.NewSequence(prompt, opts)
	if err != nil {
		return g, err
	}
	s, err := m.NewState(q.Limit())
	if err != nil {
		return g, err
	}
	defer s.Close()

	// Greedy decoding asks each pass for its next token alone: from a GPU, 4 bytes instead
	// of the logits.
	greedy := q.Greedy()
	var logits []float32
	var next int32
	forward := func(in []int32, want Logits) (err error) {
		if greedy {
			next, err = s.ForwardArgmax(ctx, in)
		} else {
			logits, err = s.Forward(ctx, in, want, nil)
		}
		return err
	}
	start := time.Now()
	if err := forward(prompt, LastLogits); err != nil {
		return g, err
	}
	g.Prefill = time.Since(start)
	start = time.Now()
	defer func() {
		g.Decode = time.Since(start)
		g.Drafted, g.Accepted = q.Lookups()
	}()
	// Each pass feeds the last token chosen and any drafts (Sequence.Draft), and chooses
	// the tokens its logits confirm (Sequence.Accept): one a pass when decoding plainly.
	var chosen, drafts, in []int32
	for {
		if greedy {
			chosen, g.Stop = append(chosen[:0], next), q.Take(next)
		} else {
			chosen, g.Stop = q.Accept(chosen[:0], logits, drafts)
		}
		if len(drafts) > 0 { // the rows of rejected drafts are forgotten, written over next
			if err := s.Truncate(s.Pos() - len(drafts) - 1 + len(chosen)); err != nil {
				return g, err
			}
		}
		for i, id := range chosen {
			g.Tokens++
			end := g.Stop != 0 && i == len(chosen)-1
			if !yield(id, end) && !end {
				g.Stop = StopRequested
				return g, nil
			}
		}
		if g.Stop != 0 {
			return g, nil
		}
		drafts = q.Draft(drafts[:0], MaxLookup)
		in = append(append(in[:0], chosen[len(chosen)-1]), drafts...)
		want := LastLogits
		if len(drafts) > 0 {
			want = AllLogits
		}
		if err := forward(in, want); err != nil {
			return g, err
		}
	}
}

// A Sequence is the decisions of one generation, wherever its logits come from (a State of
// its own, or a step shared with others): the next token, and when to stop.
type Sequence struct {
	opts    GenerateOptions
	sampler *Sampler
	eos     []int32
	// prompt lookup: the drafts verified, those accepted, and how many to guess next
	drafted, accepted, draftLen int
	ids                         []int32 // the prompt, then every token chosen
	prompt                      int
	limit                       int
}

// NewSequence checks a generation as Generate does (ErrBadOption, ErrBadInput, tokens outside
// the vocabulary included) and prepares its sampler.
func (m *Model) NewSequence(prompt []int32, opts GenerateOptions) (*Sequence, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(prompt) == 0 {
		return nil, BadInput("empty prompt")
	}
	for i, id := range prompt {
		if id < 0 || int(id) >= m.Config.VocabSize {
			return nil, BadInput("token %d at index %d is outside the vocabulary of %d", id, i, m.Config.VocabSize)
		}
	}
	limit := m.Config.MaxPositions
	if len(prompt) >= limit {
		return nil, BadInput("a prompt of %d tokens leaves no room in the context of %d", len(prompt), limit)
	}
	if opts.MaxTokens > 0 {
		if len(prompt)+opts.MaxTokens > limit {
			return nil, BadInput("%d new tokens after a prompt of %d exceed the context of %d tokens (at most %d)",
				opts.MaxTokens, len(prompt), limit, limit-len(prompt))
		}
		limit = len(prompt) + opts.MaxTokens
	}
	sampler, err := NewSampler(opts.Sampling)
	if err != nil {
		return nil, err
	}
	eos := opts.EOS
	if eos == nil {
		for _, id := range m.Config.EOS {
			eos = append(eos, int32(id))
		}
	}
	ids := append(make([]int32, 0, limit), prompt...)
	return &Sequence{opts: opts, sampler: sampler, eos: eos, ids: ids, prompt: len(prompt), limit: limit, draftLen: opts.Lookup}, nil
}

// Limit is the most tokens the sequence can reach, prompt included: the KV cache it needs.
func (q *Sequence) Limit() int { return q.limit }

// Prompt is the prompt's tokens.
func (q *Sequence) Prompt() []int32 { return q.ids[:q.prompt] }

// Next chooses the token after logits and says whether the generation ends with it (0 when
// it goes on).
func (q *Sequence) Next(logits []float32) (int32, StopReason) {
	id := q.sampler.Sample(logits, q.ids)
	return id, q.Take(id)
}

// Greedy reports whether the next token is always the largest logit's, so that a pass may
// find it where the logits are (NextToken) instead of returning them: greedy sampling
// without a repetition penalty, and without prompt lookup, whose drafts need every row.
func (q *Sequence) Greedy() bool {
	c := q.sampler.cfg
	return c.Temperature == 0 && (c.RepetitionPenalty == 0 || c.RepetitionPenalty == 1) && q.opts.Lookup == 0
}

// Take is Next for a token chosen already (a NextToken pass's, when Greedy).
func (q *Sequence) Take(id int32) StopReason {
	q.ids = append(q.ids, id)
	switch {
	case slices.Contains(q.eos, id):
		return StopEOS
	case q.opts.MaxTokens > 0 && len(q.ids)-q.prompt >= q.opts.MaxTokens:
		return StopMaxTokens
	case len(q.ids) >= q.limit:
		return StopContextFull
	}
	return 0
}
