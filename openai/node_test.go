package openai

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNodeClient drives the server with the official OpenAI Node.js client (testdata/node,
// installed by `npm ci` there, as .ci/run does): completions, streaming with usage, echo with
// logprobs, the model list and a 400. It is skipped, saying why, without node or the package.
func TestNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the OpenAI Node.js client check did not run")
	}
	dir := filepath.Join("testdata", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		t.Skip("the openai npm package is not installed: run `npm ci` in openai/testdata/node (the OpenAI Node.js client check did not run)")
	}
	_, ts := newServer(t, "tiny-a", Config{APIKey: "node-key"})
	// The greedy text of the prompt, from the server alone, for the client to compare.
	var want completionAnswer
	code, _ := call(t, "POST", ts.URL+"/v1/completions", map[string]any{"prompt": promptIDs, "max_tokens": 8, "temperature": 0}, &want, "Authorization", "Bearer node-key")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	ids, _ := json.Marshal(promptIDs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL="+ts.URL+"/v1", "API_KEY=node-key", "MODEL=golden",
		"WANT="+want.Choices[0].Text, "PROMPT_IDS="+string(ids))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("node client.mjs: %v\n%s", err, out)
	}
}
