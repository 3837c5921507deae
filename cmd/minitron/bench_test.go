package main

import (
	"encoding/json"
	"strings"
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

// -batch adds the total decode rate of each batch size, the batch-8 step against the compute
// reference and the engine's prefill/decode mix; without it they are left out (see above).
func TestBenchBatch(t *testing.T) {
	code, out, stderr := runCmd("bench", "-shape", "small", "-threads", "2", "-decode-tokens", "2", "-batch", "1,8", "-mix-decoding", "2", "-mix-prompt", "300", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	by, _ := r["decode_tok_s_by_batch"].(map[string]any)
	for _, k := range []string{"1", "8"} {
		if v, ok := by[k].(float64); !ok || !(v > 0) {
			t.Errorf("decode_tok_s_by_batch[%s] = %v", k, by[k])
		}
	}
	for _, key := range []string{"batch8_gflops", "batch8_to_peak_ratio"} {
		if v, ok := r[key].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v", key, r[key])
		}
	}
	mix, _ := r["mix"].(map[string]any)
	for _, key := range []string{"decode_tok_s", "prefill_tok_s", "decode_only_tok_s", "mixed_steps"} {
		if v, ok := mix[key].(float64); !ok || !(v > 0) {
			t.Errorf("mix %s = %v", key, mix[key])
		}
	}
	if code, out, _ := runCmd("bench", "-shape", "small", "-threads", "2", "-decode-tokens", "1", "-batch", "1,2"); code != 0 || !strings.Contains(out, "decode by batch") || !strings.Contains(out, "mix (steps of 256)") {
		t.Errorf("text report: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"-batch", "1,x"}, {"-batch", "0"}, {"-batch", "2", "-batch-context", "0"}} {
		if code, _, _ := runCmd(append([]string{"bench", "-shape", "small"}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
