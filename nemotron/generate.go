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
}

// Generation reports what a finished generation did.
type Generation struct {
	Stop         StopReason
	PromptTokens int
	Tokens       int           // new tokens yielded
	Prefill      time.Duration // reading the prompt, up to the first new token's logits
	Decode       time.Duration // every later step
}

// Validate checks the options on their own, as Generate does first: a caller may check them
// before loading a model. Its errors are ErrBadOption.
func (o GenerateOptions) Validate() error {
	if o.MaxTokens < 0 {
		return BadOption("max tokens %d is negative", o.MaxTokens)
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

	start := time.Now()
	logits, err := s.Forward(ctx, prompt, LastLogits, nil)
	if err != nil {
		return g, err
	}
	g.Prefill = time.Since(start)
	start = time.Now()
	defer func() { g.Decode = time.Since(start) }()
	for {
		id, stop := q.Next(logits)
		g.Tokens++
		g.Stop = stop
		if !yield(id, g.Stop != 0) && g.Stop == 0 {
			g.Stop = StopRequested
		}
		if g.Stop != 0 {
			return g, nil
		}
		if logits, err = s.Forward(ctx, []int32{id}, LastLogits, nil); err != nil {
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
	ids     []int32 // the prompt, then every token chosen
	prompt  int
	limit   int
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
	return &Sequence{opts: opts, sampler: sampler, eos: eos, ids: ids, prompt: len(prompt), limit: limit}, nil
}

// Limit is the most tokens the sequence can reach, prompt included: the KV cache it needs.
func (q *Sequence) Limit() int { return q.limit }

// Prompt is the prompt's tokens.
func (q *Sequence) Prompt() []int32 { return q.ids[:q.prompt] }

// Next chooses the token after logits and says whether the generation ends with it (0 when
// it goes on).
func (q *Sequence) Next(logits []float32) (int32, StopReason) {
	id := q.sampler.Sample(logits, q.ids)
	q.ids = append(q.ids, id)
	switch {
	case slices.Contains(q.eos, id):
		return id, StopEOS
	case q.opts.MaxTokens > 0 && len(q.ids)-q.prompt >= q.opts.MaxTokens:
		return id, StopMaxTokens
	case len(q.ids) >= q.limit:
		return id, StopContextFull
	}
	return id, 0
}
