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

// -quant fills the random weights in the mix's block formats: a token reads that many fewer
// bytes (Q8_0 34 bytes for 32 weights, the Q4_K mix about 5 bits a weight), the ratio to the
// read reference and the peak RSS are reported as for bf16. Until the backend binds weights in
// block formats (the quantization pipeline), the run stops at binding and the test says so.
func TestBenchQuant(t *testing.T) {
	bench := func(args ...string) (map[string]any, string) {
		code, out, stderr := runCmd(append([]string{"bench", "-shape", "small", "-threads", "2", "-decode-tokens", "2", "-json"}, args...)...)
		if code != 0 {
			return nil, stderr
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return r, ""
	}
	plain, stderr := bench()
	if plain == nil {
		t.Fatal(stderr)
	}
	if plain["quant"] != "none" || plain["weight_formats"].(map[string]any)["BF16"] != float64(26) {
		t.Errorf("bf16: quant %v, formats %v", plain["quant"], plain["weight_formats"])
	}
	for _, c := range []struct {
		quant, format string
		ratio         float64 // the most bytes a token reads, against bf16's
	}{{"q8_0", "Q8_0", 34.0 / 64}, {"q4_k", "Q4_K", 0.35}} {
		r, stderr := bench("-quant", c.quant)
		if r == nil {
			if strings.Contains(stderr, "want F32, F16 or BF16") {
				t.Skipf("-quant %s: weights in block formats do not bind yet: %s", c.quant, strings.TrimSpace(stderr))
			}
			t.Fatalf("-quant %s: %s", c.quant, stderr)
		}
		formats, _ := r["weight_formats"].(map[string]any)
		bytes, _ := r["weight_bytes_per_token"].(float64)
		if r["quant"] != c.quant || !(formats[c.format].(float64) > 0) || !(bytes <= c.ratio*plain["weight_bytes_per_token"].(float64)) {
			t.Errorf("-quant %s: quant %v, formats %v, %v bytes a token against bf16's %v", c.quant, r["quant"], formats, bytes, plain["weight_bytes_per_token"])
		}
		for _, key := range []string{"decode_tok_s", "prefill512_tok_s", "weight_gbps", "weight_to_read_ratio", "peak_rss_bytes"} {
			if v, ok := r[key].(float64); !ok || !(v > 0) {
				t.Errorf("-quant %s: %s = %v", c.quant, key, r[key])
			}
		}
	}
}

// -quant is checked before anything is filled, and applies to random weights only.
func TestBenchQuantFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-quant", "q3"}, "-quant"},
		{[]string{"-model", modelDir("tiny-a"), "-quant", "q8_0"}, "-quant"},
	} {
		code, _, stderr := runCmd(append([]string{"bench", "-shape", "small"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d: %s", c.args, code, stderr)
		}
	}
	code, out, stderr := runCmd("bench", "-shape", "small", "-threads", "2", "-decode-tokens", "1")
	if code != 0 || !strings.Contains(out, "quant none: matrices 26 BF16") || !strings.Contains(out, "peak RSS") {
		t.Errorf("text report: exit %d: %s\n%s", code, stderr, out)
	}
}
