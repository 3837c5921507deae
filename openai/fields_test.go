package openai

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var promptIDs = []int64{2, 380, 1554, 318, 1269, 289, 310, 292}

// TestPromptForms: a string, a list of strings, a list of ids and a list of lists, each with
// n choices indexed prompt-major; greedy choices of the same prompt are equal, and the id
// form of a text's tokens answers as the text does.
func TestPromptForms(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	m := loadModel(t, "tiny-a")
	text := "Hello world, this is"
	textIDs := ids64(m.Tokenizer.Encode(text))
	base := map[string]any{"max_tokens": 6, "temperature": 0}
	with := func(kv ...any) map[string]any {
		r := map[string]any{}
		for k, v := range base {
			r[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		return r
	}
	_, one := complete(t, ts.URL, with("prompt", text))
	if len(one.Choices) != 1 || one.Object != "text_completion" || one.Model != "golden" || !strings.HasPrefix(one.ID, "cmpl-") {
		t.Fatalf("%+v", one)
	}
	want := one.Choices[0].Text
	for _, tc := range []struct {
		name    string
		prompt  any
		n       int
		prompts int
	}{
		{"string", text, 1, 1},
		{"strings", []string{text, text, text}, 1, 3},
		{"ids", textIDs, 2, 1},
		{"lists of ids", [][]int64{textIDs, textIDs}, 3, 2},
	} {
		code, a := complete(t, ts.URL, with("prompt", tc.prompt, "n", tc.n))
		if code != 200 {
			t.Fatalf("%s: %d %+v", tc.name, code, a.Error)
		}
		if len(a.Choices) != tc.n*tc.prompts {
			t.Fatalf("%s: %d choices, want %d", tc.name, len(a.Choices), tc.n*tc.prompts)
		}
		for i, ch := range a.Choices {
			if ch.Index != i || ch.Text != want || *ch.FinishReason != "length" || ch.Logprobs != nil {
				t.Errorf("%s: choice %d: index %d text %q finish %s, want %q", tc.name, i, ch.Index, ch.Text, *ch.FinishReason, want)
			}
		}
		u := a.Usage
		if u.PromptTokens != len(textIDs)*tc.prompts || u.CompletionTokens != 6*tc.n*tc.prompts || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
			t.Errorf("%s: usage %+v", tc.name, u)
		}
	}
}

// TestSampling: seeds reproduce, n samples differ from each other, every sampling field is
// taken.
func TestSampling(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	req := map[string]any{"prompt": promptIDs, "max_tokens": 12, "temperature": 1.5, "top_p": 0.95, "top_k": 50,
		"min_p": 0.01, "repetition_penalty": 1.1, "seed": 7, "n": 3}
	_, a := complete(t, ts.URL, req)
	_, b := complete(t, ts.URL, req)
	if len(a.Choices) != 3 {
		t.Fatalf("%+v", a)
	}
	for i := range a.Choices {
		if a.Choices[i].Text != b.Choices[i].Text {
			t.Errorf("choice %d: seed 7 gave %q, then %q", i, a.Choices[i].Text, b.Choices[i].Text)
		}
	}
	if a.Choices[0].Text == a.Choices[1].Text && a.Choices[1].Text == a.Choices[2].Text {
		t.Errorf("n=3 samples all equal: %q", a.Choices[0].Text)
	}
	req["seed"] = 8
	_, c := complete(t, ts.URL, req)
	if c.Choices[0].Text == a.Choices[0].Text && c.Choices[1].Text == a.Choices[1].Text {
		t.Errorf("seeds 7 and 8 gave the same samples")
	}
	req["top_k"] = -1 // vLLM's "all"
	if code, a := complete(t, ts.URL, req); code != 200 {
		t.Errorf("top_k -1: %d %+v", code, a.Error)
	}
}

// TestEchoLogprobs: echo prepends the prompt's text; logprobs lists every token with its
// text, offset and alternatives (logprobs of them, plus the token itself); tokens
// concatenate to the text.
func TestEchoLogprobs(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	m := loadModel(t, "tiny-a")
	text := "Hello world, this is"
	_, plain := complete(t, ts.URL, map[string]any{"prompt": text, "max_tokens": 5, "temperature": 0})
	gen := plain.Choices[0].Text
	for _, tc := range []struct {
		echo     bool
		logprobs any
	}{{true, nil}, {false, 0}, {false, 3}, {true, 0}, {true, 5}} {
		req := map[string]any{"prompt": text, "max_tokens": 5, "temperature": 0, "echo": tc.echo}
		if tc.logprobs != nil {
			req["logprobs"] = tc.logprobs
		}
		code, a := complete(t, ts.URL, req)
		if code != 200 {
			t.Fatalf("%+v: %d %+v", tc, code, a.Error)
		}
		ch := a.Choices[0]
		want := gen
		if tc.echo {
			want = text + gen
		}
		if ch.Text != want {
			t.Errorf("%+v: text %q, want %q", tc, ch.Text, want)
		}
		if tc.logprobs == nil {
			if ch.Logprobs != nil {
				t.Errorf("%+v: logprobs without asking", tc)
			}
			continue
		}
		lp := ch.Logprobs
		n := 5
		if tc.echo {
			n += len(m.Tokenizer.Encode(text))
		}
		if len(lp.Tokens) != n || len(lp.TokenLogprobs) != n || len(lp.TopLogprobs) != n || len(lp.TextOffset) != n {
			t.Fatalf("%+v: %d tokens, %d logprobs, %d tops, %d offsets; want %d", tc, len(lp.Tokens), len(lp.TokenLogprobs), len(lp.TopLogprobs), len(lp.TextOffset), n)
		}
		if got := strings.Join(lp.Tokens, ""); got != ch.Text {
			t.Errorf("%+v: tokens concatenate to %q, text %q", tc, got, ch.Text)
		}
		off := 0
		for i, tok := range lp.Tokens {
			if lp.TextOffset[i] != off {
				t.Errorf("%+v: text_offset[%d] %d, want %d", tc, i, lp.TextOffset[i], off)
			}
			off += utf8.RuneCountInString(tok)
			if tc.echo && i == 0 {
				if lp.TokenLogprobs[0] != nil || lp.TopLogprobs[0] != nil {
					t.Errorf("%+v: first echoed token scored", tc)
				}
				continue
			}
			top := lp.TopLogprobs[i]
			k := tc.logprobs.(int)
			if lp.TokenLogprobs[i] == nil || len(top) < max(k, 1) || len(top) > k+1 {
				t.Fatalf("%+v: position %d: logprob %v, %d alternatives for logprobs %d", tc, i, lp.TokenLogprobs[i], len(top), k)
			}
			if v, ok := top[tokenKey(m, m.Tokenizer.PieceToID(strings.ReplaceAll(tok, " ", "\u2581")))]; ok && v != *lp.TokenLogprobs[i] && tok != "" {
				t.Errorf("%+v: position %d: the token's own entry %v, its logprob %v", tc, i, v, *lp.TokenLogprobs[i])
			}
			for _, v := range top {
				if !(v <= 0) {
					t.Errorf("%+v: logprob %v", tc, v)
				}
			}
		}
	}
	// max_tokens 0 with echo scores the prompt and generates nothing.
	code, a := complete(t, ts.URL, map[string]any{"prompt": text, "max_tokens": 0, "echo": true, "logprobs": 1})
	if code != 200 || a.Choices[0].Text != text || len(a.Choices[0].Logprobs.Tokens) != len(m.Tokenizer.Encode(text)) || a.Usage.CompletionTokens != 0 {
		t.Errorf("max_tokens 0 with echo: %d %+v", code, a)
	}
}

// TestStopAndFinish: a stop string is cut with what follows (finish "stop"); a list of them
// stops at the first; without one the limit ends it (finish "length").
func TestStopAndFinish(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	_, full := complete(t, ts.URL, map[string]any{"prompt": promptIDs, "max_tokens": 30, "temperature": 0})
	text := full.Choices[0].Text
	r := []rune(text)
	if len(r) < 10 {
		t.Fatalf("short text %q", text)
	}
	stop := string(r[5:7])
	want := text[:strings.Index(text, stop)]
	for _, s := range []any{stop, []string{"\u0000x", stop}} {
		_, a := complete(t, ts.URL, map[string]any{"prompt": promptIDs, "max_tokens": 30, "temperature": 0, "stop": s})
		if a.Choices[0].Text != want || *a.Choices[0].FinishReason != "stop" {
			t.Errorf("stop %q: %q (%s), want %q (stop)", s, a.Choices[0].Text, *a.Choices[0].FinishReason, want)
		}
	}
	if *full.Choices[0].FinishReason != "length" {
		t.Errorf("finish %s, want length", *full.Choices[0].FinishReason)
	}
}

// sse reads server-sent events until [DONE], returning the decoded chunks.
func sse(t *testing.T, body io.Reader) (chunks []map[string]json.RawMessage, done bool) {
	t.Helper()
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an event line: %q", line)
		}
		if data == "[DONE]" {
			return chunks, true
		}
		var c map[string]json.RawMessage
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		chunks = append(chunks, c)
	}
	return chunks, false
}

func postStream(t *testing.T, ctx context.Context, url string, req map[string]any) *http.Response {
	t.Helper()
	raw, _ := json.Marshal(req)
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/completions", strings.NewReader(string(raw)))
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestStream: the chunks' texts concatenate to the answer without streaming, per choice;
// each choice ends with its finish_reason; include_usage adds a last chunk with no choices;
// [DONE] ends the stream.
func TestStream(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	for _, usage := range []bool{false, true} {
		req := map[string]any{"prompt": []string{"Hello world", "Once upon"}, "max_tokens": 10, "temperature": 0, "n": 2, "echo": true, "logprobs": 2}
		_, whole := complete(t, ts.URL, req)
		req["stream"] = true
		if usage {
			req["stream_options"] = map[string]any{"include_usage": true}
		}
		resp := postStream(t, context.Background(), ts.URL, req)
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
			t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
		}
		chunks, done := sse(t, resp.Body)
		resp.Body.Close()
		if !done {
			t.Fatal("no [DONE]")
		}
		texts := map[int]string{}
		finish := map[int]string{}
		var gotUsage *usageJSON
		for i, c := range chunks {
			var choices []choiceJSON
			json.Unmarshal(c["choices"], &choices)
			if u, ok := c["usage"]; ok && string(u) != "null" {
				if !usage || i != len(chunks)-1 || len(choices) != 0 {
					t.Errorf("usage in chunk %d of %d: %s", i, len(chunks), c["usage"])
				}
				json.Unmarshal(u, &gotUsage)
			}
			for _, ch := range choices {
				if _, ended := finish[ch.Index]; ended {
					t.Errorf("choice %d: chunk after its finish", ch.Index)
				}
				texts[ch.Index] += ch.Text
				if ch.FinishReason != nil {
					finish[ch.Index] = *ch.FinishReason
					if ch.Logprobs == nil || len(ch.Logprobs.Tokens) == 0 {
						t.Errorf("choice %d: last chunk without logprobs", ch.Index)
					}
				}
			}
		}
		for _, ch := range whole.Choices {
			if texts[ch.Index] != ch.Text || finish[ch.Index] != *ch.FinishReason {
				t.Errorf("choice %d: streamed %q (%s), whole %q (%s)", ch.Index, texts[ch.Index], finish[ch.Index], ch.Text, *ch.FinishReason)
			}
		}
		if usage && (gotUsage == nil || *gotUsage != *whole.Usage) {
			t.Errorf("usage %+v, want %+v", gotUsage, whole.Usage)
		}
	}
}

// TestClientDisconnect: a client that goes away mid-stream cancels its generation, which
// frees its slot long before max_tokens.
func TestClientDisconnect(t *testing.T) {
	s, ts := newServer(t, "small-c", Config{})
	m := loadModel(t, "small-c")
	before := m.Engine().Stats().DecodeTokens
	ctx, cancel := context.WithCancel(context.Background())
	resp := postStream(t, ctx, ts.URL, map[string]any{"prompt": promptIDs, "max_tokens": 500, "temperature": 0, "stop": "\u0000never"})
	sc := bufio.NewScanner(resp.Body)
	sc.Scan() // the first token is out: the generation runs
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Pending() != 0 || m.Engine().Stats().Running != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the client left: %d pending, engine %+v", s.Pending(), m.Engine().Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := m.Engine().Stats().DecodeTokens - before; n >= 500 {
		t.Errorf("%d tokens generated for a client that left after the first", n)
	}
}

// TestQueueFull: with the admitted sequences at the bound, a request is refused with 429
// and Retry-After; one asking more than the bound alone is a 400.
func TestQueueFull(t *testing.T) {
	s, ts := newServer(t, "tiny-a", Config{MaxPending: 2})
	release, e := s.admit(2)
	if e != nil {
		t.Fatal(e)
	}
	var a completionAnswer
	code, h := call(t, http.MethodPost, ts.URL+"/v1/completions", map[string]any{"prompt": "Hi", "max_tokens": 2}, &a)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || a.Error == nil || a.Error.Type != typeRateLimit {
		t.Errorf("full: %d, Retry-After %q, %+v", code, h.Get("Retry-After"), a.Error)
	}
	release()
	if code, a := complete(t, ts.URL, map[string]any{"prompt": "Hi", "max_tokens": 2}); code != 200 {
		t.Errorf("after release: %d %+v", code, a.Error)
	}
	if code, a := complete(t, ts.URL, map[string]any{"prompt": "Hi", "max_tokens": 2, "n": 3}); code != 400 || *a.Error.Param != "n" {
		t.Errorf("n above the bound: %d %+v", code, a.Error)
	}
}
