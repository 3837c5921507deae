package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeFromEnv runs serve in-process with its flags from MINITRON_ variables: it
// listens, becomes ready, wants the API key, and stops when its context ends (as on SIGINT).
func TestServeFromEnv(t *testing.T) {
	t.Setenv("MINITRON_MODEL", modelDir("tiny-a"))
	t.Setenv("MINITRON_ADDR", "127.0.0.1:0")
	t.Setenv("MINITRON_API_KEY", "k")
	t.Setenv("MINITRON_THREADS", "1")
	t.Setenv("MINITRON_SERVED_MODEL_NAME", "tiny")
	addr := make(chan string, 1)
	serveListening = func(a string) { addr <- a }
	defer func() { serveListening = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr strings.Builder
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "-log-json"}, io.Discard, &stderr) }()
	url := "http://" + <-addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		key    string
		status int
	}{{"", 401}, {"Bearer k", 200}} {
		req, _ := http.NewRequest("POST", url+"/v1/completions", strings.NewReader(`{"model": "tiny", "prompt": "Hi", "max_tokens": 2}`))
		req.Header.Set("Authorization", tc.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("key %q: %d, want %d", tc.key, resp.StatusCode, tc.status)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{`"msg":"listening"`, `"msg":"ready"`, `"msg":"request"`, `"status":401`, `"completion_tokens":2`, `"msg":"stopped"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
}

// TestServeBadFlags: flags and variables out of range are usage errors (status 2).
func TestServeBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
	}{
		{[]string{"serve", "-model", "x", "-max-pending", "0"}, ""},
		{[]string{"serve", "-model", "x", "-max-logprobs", "-1"}, ""},
		{[]string{"serve"}, ""},
		{[]string{"serve", "-model", "x"}, "MINITRON_MAX_PENDING=lots"},
		{[]string{"serve", "-model", "x", "-precision", "sloppy"}, ""},
	} {
		t.Run(strings.Join(tc.args, " ")+" "+tc.env, func(t *testing.T) {
			if k, v, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(k, v)
			}
			var stderr strings.Builder
			if code := run(context.Background(), tc.args, io.Discard, &stderr); code != 2 {
				t.Errorf("exit %d, want 2: %s", code, stderr.String())
			}
		})
	}
}

// TestServeSIGTERM: the built command, sent SIGTERM during a streamed generation, finishes
// that request (through [DONE]), refuses new connections, and exits 0.
func TestServeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command: skipped in -short mode")
	}
	bin := buildCommand(t)
	cmd := exec.Command(bin, "serve", "-model", modelDir("small-c"), "-addr", "127.0.0.1:0", "-threads", "1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := bufio.NewScanner(stderr)
	var url string
	addrRE := regexp.MustCompile(`msg=listening addr=(\S+)`)
	for logs.Scan() {
		if m := addrRE.FindStringSubmatch(logs.Text()); m != nil {
			url = "http://" + m[1]
		}
		if strings.Contains(logs.Text(), "msg=ready") {
			break
		}
	}
	// The rest of the log is read to EOF before Wait, which closes the pipe (os/exec), and
	// before rest is read: readDone orders the two goroutines for the race detector.
	var rest strings.Builder
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for logs.Scan() {
			rest.WriteString(logs.Text() + "\n")
		}
	}()
	resp, err := http.Post(url+"/v1/completions", "application/json",
		strings.NewReader(`{"prompt": [2, 380, 1554], "max_tokens": 300, "temperature": 0, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewReader(resp.Body)
	first, err := body.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: ") {
		t.Fatalf("first event %q: %v", first, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	tail, err := io.ReadAll(body)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(string(tail), "data: [DONE]\n\n") || strings.Count(string(tail), "data: ") < 10 {
		t.Errorf("the stream under way was cut: %v, %d bytes after SIGTERM, ending %q", err, len(tail), tail[max(0, len(tail)-40):])
	}
	select {
	case <-readDone:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-readDone
		t.Error("the server had not exited 2 minutes after SIGTERM")
	}
	werr := cmd.Wait()
	if werr != nil {
		t.Errorf("exit: %v\n%s", werr, rest.String())
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
	if !strings.Contains(rest.String(), "shutting down") || !strings.Contains(rest.String(), "stopped") {
		t.Errorf("log:\n%s", rest.String())
	}
}
