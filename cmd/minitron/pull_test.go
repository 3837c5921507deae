package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/hub"
	"github.com/minitron-go/minitron/hub/hubtest"
)

// pullEnv starts a fake Hub holding a small Minitron-shaped model (a gated copy too) and points
// the environment at it and at an empty cache.
func pullEnv(t *testing.T) (s *hubtest.Server, cache string) {
	t.Helper()
	home := t.TempDir()
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE",
		"HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"} {
		t.Setenv(v, "")
	}
	t.Setenv("HF_HOME", filepath.Join(home, "hf"))
	cache = filepath.Join(home, "cache")
	t.Setenv("HF_HUB_CACHE", cache)
	s = hubtest.New(t)
	t.Setenv("HF_ENDPOINT", s.URL())
	files := map[string][]byte{
		"config.json":             []byte(`{"model_type":"nemotron"}`),
		"tokenizer.model":         bytes.Repeat([]byte("spm"), 1000),
		"model.safetensors":       bytes.Repeat([]byte{1, 2, 3, 4}, 50_000),
		"special_tokens_map.json": []byte(`{}`),
		"README.md":               []byte("# not fetched"),
	}
	s.AddRepo(hubtest.Repo{ID: "nvidia/Minitron-4B-Base", Files: files, Refs: map[string]string{"v1": "2222222222222222222222222222222222222222"}})
	s.AddRepo(hubtest.Repo{ID: "nvidia/Gated", Files: files, Gated: true, Token: "hf_rightTokenValue42"})
	return s, cache
}

func runPullCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"pull"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPullCommand(t *testing.T) {
	_, cache := pullEnv(t)
	code, stdout, stderr := runPullCmd(t, "nvidia/Minitron-4B-Base")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	dir := strings.TrimSuffix(stdout, "\n")
	if filepath.Dir(filepath.Dir(dir)) != filepath.Join(cache, "models--nvidia--Minitron-4B-Base") || strings.Contains(dir, "\n") {
		t.Errorf("stdout %q is not one snapshot directory of the cache", stdout)
	}
	for _, f := range []string{"config.json", "tokenizer.model", "model.safetensors", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("snapshot lacks %s: %v", f, err)
		}
		if !strings.Contains(stderr, f) {
			t.Errorf("progress on stderr does not mention %s:\n%s", f, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err == nil {
		t.Error("README.md was fetched")
	}
	if !strings.Contains(stderr, "[2/4] model.safetensors") || !strings.Contains(stderr, "195.3 KiB / 195.3 KiB  100%") {
		t.Errorf("stderr lacks the progress of model.safetensors:\n%s", stderr)
	}

	// -model flags find the pulled model by its id.
	for _, arg := range []string{"nvidia/Minitron-4B-Base", "nvidia/Minitron-4B-Base@main", dir} {
		if got, err := resolveModel(arg); err != nil || got != dir {
			t.Errorf("resolveModel(%q) = %q, %v; want %q", arg, got, err, dir)
		}
	}

	// Again, quietly and with the flag after the id: everything is cached.
	code, stdout2, stderr := runPullCmd(t, "nvidia/Minitron-4B-Base", "-q")
	if code != 0 || stdout2 != stdout || stderr != "" {
		t.Errorf("second pull: exit %d, stdout %q, stderr %q", code, stdout2, stderr)
	}
}

func TestPullCommandRevision(t *testing.T) {
	_, cache := pullEnv(t)
	want := filepath.Join(cache, "models--nvidia--Minitron-4B-Base", "snapshots", "2222222222222222222222222222222222222222") + "\n"
	for _, args := range [][]string{{"-revision", "v1", "nvidia/Minitron-4B-Base"}, {"-q", "nvidia/Minitron-4B-Base@v1"}} {
		code, stdout, stderr := runPullCmd(t, args...)
		if code != 0 || stdout != want {
			t.Errorf("pull %q: exit %d, stdout %q, want %q; stderr:\n%s", args, code, stdout, want, stderr)
		}
	}
	if got, err := resolveModel("nvidia/Minitron-4B-Base@v1"); err != nil || got+"\n" != want {
		t.Errorf("resolveModel(@v1) = %q, %v", got, err)
	}
}

func TestPullCommandErrors(t *testing.T) {
	const token = "hf_wrongTokenValue77"
	pullEnv(t)
	tests := []struct {
		name   string
		args   []string
		token  string
		code   int
		stderr []string
	}{
		{name: "no id", code: 2, stderr: []string{"want one model id"}},
		{name: "two ids", args: []string{"a/b", "c/d"}, code: 2, stderr: []string{"want one model id"}},
		{name: "bad id", args: []string{"a/b/c"}, code: 2, stderr: []string{"invalid model id"}},
		{name: "bad flag", args: []string{"-nope", "a/b"}, code: 2, stderr: []string{"-nope"}},
		{name: "help", args: []string{"-h"}, code: 0, stderr: []string{"usage: minitron pull", "-revision"}},
		{name: "not found", args: []string{"nvidia/Nope"}, code: 1, stderr: []string{"repository or revision not found"}},
		{name: "gated, no token", args: []string{"nvidia/Gated"}, code: 1, stderr: []string{"HF_TOKEN", "gated"}},
		{name: "gated, wrong token", args: []string{"nvidia/Gated"}, token: token, code: 1, stderr: []string{"HF_TOKEN", "403"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HF_TOKEN", tt.token)
			code, stdout, stderr := runPullCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if code != 0 && stdout != "" {
				t.Errorf("stdout %q on failure", stdout)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, stderr)
				}
			}
			if tt.token != "" && strings.Contains(stdout+stderr, tt.token) {
				t.Errorf("the token was shown:\n%s", stdout+stderr)
			}
		})
	}
}

func TestResolveModelNotPulled(t *testing.T) {
	_, cache := pullEnv(t)
	_, err := resolveModel("nvidia/Minitron-4B-Base")
	if err == nil {
		t.Fatal("resolveModel found a model that was never pulled")
	}
	for _, s := range []string{filepath.Join(cache, "models--nvidia--Minitron-4B-Base", "refs", "main"), "minitron pull nvidia/Minitron-4B-Base"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not mention %q:\n%v", s, err)
		}
	}
}

func TestPullSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {8_030_000_000, "7.5 GiB"}, {3 << 40, "3.0 TiB"},
	}
	for _, tt := range tests {
		if got := pullSize(tt.n); got != tt.want {
			t.Errorf("pullSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestPullProgressLive checks the terminal rendering: one line redrawn with \r, ended when the
// file is complete, and ended by finish when a download fails half-way.
func TestPullProgressLive(t *testing.T) {
	var b bytes.Buffer
	p := &pullProgress{w: &b, live: true}
	p.report(hub.Progress{File: "a.safetensors", Index: 1, Count: 2, Done: 0, Total: 2048})
	p.report(hub.Progress{File: "a.safetensors", Index: 1, Count: 2, Done: 1024, Total: 2048})
	p.report(hub.Progress{File: "a.safetensors", Index: 1, Count: 2, Done: 2048, Total: 2048, Complete: true})
	p.report(hub.Progress{File: "b.json", Index: 2, Count: 2, Done: 10, Total: 20})
	p.finish()
	lines := strings.Split(b.String(), "\n")
	if len(lines) != 3 || lines[2] != "" {
		t.Fatalf("output %q: want two lines", b.String())
	}
	for i, want := range []string{"[1/2] a.safetensors  2.0 KiB / 2.0 KiB  100%", "[2/2] b.json  10 B / 20 B   50%"} {
		redraws := strings.Split(lines[i], "\r")
		if last := strings.TrimRight(redraws[len(redraws)-1], " "); last != want {
			t.Errorf("line %d ends as %q, want %q", i, last, want)
		}
	}
	if n := strings.Count(lines[0], "\r"); n != 3 {
		t.Errorf("line 0 drawn %d times, want 3", n)
	}
}
