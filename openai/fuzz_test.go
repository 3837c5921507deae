package openai

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// FuzzCompletions posts arbitrary bodies to /v1/completions and /tokenize: every answer is
// a success or one of the refusals the API documents, and no handler panics (the recover
// middleware would hide a panic from the client, so the test reads its counter).
func FuzzCompletions(f *testing.F) {
	for _, seed := range []string{
		`{"prompt": "Hello", "max_tokens": 3, "temperature": 0}`,
		`{"prompt": [[2, 380], [2]], "max_tokens": 1, "logprobs": 1, "echo": true}`,
		`{"prompt": ["a", "b"], "n": 2, "stop": ["x"], "max_tokens": 4, "seed": 1, "top_k": 3, "min_p": 0.1}`,
		`{"prompt": "x", "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 2}`,
		`{"prompt": "x", "max_tokens": 0, "echo": true, "logprobs": 5}`,
		`{"prompt": [4095, 0, 1], "max_tokens": 2, "repetition_penalty": 1e300}`,
		`{"prompt": "\xff\xfe", "stop": "\xff"}`,
		`[`, `null`, `{"prompt": null}`, `{"prompt": [[]]}`,
	} {
		f.Add(seed)
	}
	s := New(Config{Logger: quietLogger(), MaxBody: 1 << 14, MaxPending: 8})
	s.SetModel(loadModel(f, "tiny-a"))
	allowed := map[int]bool{200: true, 400: true, 404: true, 413: true, 429: true}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/completions", "/tokenize", "/detokenize"} {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
			if !allowed[rec.Code] {
				t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body)
			}
			if rec.Code != 200 && !strings.Contains(rec.Body.String(), `"error":{"message":`) {
				t.Fatalf("%s %q: status %d without an error object: %s", path, body, rec.Code, rec.Body)
			}
		}
		if n := testutil.ToFloat64(s.metrics.panics); n != 0 {
			t.Fatalf("%q: a handler panicked", body)
		}
	})
}
