package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/openai"
)

func init() {
	commands["serve"] = command{
		summary: "serve the model over HTTP: OpenAI completions, tokenizer endpoints, health, metrics",
		run:     runServe,
	}
}

const serveUsage = `serve -model DIR|ORG/NAME [-addr 127.0.0.1:8080] [flags]

Serves POST /v1/completions (OpenAI's legacy completions, with echo and logprobs as
lm-evaluation-harness reads them), GET /v1/models, POST /tokenize, POST /detokenize,
GET /tokenizer_info, GET /health (503 while loading or draining) and GET /metrics
(Prometheus). Every flag may also be set by an environment variable: MINITRON_ and the
flag's name in capitals, - as _ (MINITRON_API_KEY, MINITRON_MAX_PENDING); a flag given on
the command line wins. SIGTERM or SIGINT stops accepting connections and waits up to
-shutdown-timeout for the requests under way.`

// serveListening, when set (by tests), is told the address serve listens on.
var serveListening func(addr string)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveUsage, stderr)
	var mf modelFlags
	mf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on (0.0.0.0:8080 for every interface)")
	name := fs.String("served-model-name", "", "the model's `name` in the API (default: -model)")
	apiKey := fs.String("api-key", "", "require Authorization: Bearer `KEY` (not on /health and /metrics)")
	maxPending := fs.Int("max-pending", openai.DefaultMaxPending, "sequences (prompts × n) admitted at once, running or queued; beyond, 429")
	maxBody := fs.Int64("max-body", openai.DefaultMaxBody, "largest request body in `bytes`")
	maxLogprobs := fs.Int("max-logprobs", openai.DefaultMaxLogprobs, "largest logprobs (alternatives per token) a request may ask")
	maxScoring := fs.Int("max-scoring", openai.DefaultMaxScoring, "log-probability passes (echo, logprobs) run at once, each beside the engine with a KV cache of its own")
	maxRunning := fs.Int("max-batch", engine.DefaultMaxRunning, "generations advanced together in one step")
	stepTokens := fs.Int("step-tokens", engine.DefaultStepTokens, "positions one step may run (decoding and prompt chunks)")
	cacheRows := fs.Int("cache-rows", 0, "KV-cache rows the running generations may hold together; 0 is no bound")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "how long to wait for requests under way on SIGTERM")
	kvCache := fs.String("kv-cache", "f32", "store the KV cache as f32 (exact), bf16 or f16 (half the memory; logits move by the rounding)")
	logJSON := fs.Bool("log-json", false, "write logs as JSON lines")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := flagsFromEnv(fs); err != nil {
		return err
	}
	switch {
	case *maxPending < 1:
		return usagef("-max-pending %d: want at least 1", *maxPending)
	case *maxBody < 1:
		return usagef("-max-body %d: want at least 1", *maxBody)
	case *maxLogprobs < 1:
		return usagef("-max-logprobs %d: want at least 1", *maxLogprobs)
	case *maxScoring < 1:
		return usagef("-max-scoring %d: want at least 1", *maxScoring)
	case *maxRunning < 1 || *stepTokens < 1 || *cacheRows < 0:
		return usagef("-max-batch and -step-tokens must be at least 1, -cache-rows at least 0")
	case *shutdown < 0:
		return usagef("-shutdown-timeout %v is negative", *shutdown)
	}
	opts, err := mf.options(stderr)
	if err != nil {
		return err
	}
	kv, err := nemotron.ParseKVCache(*kvCache)
	if err != nil {
		return err
	}
	opts.Batching = engine.Options{MaxRunning: *maxRunning, StepTokens: *stepTokens, CacheRows: *cacheRows, KVCache: kv}
	if *name == "" {
		*name = mf.model
	}
	var logger *slog.Logger
	if *logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	opts.Warn = func(msg string) { logger.Warn(msg) }

	srv := openai.New(openai.Config{ModelName: *name, APIKey: *apiKey, MaxPending: *maxPending,
		MaxBody: *maxBody, MaxLogprobs: *maxLogprobs, MaxScoring: *maxScoring, Logger: logger})
	// Listen before loading, so that /health answers 503 (loading) rather than nothing.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "model", mf.model)
	if serveListening != nil {
		serveListening(ln.Addr().String())
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	start := time.Now()
	loaded := make(chan error, 1)
	var closeModel func() error
	go func() {
		m, err := mf.loadWith(opts)
		if err == nil {
			srv.SetModel(m)
			closeModel = m.Close
			logger.Info("ready", "model", mf.model, "backend", m.BackendName(), "load_s", time.Since(start).Seconds(),
				"context", m.Config().MaxPositions)
		}
		loaded <- err
	}()

	var loadErr error
	select {
	case loadErr = <-loaded:
		if loadErr == nil {
			select {
			case <-ctx.Done():
			case err := <-served:
				return err
			}
		}
	case <-ctx.Done():
		loadErr = <-loaded // a load cannot be interrupted; wait for it to release what it holds
	case err := <-served:
		return err
	}

	// Drain: /health says so, the listener closes, requests under way finish.
	srv.Drain()
	logger.Info("shutting down", "timeout", shutdown.String(), "pending", srv.Pending())
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	err = hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutdown timeout: closing connections under way", "pending", srv.Pending())
		hs.Close() // cancels the requests' contexts, which ends their generations
	}
	if closeModel != nil {
		if cerr := closeModel(); cerr != nil {
			return cerr
		}
	}
	if loadErr != nil {
		return loadErr
	}
	logger.Info("stopped")
	return nil
}

// flagsFromEnv sets each flag not given on the command line from MINITRON_<NAME>, the
// flag's name in capitals with - as _, when that variable is set.
func flagsFromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := "MINITRON_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = usagef("%s=%q: %v", env, v, serr)
			}
		}
	})
	return err
}
