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
	for _, key := range []string{"prefill512_tok_s", "decode_tok_s", "weight_gbps", "read_gbps", "peak_rss_bytes"} {
		if v, ok := r[key].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", key, r[key])
		}
	}
	if code, _, _ := runCmd("bench", "-shape", "huge"); code != 2 {
		t.Errorf("unknown shape: exit %d", code)
	}
}
