package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/nemotron"
)

// completionRequest is the body of POST /v1/completions. Fields this server has no use for
// are ignored; those it cannot honour are refused by name.
type completionRequest struct {
	Model             string             `json:"model"`
	Prompt            promptField        `json:"prompt"`
	MaxTokens         *int               `json:"max_tokens"`
	Temperature       *float64           `json:"temperature"`
	TopP              *float64           `json:"top_p"`
	TopK              *int               `json:"top_k"`
	MinP              *float64           `json:"min_p"`
	RepetitionPenalty *float64           `json:"repetition_penalty"`
	Seed              *int64             `json:"seed"`
	Stop              stopField          `json:"stop"`
	N                 *int               `json:"n"`
	Echo              bool               `json:"echo"`
	Logprobs          *int               `json:"logprobs"`
	Stream            bool               `json:"stream"`
	StreamOptions     *streamOptions     `json:"stream_options"`
	Suffix            *string            `json:"suffix"`
	BestOf            *int               `json:"best_of"`
	PresencePenalty   *float64           `json:"presence_penalty"`
	FrequencyPenalty  *float64           `json:"frequency_penalty"`
	LogitBias         map[string]float64 `json:"logit_bias"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// promptField is "prompt" in any of its four forms: a string, a list of strings, a list of
// token ids, a list of lists of ids. Each prompt is one or more choices.
type promptField struct {
	set   bool
	texts []string  // text prompts, or
	ids   [][]int64 // token-id prompts
}

func (p *promptField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	p.set = true
	bad := &fieldError{"prompt", "want a string, a list of strings, a list of token ids or a list of lists of token ids"}
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return bad
		}
		p.texts = []string{s}
		return nil
	case len(b) == 0 || b[0] != '[':
		return bad
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return bad
	}
	if len(items) == 0 {
		return &fieldError{"prompt", "empty list"}
	}
	first := bytes.TrimSpace(items[0])
	switch {
	case len(first) > 0 && first[0] == '"':
		if err := json.Unmarshal(b, &p.texts); err != nil {
			return bad
		}
	case len(first) > 0 && first[0] == '[':
		if err := json.Unmarshal(b, &p.ids); err != nil {
			return &fieldError{"prompt", "a list of lists must hold token ids (integers) only"}
		}
	default:
		var ids []int64
		if err := json.Unmarshal(b, &ids); err != nil {
			return &fieldError{"prompt", "a list of token ids must hold integers only"}
		}
		p.ids = [][]int64{ids}
	}
	return nil
}

// stopField is "stop": null, a string or a list of strings.
type stopField []string

func (s *stopField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return &fieldError{"stop", "want a string or a list of strings"}
		}
		*s = []string{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return &fieldError{"stop", "want a string or a list of strings"}
	}
	*s = list
	return nil
}

// A completion is a checked request: what each choice runs.
type completion struct {
	prompts   []prompt
	n         int
	maxTokens int // 0 only with echo: score the prompt, generate nothing
	opts      minitron.GenerateOptions
	seeded    bool
	echo      bool
	logprobs  int // -1: none
	stream    bool
	usage     bool // stream_options.include_usage
}

type prompt struct {
	ids  []int32
	text string // the prompt's text: as given, or the ids decoded
}

// check validates the request against the model, naming the field at fault.
func (s *Server) check(req *completionRequest, m *minitron.Model) (*completion, *apiError) {
	if e := s.checkModel(req.Model); e != nil {
		return nil, e
	}
	c := &completion{n: 1, maxTokens: 16, logprobs: -1, echo: req.Echo, stream: req.Stream}
	switch {
	case !req.Prompt.set:
		return nil, badRequest("prompt", "\"prompt\" is required")
	case req.Suffix != nil && *req.Suffix != "":
		return nil, badRequest("suffix", "suffix (insertion) is not supported")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return nil, badRequest("presence_penalty", "presence_penalty is not supported; use repetition_penalty")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return nil, badRequest("frequency_penalty", "frequency_penalty is not supported; use repetition_penalty")
	case len(req.LogitBias) > 0:
		return nil, badRequest("logit_bias", "logit_bias is not supported")
	case req.StreamOptions != nil && !req.Stream:
		return nil, badRequest("stream_options", "stream_options is only allowed with \"stream\": true")
	}
	if req.N != nil {
		if *req.N < 1 {
			return nil, badRequest("n", "n %d: must be at least 1", *req.N)
		}
		if *req.N > s.cfg.MaxPending {
			return nil, badRequest("n", "n %d: this server admits at most %d sequences at once", *req.N, s.cfg.MaxPending)
		}
		c.n = *req.N
	}
	if req.BestOf != nil && *req.BestOf != c.n {
		return nil, badRequest("best_of", "best_of %d: only best_of equal to n (%d) is supported", *req.BestOf, c.n)
	}
	if req.MaxTokens != nil {
		c.maxTokens = *req.MaxTokens
		switch {
		case c.maxTokens < 0:
			return nil, badRequest("max_tokens", "max_tokens %d: must be at least 0", c.maxTokens)
		case c.maxTokens == 0 && !c.echo:
			return nil, badRequest("max_tokens", "max_tokens 0 generates nothing: give at least 1, or echo the prompt to score it")
		case c.maxTokens > m.Config().MaxPositions:
			return nil, badRequest("max_tokens", "max_tokens %d is more than the model's context of %d tokens", c.maxTokens, m.Config().MaxPositions)
		}
	}
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > s.cfg.MaxLogprobs {
			return nil, badRequest("logprobs", "logprobs %d: must be in 0…%d", *req.Logprobs, s.cfg.MaxLogprobs)
		}
		c.logprobs = *req.Logprobs
	}
	c.usage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage

	// Sampling: OpenAI's defaults (temperature 1, top_p 1), no top-k or min-p unless asked.
	sp := nemotron.Sampling{Temperature: 1, TopP: 1, RepetitionPenalty: 1}
	if v := req.Temperature; v != nil {
		if !(*v >= 0) || math.IsInf(*v, 0) {
			return nil, badRequest("temperature", "temperature %v: must be at least 0", *v)
		}
		sp.Temperature = *v
	}
	if v := req.TopP; v != nil {
		if !(*v > 0 && *v <= 1) {
			return nil, badRequest("top_p", "top_p %v: must be in (0, 1]", *v)
		}
		sp.TopP = *v
	}
	if v := req.TopK; v != nil {
		switch {
		case *v == -1: // vLLM's spelling of "off"
		case *v < 0:
			return nil, badRequest("top_k", "top_k %d: must be at least 0 (or -1 for all)", *v)
		default:
			sp.TopK = *v
		}
	}
	if v := req.MinP; v != nil {
		if !(*v >= 0 && *v <= 1) {
			return nil, badRequest("min_p", "min_p %v: must be in [0, 1]", *v)
		}
		sp.MinP = *v
	}
	if v := req.RepetitionPenalty; v != nil {
		if !(*v > 0) || math.IsInf(*v, 0) {
			return nil, badRequest("repetition_penalty", "repetition_penalty %v: must be greater than 0", *v)
		}
		sp.RepetitionPenalty = *v
	}
	if req.Seed != nil {
		sp.Seed, c.seeded = uint64(*req.Seed), true
	}
	for i, st := range req.Stop {
		if st == "" || !utf8.ValidString(st) {
			return nil, badRequest("stop", "stop string %d (%q): must be non-empty, valid UTF-8", i, st)
		}
	}
	c.opts = minitron.GenerateOptions{Sampling: sp, MaxTokens: c.maxTokens, Stop: req.Stop}
	if err := c.opts.Validate(); err != nil {
		return nil, badRequest("", "%v", err)
	}

	// The prompts: text tokenized as the checkpoint asks (BOS), ids taken as they are.
	ctx := m.Config().MaxPositions
	vocab := m.Config().VocabSize
	for i, t := range req.Prompt.texts {
		if t == "" {
			return nil, badRequest("prompt", "prompt %d is empty", i)
		}
		c.prompts = append(c.prompts, prompt{ids: m.Tokenizer.Encode(t), text: t})
	}
	for i, raw := range req.Prompt.ids {
		ids, e := checkIDs(raw, vocab, "prompt", fmt.Sprintf(" of prompt %d", i))
		if e != nil {
			return nil, e
		}
		if len(ids) == 0 {
			return nil, badRequest("prompt", "prompt %d has no tokens", i)
		}
		text, err := m.Tokenizer.Decode(ids)
		if err != nil {
			return nil, badRequest("prompt", "prompt %d: %v", i, err)
		}
		c.prompts = append(c.prompts, prompt{ids: ids, text: text})
	}
	for i, p := range c.prompts {
		switch {
		case len(p.ids) > ctx:
			return nil, badRequest("prompt", "prompt %d has %d tokens, more than the model's context of %d tokens", i, len(p.ids), ctx)
		case len(p.ids)+c.maxTokens > ctx:
			return nil, badRequest("max_tokens", "prompt %d has %d tokens and max_tokens is %d: %d in all, more than the model's context of %d tokens",
				i, len(p.ids), c.maxTokens, len(p.ids)+c.maxTokens, ctx)
		}
	}
	return c, nil
}

// checkIDs converts token ids, refusing those outside the vocabulary.
func checkIDs(raw []int64, vocab int, param, where string) ([]int32, *apiError) {
	ids := make([]int32, len(raw))
	for j, id := range raw {
		if id < 0 || id >= int64(vocab) {
			return nil, badRequest(param, "token id %d at index %d%s is outside the vocabulary (0…%d)", id, j, where, vocab-1)
		}
		ids[j] = int32(id)
	}
	return ids, nil
}
