package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadRequests are a mix of what clients send: lm-evaluation-harness's scoring request, greedy
// and seeded sampled generations, stop strings, n > 1, several prompts, streaming.
func loadRequests() []map[string]any {
	long := []int64{2, 506, 1562, 280, 407, 279, 305, 1557, 1552, 1574, 1551, 1575, 1588, 16, 263, 312, 302, 328, 1547, 1590}
	return []map[string]any{
		{"prompt": [][]int64{promptIDs, long}, "max_tokens": 1, "temperature": 0, "logprobs": 1, "echo": true, "seed": 1234},
		{"prompt": promptIDs, "max_tokens": 32, "temperature": 0},
		{"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0, "stop": []string{"\n", "ing"}},
		{"prompt": long, "max_tokens": 48, "temperature": 0.8, "top_k": 40, "top_p": 0.95, "seed": 11},
		{"prompt": "Hello world", "max_tokens": 16, "temperature": 1, "seed": 3, "n": 2},
		{"prompt": []string{"The capital of France is", "Paris is"}, "max_tokens": 12, "temperature": 0, "logprobs": 2},
		{"prompt": long, "max_tokens": 20, "temperature": 0, "stream": true, "stream_options": map[string]any{"include_usage": true}},
		{"prompt": promptIDs, "max_tokens": 8, "temperature": 0.7, "min_p": 0.05, "repetition_penalty": 1.2, "seed": 5, "echo": true},
	}
}

// result is what must not depend on what else the server is doing: the choices and usage
// (streams: the events' texts, finish reasons and usage).
func result(t testing.TB, stream bool, body []byte) (string, int) {
	if stream {
		var b strings.Builder
		tokens := 0
		for _, line := range strings.Split(string(body), "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			if data == "[DONE]" {
				b.WriteString("[DONE]")
				continue
			}
			var c struct {
				Choices json.RawMessage `json:"choices"`
				Usage   *usageJSON      `json:"usage"`
			}
			if err := json.Unmarshal([]byte(data), &c); err != nil {
				return "bad event " + data, 0
			}
			b.Write(c.Choices)
			if c.Usage != nil {
				tokens = c.Usage.CompletionTokens
				fmt.Fprint(&b, *c.Usage)
			}
		}
		return b.String(), tokens
	}
	var c struct {
		Choices json.RawMessage `json:"choices"`
		Usage   usageJSON       `json:"usage"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return "bad answer " + string(body), 0
	}
	return string(c.Choices) + fmt.Sprint(c.Usage), c.Usage.CompletionTokens
}

func post(client *http.Client, url string, req map[string]any) (int, []byte, error) {
	raw, _ := json.Marshal(req)
	resp, err := client.Post(url+"/v1/completions", "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestLoad runs 64 concurrent clients against a golden model for a few seconds (30 with
// MINITRON_LOAD_SECONDS=30): no errors but the deliberate 429s of a bound (48 sequences)
// below the clients' demand, every answer equal to the same request's alone, and, in a run
// of 20 s or more, resident memory flat after the first 5 s. It logs the latency
// percentiles and the tokens per second.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test: not in -short")
	}
	dur := 3 * time.Second
	if v := os.Getenv("MINITRON_LOAD_SECONDS"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 1 {
			t.Fatalf("MINITRON_LOAD_SECONDS=%q", v)
		}
		dur = time.Duration(s) * time.Second
	}
	model := "small-c"
	if v := os.Getenv("MINITRON_LOAD_MODEL"); v != "" {
		model = v
	}
	const clients = 64
	s, ts := newServer(t, model, Config{MaxPending: 48})
	reqs := loadRequests()
	want := make([]string, len(reqs))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for i, r := range reqs {
		code, body, err := post(client, ts.URL, r)
		if err != nil || code != 200 {
			t.Fatalf("request %d alone: %d %v %s", i, code, err, body)
		}
		want[i], _ = result(t, r["stream"] == true, body)
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		tokens    int
		rejected  atomic.Int64
		failures  []string
		samples   []int64 // RSS every 250 ms
	)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				mu.Lock()
				samples = append(samples, rss())
				mu.Unlock()
			}
		}
	})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := c; ctx.Err() == nil; i++ {
				k := i % len(reqs)
				t0 := time.Now()
				code, body, err := post(client, ts.URL, reqs[k])
				d := time.Since(t0)
				if code == http.StatusTooManyRequests {
					rejected.Add(1)
					time.Sleep(50 * time.Millisecond) // deliberate: the bound is below the demand
					continue
				}
				got, n := result(t, reqs[k]["stream"] == true, body)
				mu.Lock()
				switch {
				case err != nil || code != 200:
					failures = append(failures, fmt.Sprintf("request %d: %d %v %.200s", k, code, err, body))
				case got != want[k]:
					failures = append(failures, fmt.Sprintf("request %d under load: %.300s\nalone: %.300s", k, got, want[k]))
				default:
					latencies = append(latencies, d)
					tokens += n
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	sampler.Wait()

	for i, f := range failures {
		if i == 5 {
			t.Errorf("… %d failures in all", len(failures))
			break
		}
		t.Error(f)
	}
	if len(latencies) == 0 {
		t.Fatal("no request succeeded")
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	t.Logf("%s, %d clients, %s: %d requests answered (%.1f/s), %d refused with 429; latency p50 %v p99 %v; %d tokens generated, %.0f tokens/s",
		model, clients, elapsed.Round(time.Millisecond), len(latencies), float64(len(latencies))/elapsed.Seconds(), rejected.Load(),
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), tokens, float64(tokens)/elapsed.Seconds())
	// Resident memory after the first 5 s: its peak in the last half no more than 10% (and
	// 16 MiB) above its peak before.
	warm := int(5 * time.Second / (250 * time.Millisecond))
	if len(samples) > warm+8 {
		rest := samples[warm:]
		early, late := slices.Max(rest[:len(rest)/2]), slices.Max(rest[len(rest)/2:])
		t.Logf("resident memory after 5 s: %.1f MiB at most in the first half, %.1f MiB in the second", float64(early)/(1<<20), float64(late)/(1<<20))
		if dur >= 20*time.Second && float64(late) > 1.10*float64(early)+16<<20 {
			t.Errorf("resident memory grew from %d to %d bytes", early, late)
		}
	}
	if s.Pending() != 0 {
		t.Errorf("%d sequences still admitted after the load", s.Pending())
	}
}

// TestShutdownUnderLoad drains a server under load as SIGTERM does (Drain, then
// http.Server.Shutdown): every request the server accepted is answered in full, and equal to
// the same request alone.
func TestShutdownUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test: not in -short")
	}
	s := New(Config{Logger: quietLogger(), MaxPending: 1 << 10})
	s.SetModel(loadModel(t, "small-c"))
	var accepted, finished atomic.Int64
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accepted.Add(1)
		s.ServeHTTP(w, r)
		finished.Add(1)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	url := "http://" + ln.Addr().String()
	req := map[string]any{"prompt": promptIDs, "max_tokens": 40, "temperature": 0}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	code, body, err := post(client, url, req)
	if err != nil || code != 200 {
		t.Fatalf("alone: %d %v", code, err)
	}
	want, _ := result(t, false, body)
	accepted.Store(0)
	finished.Store(0)

	var answered, wrong atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				code, body, err := post(client, url, req)
				if err != nil {
					return // the listener is closed: not accepted
				}
				if got, _ := result(t, false, body); code != 200 || got != want {
					wrong.Add(1)
				}
				answered.Add(1)
			}
		})
	}
	time.Sleep(time.Second)
	s.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("shutdown: %v", err)
	}
	wg.Wait()
	t.Logf("%d requests accepted, %d answered, %d finished in the handler", accepted.Load(), answered.Load(), finished.Load())
	if answered.Load() != accepted.Load() || finished.Load() != accepted.Load() || wrong.Load() != 0 {
		t.Errorf("accepted %d, answered %d (%d wrong), finished %d", accepted.Load(), answered.Load(), wrong.Load(), finished.Load())
	}
	if accepted.Load() == 0 {
		t.Error("no request ran")
	}
}
