package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tiny-a's tokenizer.model is tok-a; its config.json has bos_token_id 2 and there is no
// tokenizer_config.json, so BOS is added by default.
var tinyA = filepath.Join("..", "..", "testdata", "models", "tiny-a")

func runTokenizeCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"tokenize"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenizeCommand(t *testing.T) {
	// "Hello world" is ▁H el lo ▁w or ld in tok-a (testdata/tokenizers/tok-a golden).
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ids with BOS", []string{"-model", tinyA, "Hello world"}, "2 1080 647 304 296 276 987\n"},
		{"explicit BOS", []string{"-model", tinyA, "-bos=true", "Hello world"}, "2 1080 647 304 296 276 987\n"},
		{"no BOS", []string{"-model", tinyA, "-bos=false", "Hello world"}, "1080 647 304 296 276 987\n"},
		{"json", []string{"-model", tinyA, "-json", "Hello world"}, "[2,1080,647,304,296,276,987]\n"},
		{"empty text", []string{"-model", tinyA, "-bos=false", "-json", ""}, "[]\n"},
		{"pieces", []string{"-model", tinyA, "-pieces", "a\n"}, "2\t<s>\n271\t▁a\n16\t<0x0A>\n"},
		{"pieces json", []string{"-model", tinyA, "-pieces", "-json", "-bos=false", "a"}, `[{"id":271,"piece":"▁a"}]` + "\n"},
		{"decode commas", []string{"-model", tinyA, "-decode", "2,1080,647,304,296,276,987"}, "Hello world\n"},
		{"decode spaces", []string{"-model", tinyA, "-decode", "2 1080 647 304 296 276 987"}, "Hello world\n"},
		{"decode json output", []string{"-model", tinyA, "-decode", "[2,1080,647,304,296,276,987]"}, "Hello world\n"},
		{"decode as json", []string{"-model", tinyA, "-decode", "-json", "271,16"}, `"a\n"` + "\n"},
		{"decode broken UTF-8", []string{"-model", tinyA, "-decode", "237 146"}, "\uFFFD\uFFFD\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runTokenizeCmd(tt.args...)
		if code != 0 || stdout != tt.want {
			t.Errorf("%s: tokenize %q = %d, %q (stderr %q); want 0, %q", tt.name, tt.args, code, stdout, stderr, tt.want)
		}
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	text := "Die Katze schläft. 猫はソファで寝ています。 emoji: 😀  two  spaces\tand a tab"
	code, ids, stderr := runTokenizeCmd("-model", tinyA, text)
	if code != 0 {
		t.Fatalf("encode: %d %s", code, stderr)
	}
	code, got, stderr := runTokenizeCmd("-model", tinyA, "-decode", strings.TrimSpace(ids))
	if code != 0 || got != text+"\n" {
		t.Errorf("decode(encode(%q)) = %d, %q (%s)", text, code, got, stderr)
	}
}

func TestTokenizeErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	notDir := filepath.Join(tinyA, "config.json")
	noTokenizer := t.TempDir()
	if err := os.WriteFile(filepath.Join(noTokenizer, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no model", []string{"hello"}, 2, "-model is required"},
		{"no text", []string{"-model", tinyA}, 2, "want one TEXT argument"},
		{"two texts", []string{"-model", tinyA, "hello", "world"}, 2, "got 2"},
		{"no ids", []string{"-model", tinyA, "-decode"}, 2, "want one IDS argument"},
		{"pieces with decode", []string{"-model", tinyA, "-decode", "-pieces", "2"}, 2, "-pieces does not apply"},
		{"bad bos", []string{"-model", tinyA, "-bos=maybe", "x"}, 2, `-bos must be auto, true or false, not "maybe"`},
		{"bad id", []string{"-model", tinyA, "-decode", "2,x"}, 2, `"x" is not a token id`},
		{"empty ids", []string{"-model", tinyA, "-decode", " , "}, 2, "no token ids"},
		{"unknown flag", []string{"-model", tinyA, "-frobnicate", "x"}, 2, "frobnicate"},
		{"id out of range", []string{"-model", tinyA, "-decode", "2,4096"}, 1, "invalid id 4096"},
		{"negative id", []string{"-model", tinyA, "-decode", "2,-1"}, 1, "invalid id -1"},
		{"text after --", []string{"-model", tinyA, "-decode", "--", "-1"}, 1, "invalid id -1"},
		{"missing model dir", []string{"-model", missing, "x"}, 1, missing},
		{"model is a file", []string{"-model", notDir, "x"}, 1, "is not a directory"},
		{"no tokenizer.model", []string{"-model", noTokenizer, "x"}, 1, filepath.Join(noTokenizer, "tokenizer.model")},
	}
	for _, tt := range tests {
		code, stdout, stderr := runTokenizeCmd(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.wantErr) || stdout != "" {
			t.Errorf("%s: tokenize %q = %d, stdout %q, stderr %q; want %d and an error containing %q",
				tt.name, tt.args, code, stdout, stderr, tt.code, tt.wantErr)
		}
	}
}

func TestTokenizeHelp(t *testing.T) {
	code, _, stderr := runTokenizeCmd("-h")
	if code != 0 || !strings.Contains(stderr, "usage: minitron tokenize -model DIR") || !strings.Contains(stderr, "-decode") {
		t.Errorf("tokenize -h = %d, %q", code, stderr)
	}
}
