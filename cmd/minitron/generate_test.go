package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// buildCommand builds the minitron binary once per test run.
func buildCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "minitron")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The built command reproduces the transformers greedy continuations exactly.
func TestGenerateGoldenGreedy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command: skipped in -short mode")
	}
	bin := buildCommand(t)
	for _, model := range []string{"tiny-a", "tiny-b", "small-c"} {
		golden := goldentest.Load(t, modelDir(model))
		for _, g := range golden.Greedy {
			ids := strings.Trim(strings.ReplaceAll(fmt.Sprint(g.PromptIDs), " ", ","), "[]")
			cmd := exec.Command(bin, "generate", "-model", modelDir(model), "-ids", ids, "-temp", "0", "-n", fmt.Sprint(len(g.NewIDs)), "-print-ids")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", model, g.Case, err, stderr.String())
			}
			var got []int32
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s %s: output %q: %v", model, g.Case, out, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(g.NewIDs) {
				t.Errorf("%s %s:\n got %v\nwant %v", model, g.Case, got, g.NewIDs)
			}
			if !strings.Contains(stderr.String(), "tok/s") {
				t.Errorf("%s %s: no timing on stderr: %q", model, g.Case, stderr.String())
			}
		}
	}
	// Exit statuses of the real process.
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"generate", "-model", modelDir("tiny-a")}, 2},
		{[]string{"generate", "-nosuchflag"}, 2},
		{[]string{"generate", "-model", filepath.Join(t.TempDir(), "missing"), "-prompt", "hi"}, 1},
	} {
		err := exec.Command(bin, tt.args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tt.code {
			t.Errorf("%v: %v, want exit status %d", tt.args, err, tt.code)
		}
	}
}

func TestGenerateText(t *testing.T) {
	args := []string{"generate", "-model", modelDir("tiny-a"), "-prompt", "Once upon a time", "-n", "12", "-seed", "5"}
	code, out1, stderr := runCmd(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, out2, _ := runCmd(args...)
	if out1 != out2 || out1 == "" {
		t.Errorf("seeded runs differ or are empty: %q vs %q", out1, out2)
	}
	if !strings.Contains(stderr, "prompt") || !strings.Contains(stderr, "generated 12 tokens") {
		t.Errorf("timing line: %q", stderr)
	}
	// A stop string cuts the text before it, and it is not printed.
	greedy := []string{"generate", "-model", modelDir("tiny-a"), "-prompt", "Once upon a time", "-n", "12", "-temp", "0"}
	_, full, _ := runCmd(greedy...)
	full = strings.TrimSuffix(full, "\n")
	runes := []rune(full)
	if len(runes) < 6 {
		t.Fatalf("greedy text too short to test stop strings: %q", full)
	}
	stop := string(runes[3:5])
	code, cut, stderr := runCmd(append(greedy, "-stop", stop)...)
	if want := full[:strings.Index(full, stop)]; code != 0 || strings.TrimSuffix(cut, "\n") != want || !strings.Contains(stderr, "stop: stop string") {
		t.Errorf("with -stop %q: exit %d, %q (want %q), %s", stop, code, cut, want, stderr)
	}
}

func TestGenerateUsage(t *testing.T) {
	tiny := modelDir("tiny-a")
	long := strings.Repeat("word ", 600)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"generate", "-model", tiny}, 2, "empty prompt"},
		{[]string{"generate", "-model", tiny, "-prompt", ""}, 2, "empty prompt"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-ids", "2"}, 2, "not both"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-n", "-3"}, 2, "max tokens -3 is negative"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-n", "600"}, 2, "exceed the context of 512 tokens (at most 510)"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-n", "600", "-print-ids"}, 2, "exceed the context of 512 tokens"},
		{[]string{"generate", "-model", tiny, "-prompt", long}, 2, "leaves no room in the context of 512"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-backend", "nosuch"}, 2, `unknown backend "nosuch"`},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-threads", "-1"}, 2, "-1 threads"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-precision", "sloppy"}, 2, "-precision"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-quant", "q3_k"}, 2, `unknown quantization "q3_k"`},
		{[]string{"generate", "-model", ggufFile("small-c-q8_0.gguf"), "-prompt", "a", "-quant", "q4_k"}, 2, "is already Q8_0"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-stop", "\xff"}, 2, "valid UTF-8"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-top-p", "2"}, 2, "top-p"},
		{[]string{"generate", "-model", tiny, "-prompt", "a", "-temp", "-1"}, 2, "temperature"},
		{[]string{"generate", "-model", tiny, "-ids", "2,x"}, 2, "not a token id"},
		{[]string{"generate", "-model", tiny, "-ids", "2,5000"}, 2, "outside the vocabulary"},
		{[]string{"generate", "-prompt", "a"}, 2, "-model is required"},
		{[]string{"generate", "-model", "nosuchorg/nosuchmodel", "-prompt", "a"}, 1, "minitron pull nosuchorg/nosuchmodel"},
		{[]string{"generate", "-frobnicate"}, 2, "flag provided but not defined"},
	}
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	for _, tt := range tests {
		code, stdout, stderr := runCmd(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args[:min(len(tt.args), 7)], code, stderr, tt.code, tt.want)
		}
		if code == 2 && stdout != "" {
			t.Errorf("%v: a usage error printed %q", tt.args[:min(len(tt.args), 7)], stdout)
		}
	}
}

// -lookup gives the tokens of plain decoding, greedy and seeded, and says how many of its
// guesses were right.
func TestGenerateLookup(t *testing.T) {
	for _, model := range []string{"tiny-a", "small-c"} {
		golden := goldentest.Load(t, modelDir(model))
		for _, g := range golden.Greedy {
			ids := strings.Trim(strings.ReplaceAll(fmt.Sprint(g.PromptIDs), " ", ","), "[]")
			n := fmt.Sprint(len(g.NewIDs))
			code, out, stderr := runCmd("generate", "-model", modelDir(model), "-ids", ids, "-temp", "0", "-n", n, "-print-ids", "-lookup", "6")
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", model, g.Case, code, stderr)
			}
			if want, _ := json.Marshal(g.NewIDs); strings.TrimSpace(out) != string(want) {
				t.Errorf("%s %s -lookup 6:\n got %s\nwant %s", model, g.Case, out, want)
			}
			if !strings.Contains(stderr, "drafts accepted") {
				t.Errorf("%s %s: no lookup figures on stderr: %q", model, g.Case, stderr)
			}
			seeded := []string{"generate", "-model", modelDir(model), "-ids", ids, "-n", n, "-print-ids", "-seed", "7", "-temp", "0.4"}
			_, plain, _ := runCmd(seeded...)
			_, looked, _ := runCmd(append(seeded, "-lookup", "3")...)
			if plain != looked || plain == "" {
				t.Errorf("%s %s seeded: -lookup 3 gives %s, plain %s", model, g.Case, looked, plain)
			}
		}
	}
	if code, _, _ := runCmd("generate", "-model", modelDir("tiny-a"), "-prompt", "hi", "-lookup", "99"); code != 2 {
		t.Errorf("-lookup 99: exit %d, want 2", code)
	}
}
