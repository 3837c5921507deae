// Package openai serves a minitron.Model over HTTP in the form OpenAI's completions API and
// vLLM's tokenizer endpoints have, so that OpenAI client libraries and lm-evaluation-harness's
// local-completions model can drive it. It is a thin layer: generation, stop strings, stop
// reasons, log-probabilities and cancellation come from package minitron; this package
// parses and checks requests, admits them, and writes the answers, metrics and logs.
package openai

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minitron-go/minitron"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server. The zero value takes the defaults.
type Config struct {
	// ModelName is the name /v1/models lists and requests may give as "model"; a request
	// naming another model is refused (404). Empty means "minitron".
	ModelName string
	// APIKey, when set, is required as "Authorization: Bearer KEY" on every endpoint but
	// /health and /metrics (which probes and scrapers reach without it).
	APIKey string
	// MaxPending bounds the sequences (prompts × n) admitted at once, running or waiting in
	// the engine; a request that would exceed it is answered 429 with Retry-After.
	// 0 means DefaultMaxPending.
	MaxPending int
	// MaxBody bounds a request body in bytes (413 beyond); 0 means DefaultMaxBody.
	MaxBody int64
	// MaxLogprobs bounds "logprobs" (the alternatives per position); 0 means DefaultMaxLogprobs.
	MaxLogprobs int
	// MaxScoring bounds the log-probability passes run at once (echo and logprobs score
	// prompt and continuation in a State of their own, beside the engine: each holds a KV
	// cache for its tokens); others wait their turn. 0 means DefaultMaxScoring.
	MaxScoring int
	// Logger receives one record per request; nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the server's metrics, served on /metrics; nil means a new one.
	Registry *prometheus.Registry
}

// Defaults of Config.
const (
	DefaultMaxPending  = 256
	DefaultMaxBody     = 8 << 20
	DefaultMaxLogprobs = 20
	DefaultMaxScoring  = 4
)

// A Server is the HTTP face of one model. It answers /health with 503 until SetModel is
// called, and again once Drain is; it is safe for concurrent use.
type Server struct {
	cfg      Config
	model    atomic.Pointer[minitron.Model]
	chatTmpl atomic.Bool // the checkpoint's tokenizer_config.json has a chat_template
	draining atomic.Bool
	keyHash  [sha256.Size]byte
	metrics  *metrics
	handler  http.Handler
	scoring  chan struct{} // a slot per scoring pass under way

	mu      sync.Mutex
	pending int // sequences admitted and not yet finished
}

// New returns a server with no model yet: /health answers 503 until SetModel.
func New(cfg Config) *Server {
	if cfg.ModelName == "" {
		cfg.ModelName = "minitron"
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxLogprobs <= 0 {
		cfg.MaxLogprobs = DefaultMaxLogprobs
	}
	if cfg.MaxScoring <= 0 {
		cfg.MaxScoring = DefaultMaxScoring
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, scoring: make(chan struct{}, cfg.MaxScoring)}
	// Comparing hashes keeps the comparison constant-time in the key's length too.
	s.keyHash = sha256.Sum256([]byte(cfg.APIKey))
	s.metrics = newMetrics(cfg.Registry, s)

	mux := http.NewServeMux()
	mux.Handle("/v1/completions", s.route(http.MethodPost, s.completions))
	mux.Handle("/v1/chat/completions", s.route(http.MethodPost, s.chat))
	mux.Handle("/v1/models", s.route(http.MethodGet, s.models))
	mux.Handle("/v1/models/{id...}", s.route(http.MethodGet, s.modelByID))
	mux.Handle("/tokenize", s.route(http.MethodPost, s.tokenize))
	mux.Handle("/detokenize", s.route(http.MethodPost, s.detokenize))
	mux.Handle("/tokenizer_info", s.route(http.MethodGet, s.tokenizerInfo))
	mux.Handle("/health", http.HandlerFunc(s.health))
	mux.Handle("/metrics", s.metrics.handler())
	mux.Handle("/", s.route("", func(w http.ResponseWriter, r *http.Request) *apiError {
		return &apiError{Status: http.StatusNotFound, Type: typeNotFound, Message: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)}
	}))
	s.handler = s.recoverer(s.logged(s.authorized(mux)))
	return s
}

// SetModel makes the server ready: it serves m from now on. The server never closes m.
func (s *Server) SetModel(m *minitron.Model) {
	s.chatTmpl.Store(hasChatTemplate(m.Dir))
	s.model.Store(m)
}

// Drain marks the server as shutting down: /health answers 503, so that a load balancer
// sends no more requests, while the requests under way (and any still arriving) are served.
// Stopping the listener and waiting for them is http.Server.Shutdown's.
func (s *Server) Drain() { s.draining.Store(true) }

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// ServeHTTP makes the Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Pending is the number of sequences admitted and not yet finished.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// admit reserves k sequence slots, or refuses: 400 when k alone exceeds the bound, 429 when
// the slots are taken now. The returned func releases them.
func (s *Server) admit(k int) (func(), *apiError) {
	if k > s.cfg.MaxPending {
		return nil, badRequest("n", "the request asks for %d sequences (prompts × n); this server admits at most %d at once", k, s.cfg.MaxPending)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending+k > s.cfg.MaxPending {
		s.metrics.rejected.Inc()
		return nil, &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit, RetryAfter: 1,
			Message: fmt.Sprintf("server busy: %d of %d sequences admitted; retry later", s.pending, s.cfg.MaxPending)}
	}
	s.pending += k
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.pending -= k
			s.mu.Unlock()
		})
	}, nil
}

// ready returns the model, or 503 while it loads.
func (s *Server) ready() (*minitron.Model, *apiError) {
	m := s.model.Load()
	if m == nil {
		return nil, &apiError{Status: http.StatusServiceUnavailable, Type: typeLoading, RetryAfter: 5, Message: "the model is still loading"}
	}
	return m, nil
}

// checkModel refuses a request naming a model other than the one served.
func (s *Server) checkModel(name string) *apiError {
	if name != "" && name != s.cfg.ModelName {
		return &apiError{Status: http.StatusNotFound, Type: typeNotFound, Param: ptr("model"), Code: ptr("model_not_found"),
			Message: fmt.Sprintf("the model %q does not exist; this server serves %q", name, s.cfg.ModelName)}
	}
	return nil
}

// route adapts a handler that returns an error to http.Handler, answering a wrong method with
// 405 in the API's error form (method "" accepts any).
func (s *Server) route(method string, h func(http.ResponseWriter, *http.Request) *apiError) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if method != "" && r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalid,
				Message: fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		if e := h(w, r); e != nil {
			writeError(w, e)
		}
	})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.model.Load() == nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
	case s.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// authorized requires the API key, when one is set, on everything but /health and /metrics.
func (s *Server) authorized(next http.Handler) http.Handler {
	if s.cfg.APIKey == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" || r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		h := sha256.Sum256([]byte(key))
		if subtle.ConstantTimeCompare(h[:], s.keyHash[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="minitron"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Type: typeAuth, Code: ptr("invalid_api_key"),
				Message: "missing or wrong API key: send Authorization: Bearer KEY"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer answers 500 if a handler panics, as a last resort: requests are validated, so a
// panic is a bug, logged with its stack.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			s.cfg.Logger.Error("panic", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.metrics.panics.Inc()
			if rec, ok := w.(*recorder); !ok || rec.status == 0 {
				writeError(w, &apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logged writes one log record and the request metrics for each request.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		info := &logInfo{}
		r = r.WithContext(context.WithValue(r.Context(), logInfoKey{}, info))
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		d := time.Since(start)
		path := endpointLabel(r.URL.Path)
		s.metrics.requests.WithLabelValues(path, fmt.Sprint(status)).Inc()
		s.metrics.duration.WithLabelValues(path).Observe(d.Seconds())
		level := slog.LevelInfo
		if r.URL.Path == "/health" || r.URL.Path == "/metrics" {
			level = slog.LevelDebug
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "bytes", rec.bytes,
			"duration_ms", float64(d.Microseconds()) / 1000, "remote", r.RemoteAddr}
		info.mu.Lock()
		attrs = append(attrs, info.attrs...)
		info.mu.Unlock()
		if r.Context().Err() != nil {
			attrs = append(attrs, "client_gone", true)
		}
		s.cfg.Logger.Log(r.Context(), level, "request", attrs...)
	})
}

// logInfo collects what a handler adds to its request's log record.
type logInfo struct {
	mu    sync.Mutex
	attrs []any
}

type logInfoKey struct{}

// logAttrs adds key-value pairs to the request's log record.
func logAttrs(r *http.Request, kv ...any) {
	if info, ok := r.Context().Value(logInfoKey{}).(*logInfo); ok {
		info.mu.Lock()
		info.attrs = append(info.attrs, kv...)
		info.mu.Unlock()
	}
}

// endpointLabel keeps the metrics' path label to the endpoints served.
func endpointLabel(p string) string {
	switch p {
	case "/v1/completions", "/v1/chat/completions", "/v1/models", "/tokenize", "/detokenize", "/tokenizer_info", "/health", "/metrics":
		return p
	}
	if strings.HasPrefix(p, "/v1/models/") {
		return "/v1/models/{id}"
	}
	return "other"
}

// recorder notes the status and size of a response; it passes Flush on (server-sent events).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// hasChatTemplate reports whether dir's tokenizer_config.json has a chat_template.
func hasChatTemplate(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return false
	}
	var tc struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	return json.Unmarshal(b, &tc) == nil && len(tc.ChatTemplate) > 0 && string(tc.ChatTemplate) != "null"
}
