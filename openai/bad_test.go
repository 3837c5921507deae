package openai

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBadInput: every malformed or out-of-range request is answered with the status and an
// OpenAI-style error naming the field at fault, and the server goes on serving.
func TestBadInput(t *testing.T) {
	s, ts := newServer(t, "tiny-a", Config{MaxBody: 1 << 16, MaxLogprobs: 5})
	long := make([]int64, 600)
	for i := range long {
		long[i] = 300
	}
	for _, tc := range []struct {
		name   string
		body   string
		status int
		param  string // "" for null
		msg    string // in the message
	}{
		{"malformed JSON", `{"prompt": "x"`, 400, "", "malformed JSON"},
		{"not an object", `[1, 2]`, 400, "", "want"},
		{"empty body", ``, 400, "", "empty request body"},
		{"trailing data", `{"prompt": "x"} {}`, 400, "", "after the JSON object"},
		{"no prompt", `{"max_tokens": 2}`, 400, "prompt", "required"},
		{"prompt a number", `{"prompt": 5}`, 400, "prompt", "want a string"},
		{"prompt an object", `{"prompt": {"a": 1}}`, 400, "prompt", "want a string"},
		{"prompt empty list", `{"prompt": []}`, 400, "prompt", "empty list"},
		{"prompt mixed list", `{"prompt": ["a", 1]}`, 400, "prompt", "want a string"},
		{"prompt ids and text", `{"prompt": [1, "a"]}`, 400, "prompt", "integers only"},
		{"prompt float id", `{"prompt": [1, 2.5]}`, 400, "prompt", "integers only"},
		{"prompt nested mixed", `{"prompt": [[1], ["a"]]}`, 400, "prompt", "token ids"},
		{"prompt empty string", `{"prompt": ""}`, 400, "prompt", "empty"},
		{"prompt empty ids", `{"prompt": [[]]}`, 400, "prompt", "no tokens"},
		{"id outside vocabulary", `{"prompt": [2, 4096]}`, 400, "prompt", "outside the vocabulary"},
		{"negative id", `{"prompt": [[2, -1]]}`, 400, "prompt", "outside the vocabulary"},
		{"prompt over context", `{"prompt": ` + jsonOf(long) + `}`, 400, "prompt", "600 tokens, more than the model's context of 512"},
		{"prompt and max_tokens over context", `{"prompt": [2, 380], "max_tokens": 511}`, 400, "max_tokens", "2 tokens and max_tokens is 511: 513 in all, more than the model's context of 512"},
		{"max_tokens negative", `{"prompt": "x", "max_tokens": -1}`, 400, "max_tokens", "at least 0"},
		{"max_tokens zero without echo", `{"prompt": "x", "max_tokens": 0}`, 400, "max_tokens", "generates nothing"},
		{"max_tokens a string", `{"prompt": "x", "max_tokens": "a"}`, 400, "max_tokens", "string"},
		{"max_tokens a float", `{"prompt": "x", "max_tokens": 1.5}`, 400, "max_tokens", "number"},
		{"temperature a string", `{"prompt": "x", "temperature": "hot"}`, 400, "temperature", "string"},
		{"temperature negative", `{"prompt": "x", "temperature": -1}`, 400, "temperature", "at least 0"},
		{"top_p zero", `{"prompt": "x", "top_p": 0}`, 400, "top_p", "(0, 1]"},
		{"top_p above 1", `{"prompt": "x", "top_p": 1.5}`, 400, "top_p", "(0, 1]"},
		{"top_k below -1", `{"prompt": "x", "top_k": -2}`, 400, "top_k", "at least 0"},
		{"min_p above 1", `{"prompt": "x", "min_p": 2}`, 400, "min_p", "[0, 1]"},
		{"repetition_penalty zero", `{"prompt": "x", "repetition_penalty": 0}`, 400, "repetition_penalty", "greater than 0"},
		{"seed a string", `{"prompt": "x", "seed": "s"}`, 400, "seed", "string"},
		{"stop a number", `{"prompt": "x", "stop": 5}`, 400, "stop", "string or a list"},
		{"stop list of numbers", `{"prompt": "x", "stop": [5]}`, 400, "stop", "string or a list"},
		{"stop empty string", `{"prompt": "x", "stop": ["a", ""]}`, 400, "stop", "non-empty"},
		{"n zero", `{"prompt": "x", "n": 0}`, 400, "n", "at least 1"},
		{"n a float", `{"prompt": "x", "n": 1.5}`, 400, "n", "number"},
		{"n above the bound", `{"prompt": "x", "n": 1000}`, 400, "n", "at most 256"},
		{"n overflowing prompts × n", `{"prompt": ["x", "y"], "n": 9223372036854775807}`, 400, "n", "at most 256"},
		{"prompts × n above the bound", `{"prompt": ["x", "y", "z"], "n": 100}`, 400, "n", "300 sequences"},
		{"max_tokens beyond any context", `{"prompt": "x", "max_tokens": 9223372036854775807}`, 400, "max_tokens", "more than the model's context of 512"},
		{"max_tokens beyond int64", `{"prompt": "x", "max_tokens": 92233720368547758070}`, 400, "max_tokens", "number"},
		{"echo a string", `{"prompt": "x", "echo": "yes"}`, 400, "echo", "string"},
		{"logprobs true", `{"prompt": "x", "logprobs": true}`, 400, "logprobs", "bool"},
		{"logprobs negative", `{"prompt": "x", "logprobs": -1}`, 400, "logprobs", "0…5"},
		{"logprobs above the maximum", `{"prompt": "x", "logprobs": 6}`, 400, "logprobs", "0…5"},
		{"stream a number", `{"prompt": "x", "stream": 1}`, 400, "stream", "number"},
		{"stream_options without stream", `{"prompt": "x", "stream_options": {"include_usage": true}}`, 400, "stream_options", "only allowed"},
		{"include_usage a string", `{"prompt": "x", "stream": true, "stream_options": {"include_usage": "y"}}`, 400, "stream_options.include_usage", "string"},
		{"suffix", `{"prompt": "x", "suffix": "y"}`, 400, "suffix", "not supported"},
		{"best_of", `{"prompt": "x", "best_of": 3}`, 400, "best_of", "best_of equal to n"},
		{"presence_penalty", `{"prompt": "x", "presence_penalty": 0.5}`, 400, "presence_penalty", "repetition_penalty"},
		{"frequency_penalty", `{"prompt": "x", "frequency_penalty": 0.5}`, 400, "frequency_penalty", "repetition_penalty"},
		{"logit_bias", `{"prompt": "x", "logit_bias": {"5": 1}}`, 400, "logit_bias", "not supported"},
		{"another model", `{"prompt": "x", "model": "gpt-4"}`, 404, "model", "does not exist"},
		{"body too large", `{"prompt": "` + strings.Repeat("a", 1<<16) + `"}`, 413, "", "exceeds the limit of 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a completionAnswer
			code, _ := call(t, http.MethodPost, ts.URL+"/v1/completions", tc.body, &a)
			checkError(t, code, a, tc.status, tc.param, tc.msg)
		})
	}
	// Unknown fields are ignored; null fields take the defaults.
	if code, a := complete(t, ts.URL, map[string]any{"prompt": "x", "max_tokens": 2, "user": "u", "whatever": []int{1}, "stop": nil, "n": nil}); code != 200 {
		t.Errorf("unknown and null fields: %d %+v", code, a.Error)
	}
	if s.Pending() != 0 {
		t.Errorf("%d sequences still admitted", s.Pending())
	}
}

func checkError(t *testing.T, code int, a completionAnswer, status int, param, msg string) {
	t.Helper()
	if code != status || a.Error == nil {
		t.Fatalf("status %d, error %+v; want %d", code, a.Error, status)
	}
	gotParam := ""
	if a.Error.Param != nil {
		gotParam = *a.Error.Param
	}
	if gotParam != param || a.Error.Type == "" || !strings.Contains(a.Error.Message, msg) {
		t.Errorf("error %q (type %q, param %q); want param %q, message with %q", a.Error.Message, a.Error.Type, gotParam, param, msg)
	}
}

func jsonOf(ids []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.TrimSpace(strings.Repeat(" ", 0)) + itoa(id))
	}
	b.WriteByte(']')
	return b.String()
}

func itoa(v int64) string {
	var buf [20]byte
	i := len(buf)
	neg := v < 0
	if neg {
		v = -v
	}
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// TestRoutes: unknown paths are 404, wrong methods 405, both in the error form; chat
// completions name why they are not served.
func TestRoutes(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		param, msg   string
	}{
		{"GET", "/v1/completions", 405, "", "use POST"},
		{"POST", "/v1/models", 405, "", "use GET"},
		{"GET", "/tokenize", 405, "", "use POST"},
		{"GET", "/v2/nothing", 404, "", "no endpoint"},
		{"POST", "/v1/chat/completions", 400, "messages", "no chat template"},
		{"GET", "/v1/models/other", 404, "model", "does not exist"},
	} {
		var a completionAnswer
		code, _ := call(t, tc.method, ts.URL+tc.path, `{"messages": [{"role": "user", "content": "hi"}]}`, &a)
		checkError(t, code, a, tc.status, tc.param, tc.msg)
	}
}

// TestAuth: with an API key, every endpoint but /health and /metrics wants it as a Bearer
// token.
func TestAuth(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{APIKey: "sekrit"})
	for _, tc := range []struct {
		header []string
		status int
	}{
		{nil, 401},
		{[]string{"Authorization", "Bearer wrong"}, 401},
		{[]string{"Authorization", "Bearer sekri"}, 401},
		{[]string{"Authorization", "sekrit"}, 401},
		{[]string{"Authorization", "Basic sekrit"}, 401},
		{[]string{"Authorization", "Bearer sekrit"}, 200},
	} {
		var a completionAnswer
		code, h := call(t, http.MethodPost, ts.URL+"/v1/completions", map[string]any{"prompt": "x", "max_tokens": 1}, &a, tc.header...)
		if code != tc.status {
			t.Errorf("%q: status %d, want %d", tc.header, code, tc.status)
		}
		if code == 401 && (a.Error == nil || a.Error.Type != typeAuth || h.Get("WWW-Authenticate") == "") {
			t.Errorf("%q: %+v", tc.header, a.Error)
		}
		if code, _ := call(t, http.MethodGet, ts.URL+"/v1/models", nil, nil, tc.header...); code != tc.status {
			t.Errorf("/v1/models %q: status %d, want %d", tc.header, code, tc.status)
		}
	}
	for _, p := range []string{"/health", "/metrics"} {
		if code, _ := call(t, http.MethodGet, ts.URL+p, nil, nil); code != 200 {
			t.Errorf("%s without a key: %d", p, code)
		}
	}
}

// TestHealth: 503 while loading (and the API with it), 200 when ready, 503 once draining.
func TestHealth(t *testing.T) {
	s, ts := newServer(t, "", Config{})
	var h map[string]string
	if code, _ := call(t, http.MethodGet, ts.URL+"/health", nil, &h); code != 503 || h["status"] != "loading" {
		t.Errorf("loading: %d %v", code, h)
	}
	var a completionAnswer
	code, hdr := call(t, http.MethodPost, ts.URL+"/v1/completions", map[string]any{"prompt": "x"}, &a)
	checkError(t, code, a, 503, "", "loading")
	if hdr.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	for _, p := range []string{"/tokenizer_info", "/v1/models"} {
		if code, _ := call(t, http.MethodGet, ts.URL+p, nil, nil); code != 503 {
			t.Errorf("%s while loading: %d", p, code)
		}
	}
	s.SetModel(loadModel(t, "tiny-a"))
	if code, _ := call(t, http.MethodGet, ts.URL+"/health", nil, &h); code != 200 || h["status"] != "ok" {
		t.Errorf("ready: %d %v", code, h)
	}
	s.Drain()
	if code, _ := call(t, http.MethodGet, ts.URL+"/health", nil, &h); code != 503 || h["status"] != "draining" {
		t.Errorf("draining: %d %v", code, h)
	}
	if code, _ := complete(t, ts.URL, map[string]any{"prompt": "x", "max_tokens": 1}); code != 200 {
		t.Errorf("a request while draining: %d", code)
	}
}

// TestTokenizerEndpoints: /tokenize, /detokenize and /tokenizer_info in vLLM's form.
func TestTokenizerEndpoints(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	m := loadModel(t, "tiny-a")
	text := "Hello world, this is"
	var tok tokenizeResponse
	if code, _ := call(t, http.MethodPost, ts.URL+"/tokenize", map[string]any{"prompt": text, "add_special_tokens": false}, &tok); code != 200 {
		t.Fatal(code)
	}
	plain := m.Tokenizer.Processor.Encode(text)
	if jsonOf(ids64(tok.Tokens)) != jsonOf(ids64(plain)) || tok.Count != len(plain) || tok.MaxModelLen != 512 || tok.TokenStrs != nil {
		t.Errorf("without special tokens: %+v, want %v", tok, plain)
	}
	call(t, http.MethodPost, ts.URL+"/tokenize", map[string]any{"prompt": text, "return_token_strs": true}, &tok)
	withBOS := m.Tokenizer.Encode(text)
	if jsonOf(ids64(tok.Tokens)) != jsonOf(ids64(withBOS)) || tok.Tokens[0] != m.Tokenizer.BOSID || len(tok.TokenStrs) != len(withBOS) || tok.TokenStrs[0] != "<s>" {
		t.Errorf("with special tokens: %+v, want %v", tok, withBOS)
	}
	var de map[string]string
	if code, _ := call(t, http.MethodPost, ts.URL+"/detokenize", map[string]any{"tokens": withBOS}, &de); code != 200 || de["prompt"] != text {
		t.Errorf("detokenize: %d %q, want %q", code, de["prompt"], text)
	}
	var info map[string]any
	call(t, http.MethodGet, ts.URL+"/tokenizer_info", nil, &info)
	if info["eos_token"] != "</s>" || info["bos_token"] != "<s>" || info["add_bos_token"] != true || info["tokenizer_class"] == nil {
		t.Errorf("tokenizer_info %v", info)
	}
	for _, tc := range []struct {
		path, body string
		param, msg string
	}{
		{"/tokenize", `{}`, "prompt", "required"},
		{"/tokenize", `{"prompt": 5}`, "prompt", "number"},
		{"/tokenize", `{"messages": [{"role": "user"}]}`, "messages", "chat template"},
		{"/tokenize", `{"prompt": "x", "add_special_tokens": "no"}`, "add_special_tokens", "string"},
		{"/detokenize", `{}`, "tokens", "required"},
		{"/detokenize", `{"tokens": [1, 99999]}`, "tokens", "outside the vocabulary"},
		{"/detokenize", `{"tokens": "abc"}`, "tokens", "string"},
		{"/detokenize", `{"tokens": [1], "model": "x"}`, "model", "does not exist"},
	} {
		var a completionAnswer
		code, _ := call(t, http.MethodPost, ts.URL+tc.path, tc.body, &a)
		want := 400
		if tc.param == "model" {
			want = 404
		}
		checkError(t, code, a, want, tc.param, tc.msg)
	}
}

// TestModels: the one model, by list and by id.
func TestModels(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	var list struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}
	call(t, http.MethodGet, ts.URL+"/v1/models", nil, &list)
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "golden" || list.Data[0].Object != "model" || list.Data[0].MaxModelLen != 512 {
		t.Errorf("%+v", list)
	}
	var one modelObject
	if code, _ := call(t, http.MethodGet, ts.URL+"/v1/models/golden", nil, &one); code != 200 || one.ID != "golden" {
		t.Errorf("by id: %d %+v", code, one)
	}
}

// TestMetrics: the counters move with the requests served.
func TestMetrics(t *testing.T) {
	_, ts := newServer(t, "tiny-a", Config{})
	complete(t, ts.URL, map[string]any{"prompt": promptIDs, "max_tokens": 4, "temperature": 0})
	complete(t, ts.URL, map[string]any{"prompt": "x", "max_tokens": -4})
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(raw)
	for _, want := range []string{
		`minitron_http_requests_total{code="200",path="/v1/completions"} 1`,
		`minitron_http_requests_total{code="400",path="/v1/completions"} 1`,
		"minitron_prompt_tokens_total 8", "minitron_generation_tokens_total 4",
		"minitron_time_to_first_token_seconds_count 1", "minitron_sequence_decode_tokens_per_second_count 1",
		"minitron_pending_sequences 0", "minitron_max_pending_sequences 256", "minitron_engine_waiting ",
		"minitron_engine_batch_size ", "minitron_ready 1", `minitron_http_request_duration_seconds_count{path="/v1/completions"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRecover: a handler that panics (a bug: requests are validated before any work) is
// answered 500 in the error form, counted, and the server goes on.
func TestRecover(t *testing.T) {
	s := New(Config{Logger: quietLogger()})
	h := s.recoverer(s.logged(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/completions", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"type":"server_error"`) || testutil.ToFloat64(s.metrics.panics) != 1 {
		t.Errorf("status %d, body %s", rec.Code, rec.Body)
	}
}
