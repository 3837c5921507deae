package main

import (
	"encoding/json"
	"testing"
)

func TestBenchJSON(t *testing.T) {
	code, out, stderr := runCmd("bench", "-shape", "small", "-threads", "2", "-decode-tokens", "2", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	for _, key := range []string{"prefill512_tok_s", "decode_tok_s", "weight_gbps", "read_gbps", "weight_to_read_ratio",
		"peak_gflops", "prefill512_gflops", "prefill_to_peak_ratio", "peak_rss_bytes"} {
		if v, ok := r[key].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v", key, r[key])
		}
	}
	// The read reference is the best of the patterns, each reported.
	patterns, _ := r["read_patterns_gbps"].(map[string]any)
	if len(patterns) < 5 {
		t.Errorf("read_patterns_gbps = %v", r["read_patterns_gbps"])
	}
	for name, v := range patterns {
		if g, ok := v.(float64); !ok || !(g > 0) || g > r["read_gbps"].(float64) {
			t.Errorf("pattern %s: %v GB/s against read_gbps %v", name, v, r["read_gbps"])
		}
	}
	if k, _ := r["peak_kernel"].(string); k == "" {
		t.Errorf("peak_kernel = %v", r["peak_kernel"])
	}
	if code, _, _ := runCmd("bench", "-shape", "huge"); code != 2 {
		t.Errorf("unknown shape: exit %d", code)
	}
}
