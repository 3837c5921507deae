package openai

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/nemotron"
)

type choiceJSON struct {
	Index        int           `json:"index"`
	Text         string        `json:"text"`
	Logprobs     *logprobsJSON `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

// logprobsJSON is OpenAI's legacy completions logprobs. With echo the prompt's tokens come
// first, the first of them with null log-probability and alternatives: lm-evaluation-harness
// sums token_logprobs[ctxlen:-1] and calls the continuation greedy when each token's
// log-probability equals the largest value of its top_logprobs.
type logprobsJSON struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []*float64           `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completionJSON struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []choiceJSON `json:"choices"`
	Usage   *usageJSON   `json:"usage"`
}

// choice is one sequence of a request: prompt p, sample j of n.
type choice struct {
	index  int
	prompt prompt
	opts   minitron.GenerateOptions

	// Results.
	text   strings.Builder
	ids    []int32
	finish string
	lp     *logprobsJSON
	err    error
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) *apiError {
	m, e := s.ready()
	if e != nil {
		return e
	}
	var req completionRequest
	if e := decodeJSON(r, &req); e != nil {
		return e
	}
	c, e := s.check(&req, m)
	if e != nil {
		return e
	}
	release, e := s.admit(len(c.prompts) * c.n)
	if e != nil {
		return e
	}
	defer release()

	seed := c.opts.Seed
	if !c.seeded {
		seed = rand.Uint64() >> 1
	}
	var choices []*choice
	for p, pr := range c.prompts {
		for j := range c.n {
			opts := c.opts
			opts.Seed = seed + uint64(j) // n samples of one prompt differ, each reproducible
			choices = append(choices, &choice{index: p*c.n + j, prompt: pr, opts: opts})
		}
	}
	for _, pr := range c.prompts {
		s.metrics.promptTokens.Add(float64(len(pr.ids)))
	}
	resp := completionJSON{ID: newID(), Object: "text_completion", Created: time.Now().Unix(), Model: s.cfg.ModelName}
	defer func() {
		promptTokens, genTokens := 0, 0
		for _, pr := range c.prompts {
			promptTokens += len(pr.ids)
		}
		for _, ch := range choices {
			genTokens += len(ch.ids)
		}
		logAttrs(r, "id", resp.ID, "choices", len(choices), "prompt_tokens", promptTokens, "completion_tokens", genTokens,
			"stream", c.stream, "echo", c.echo, "logprobs", c.logprobs)
	}()
	if c.stream {
		s.stream(w, r.Context(), m, c, choices, resp)
		return nil
	}

	var wg sync.WaitGroup
	for _, ch := range choices {
		wg.Go(func() { s.run(r.Context(), m, c, ch, nil) })
	}
	wg.Wait()
	if err := r.Context().Err(); err != nil {
		return nil // the client has gone: nobody reads an answer
	}
	usage := &usageJSON{}
	for _, pr := range c.prompts {
		usage.PromptTokens += len(pr.ids)
	}
	for _, ch := range choices {
		if ch.err != nil {
			return fromLibrary(ch.err, "prompt")
		}
		usage.CompletionTokens += len(ch.ids)
		resp.Choices = append(resp.Choices, ch.json(true))
	}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	resp.Usage = usage
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (ch *choice) json(final bool) choiceJSON {
	out := choiceJSON{Index: ch.index, Text: ch.text.String(), Logprobs: ch.lp}
	if final {
		out.FinishReason = &ch.finish
	}
	return out
}

// run generates one choice, calling onText (if not nil) with each piece of its text as it is
// released, then scores it when logprobs are asked for.
func (s *Server) run(ctx context.Context, m *minitron.Model, c *completion, ch *choice, onText func(string)) {
	emit := func(t string) {
		if t == "" {
			return
		}
		ch.text.WriteString(t)
		if onText != nil {
			onText(t)
		}
	}
	if c.echo {
		emit(ch.prompt.text)
	}
	ch.finish = "length"
	if c.maxTokens > 0 {
		start := time.Now()
		var prefix string
		first := true
		res, err := m.GenerateIDs(ctx, ch.prompt.ids, ch.opts, func(t minitron.Token) bool {
			if first {
				first = false
				s.metrics.ttft.Observe(time.Since(start).Seconds())
				prefix = continuationPrefix(m, ch.prompt.ids, t.ID)
			}
			if t.Text != "" {
				emit(prefix + t.Text)
				prefix = ""
			}
			return true
		})
		ch.ids = res.IDs
		s.metrics.genTokens.Add(float64(len(res.IDs)))
		if res.Tokens > 1 && res.Decode > 0 {
			s.metrics.tokensPerSec.Observe(float64(res.Tokens-1) / res.Decode.Seconds())
		}
		if err != nil {
			ch.err = err
			return
		}
		switch res.Stop {
		case nemotron.StopEOS, nemotron.StopString:
			ch.finish = "stop"
		}
	}
	if c.logprobs >= 0 {
		ch.lp, ch.err = s.logprobs(ctx, m, c, ch)
	}
}

// continuationPrefix is what the text of a continuation starting with id begins with when
// decoded after the prompt, and not on its own: SentencePiece drops the leading space of a
// text's first word, which a continuation keeps (" Paris", as OpenAI and vLLM answer).
func continuationPrefix(m *minitron.Model, prompt []int32, id int32) string {
	alone, err := m.Tokenizer.NewDecoder().Next(id)
	if err != nil {
		return ""
	}
	d := m.Tokenizer.NewDecoder()
	for _, p := range prompt {
		d.Next(p)
	}
	if d.Pending() {
		return "" // the prompt ends inside a character: leave the bytes to the decoder
	}
	after, err := d.Next(id)
	if err != nil || !strings.HasSuffix(after, alone) {
		return ""
	}
	prefix := after[:len(after)-len(alone)]
	if strings.TrimSpace(prefix) != "" {
		return ""
	}
	return prefix
}

// logprobs scores the choice's tokens (the prompt's too with echo) in one pass over prompt
// and continuation, as Score computes them: float64 log-softmax, greedy flags and top
// alternatives from the same numbers.
func (s *Server) logprobs(ctx context.Context, m *minitron.Model, c *completion, ch *choice) (*logprobsJSON, error) {
	all := append(append([]int32(nil), ch.prompt.ids...), ch.ids...)
	from := len(ch.prompt.ids)
	if c.echo {
		from = 0
	}
	lp := &logprobsJSON{Tokens: []string{}, TokenLogprobs: []*float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	if from >= len(all) {
		return lp, nil
	}
	select {
	case s.scoring <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	scores, err := m.ScoreIDs(ctx, all, from, minitron.ScoreOptions{Top: c.logprobs})
	<-s.scoring
	if err != nil {
		return nil, err
	}
	// Token strings as the text shows them: one decoder over the whole choice, so that they
	// concatenate to its text (a character split over byte pieces goes with its last piece).
	dec := m.Tokenizer.NewDecoder()
	for _, id := range all[:from] {
		dec.Next(id)
	}
	offset := 0
	for i, sc := range scores {
		text, err := dec.Next(sc.ID)
		if err != nil {
			return nil, err
		}
		if i == len(scores)-1 {
			text += dec.Flush()
		}
		lp.Tokens = append(lp.Tokens, text)
		lp.TextOffset = append(lp.TextOffset, offset)
		offset += utf8.RuneCountInString(text)
		if !sc.Scored {
			lp.TokenLogprobs = append(lp.TokenLogprobs, nil)
			lp.TopLogprobs = append(lp.TopLogprobs, nil)
			continue
		}
		v := sc.Logprob
		lp.TokenLogprobs = append(lp.TokenLogprobs, &v)
		top := make(map[string]float64, len(sc.Top)+1)
		add := func(id int32, l float64) {
			k := tokenKey(m, id)
			if old, ok := top[k]; !ok || l > old {
				top[k] = l // two ids with one spelling: keep the larger, so the maximum stays
			}
		}
		for _, t := range sc.Top {
			add(t.ID, t.Logprob)
		}
		add(sc.ID, sc.Logprob) // the token itself, as vLLM includes it
		lp.TopLogprobs = append(lp.TopLogprobs, top)
	}
	return lp, nil
}

// tokenKey spells a token on its own, for top_logprobs' keys: its piece with SentencePiece's
// ▁ as a space, a byte piece as its character when it is one, and as <0xNN> otherwise.
func tokenKey(m *minitron.Model, id int32) string {
	p := m.Tokenizer.IDToPiece(id)
	if len(p) == 6 && strings.HasPrefix(p, "<0x") && p[5] == '>' {
		var b byte
		if _, err := fmt.Sscanf(p, "<0x%02X>", &b); err == nil && b < utf8.RuneSelf {
			return string(rune(b))
		}
		return p
	}
	return strings.ReplaceAll(p, "\u2581", " ")
}

// stream answers with server-sent events: a chunk per piece of text as it is generated, a
// last chunk per choice with its finish_reason (and its logprobs, when asked), the usage
// when stream_options.include_usage, then "data: [DONE]".
func (s *Server) stream(w http.ResponseWriter, ctx context.Context, m *minitron.Model, c *completion, choices []*choice, resp completionJSON) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	events := make(chan choiceJSON)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	send := func(cj choiceJSON) {
		select {
		case events <- cj:
		case <-ctx.Done():
		}
	}
	var wg sync.WaitGroup
	for _, ch := range choices {
		wg.Go(func() {
			s.run(ctx, m, c, ch, func(t string) { send(choiceJSON{Index: ch.index, Text: t}) })
			if ch.err == nil {
				send(choiceJSON{Index: ch.index, Logprobs: ch.lp, FinishReason: &ch.finish})
			}
		})
	}
	go func() { wg.Wait(); close(events) }()

	write := func(v any) bool {
		b, err := marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	type chunk struct {
		completionJSON
		Usage *usageJSON `json:"usage"`
	}
	alive := true
	for cj := range events {
		if !alive {
			continue
		}
		out := resp
		out.Choices = []choiceJSON{cj}
		if c.usage {
			alive = write(chunk{completionJSON: out}) // "usage": null until the last chunk
		} else {
			alive = write(out)
		}
		if !alive {
			cancel() // the client has gone: stop generating
		}
	}
	if !alive || ctx.Err() != nil {
		return
	}
	for _, ch := range choices {
		if ch.err != nil {
			e := fromLibrary(ch.err, "prompt")
			write(map[string]*apiError{"error": e})
			fmt.Fprint(w, "data: [DONE]\n\n")
			rc.Flush()
			return
		}
	}
	if c.usage {
		u := &usageJSON{}
		for _, pr := range c.prompts {
			u.PromptTokens += len(pr.ids)
		}
		for _, ch := range choices {
			u.CompletionTokens += len(ch.ids)
		}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		out := resp
		out.Choices = []choiceJSON{}
		write(chunk{completionJSON: out, Usage: u})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	rc.Flush()
}

func newID() string {
	var b [12]byte
	crand.Read(b[:])
	return "cmpl-" + hex.EncodeToString(b[:])
}
