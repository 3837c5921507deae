package openai

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// The golden models, loaded once for the package's tests and shared by their servers, as
// one model is shared by a server's requests.
var (
	modelsMu sync.Mutex
	models   = map[string]*minitron.Model{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, mod := range models {
		mod.Close()
	}
	os.Exit(code)
}

func loadModel(t testing.TB, name string) *minitron.Model {
	t.Helper()
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if m, ok := models[name]; ok {
		return m
	}
	m, err := minitron.Load(goldentest.Dir(1, name), minitron.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	models[name] = m
	return m
}

// quietLogger drops request logs unless -v.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newServer serves the golden model name (none when name is "") with cfg.
func newServer(t testing.TB, name string, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.ModelName == "" {
		cfg.ModelName = "golden"
	}
	s := New(cfg)
	if name != "" {
		s.SetModel(loadModel(t, name))
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// call sends body (a string, or a value to encode) and decodes the JSON answer into out
// (when not nil), returning the status.
func call(t testing.TB, method, url string, body any, out any, header ...string) (int, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: status %d, answer %q: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// completion is an answer of /v1/completions as a client decodes it.
type completionAnswer struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int     `json:"index"`
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Logprobs     *struct {
			Tokens        []string             `json:"tokens"`
			TokenLogprobs []*float64           `json:"token_logprobs"`
			TopLogprobs   []map[string]float64 `json:"top_logprobs"`
			TextOffset    []int                `json:"text_offset"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
	} `json:"error"`
}

func complete(t testing.TB, url string, req map[string]any) (int, completionAnswer) {
	t.Helper()
	var a completionAnswer
	code, _ := call(t, http.MethodPost, url+"/v1/completions", req, &a)
	return code, a
}

func ids64(ids []int32) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}
