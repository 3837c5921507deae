package openai

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are what /metrics serves: the request counts and latencies an operator alerts on,
// and the queue and batch an autoscaler scales on (minitron_pending_sequences against
// Config.MaxPending, minitron_engine_waiting).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	promptTokens prometheus.Counter
	genTokens    prometheus.Counter
	ttft         prometheus.Histogram
	tokensPerSec prometheus.Histogram
	rejected     prometheus.Counter
	panics       prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minitron_http_requests_total", Help: "HTTP requests answered, by endpoint and status code.",
		}, []string{"path", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "minitron_http_request_duration_seconds", Help: "Time to answer a request, to its last byte.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}, []string{"path"}),
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minitron_prompt_tokens_total", Help: "Prompt tokens of the completions served (once per prompt).",
		}),
		genTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minitron_generation_tokens_total", Help: "Tokens generated.",
		}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minitron_time_to_first_token_seconds", Help: "From a sequence's admission to its first generated token.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		tokensPerSec: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "minitron_sequence_decode_tokens_per_second", Help: "Each sequence's decoding rate after its first token.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minitron_rejected_requests_total", Help: "Requests refused with 429 because the admitted sequences were at the bound.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "minitron_handler_panics_total", Help: "Handler panics recovered (bugs).",
		}),
	}
	engineStat := func(name, help string, f func(s statsView) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			mod := s.model.Load()
			if mod == nil {
				return 0
			}
			st := mod.Engine().Stats()
			return f(statsView{waiting: st.Waiting, running: st.Running, rows: st.CacheRows})
		})
	}
	reg.MustRegister(m.requests, m.duration, m.promptTokens, m.genTokens, m.ttft, m.tokensPerSec, m.rejected, m.panics,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minitron_pending_sequences", Help: "Sequences admitted (running or waiting), bounded by -max-pending.",
		}, func() float64 { return float64(s.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minitron_max_pending_sequences", Help: "The bound on admitted sequences (-max-pending).",
		}, func() float64 { return float64(s.cfg.MaxPending) }),
		engineStat("minitron_engine_waiting", "Generations waiting in the engine's queue.", func(v statsView) float64 { return float64(v.waiting) }),
		engineStat("minitron_engine_batch_size", "Generations advanced together in the engine's current step.", func(v statsView) float64 { return float64(v.running) }),
		engineStat("minitron_engine_kv_cache_rows", "KV-cache rows held by running generations.", func(v statsView) float64 { return float64(v.rows) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minitron_ready", Help: "1 when the model is loaded and the server is not draining.",
		}, func() float64 {
			if s.model.Load() != nil && !s.draining.Load() {
				return 1
			}
			return 0
		}),
	)
	return m
}

type statsView struct{ waiting, running, rows int }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
