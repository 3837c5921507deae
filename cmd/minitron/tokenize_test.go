package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/sentencepiece"
)

// tiny-a's tokenizer.model is tok-a; its config.json has bos_token_id 2 and there is no
// tokenizer_config.json, so BOS is added by default.
var tinyA = filepath.Join("..", "..", "testdata", "models", "tiny-a")

func runTokenizeCmd(args ...string) (code int, stdout, stderr string) {
	return runTokenizeInput("", args...)
}

// runTokenizeInput runs tokenize with input as its standard input.
func runTokenizeInput(input string, args ...string) (code int, stdout, stderr string) {
	defer func(r io.Reader) { stdin = r }(stdin)
	stdin = strings.NewReader(input)
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
		{"two texts", []string{"-model", tinyA, "hello", "world"}, 2, "want one TEXT argument (quote it), got 2"},
		{"text and -f", []string{"-model", tinyA, "-f", notDir, "hello"}, 2, "give TEXT or -f FILE, not both"},
		{"- and -f", []string{"-model", tinyA, "-f", notDir, "-"}, 2, "give TEXT or -f FILE, not both"},
		{"ids and -f", []string{"-model", tinyA, "-decode", "-f", notDir, "2"}, 2, "give IDS or -f FILE, not both"},
		{"-f missing file", []string{"-model", tinyA, "-f", missing}, 1, missing},
		{"-f a directory", []string{"-model", tinyA, "-f", tinyA}, 1, tinyA},
		{"no ids on stdin", []string{"-model", tinyA, "-decode"}, 2, "no token ids"},
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

// Text from standard input or a file is tokenized byte for byte: NUL bytes, a final newline
// and megabytes of it, with the ids the tokenizer itself gives.
func TestTokenizeInput(t *testing.T) {
	tok, err := sentencepiece.LoadDir(tinyA)
	if err != nil {
		t.Fatal(err)
	}
	want := func(text string) string {
		return strings.Trim(fmt.Sprint(tok.Encode(text)), "[]") + "\n"
	}
	nul := "a\x00b\x00\x00 c\n"
	for _, args := range [][]string{{"-model", tinyA}, {"-model", tinyA, "-"}} {
		code, stdout, stderr := runTokenizeInput(nul, args...)
		if code != 0 || stdout != want(nul) {
			t.Errorf("%q with NUL bytes on stdin: %d, %q (%s); want %q", args, code, stdout, stderr, want(nul))
		}
	}
	// tok-a falls back to bytes: each NUL is the piece <0x00>, none is dropped.
	nuls := 0
	for _, id := range tok.Encode(nul) {
		if tok.IDToPiece(id) == "<0x00>" {
			nuls++
		}
	}
	if nuls != 3 {
		t.Errorf("%q has %d <0x00> pieces, want 3: %s", nul, nuls, want(nul))
	}
	// What tokenize prints decodes back to the same bytes.
	_, ids, _ := runTokenizeInput(nul, "-model", tinyA, "-bos=false", "-json")
	code, got, stderr := runTokenizeInput(ids, "-model", tinyA, "-decode")
	if code != 0 || got != nul+"\n" {
		t.Errorf("decode of %s from stdin: %d, %q (%s); want %q", strings.TrimSpace(ids), code, got, stderr, nul+"\n")
	}

	// A file of several megabytes.
	var b strings.Builder
	for i := 0; b.Len() < 3<<20; i++ {
		fmt.Fprintf(&b, "Line %d: the quick brown fox jumps over the lazy dog. 猫はソファで寝ています。\n", i)
	}
	big := b.String()
	file := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(file, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runTokenizeCmd("-model", tinyA, "-f", file)
	if code != 0 || stdout != want(big) {
		t.Errorf("-f of %d bytes: exit %d, %d bytes of ids (%s), want %d", len(big), code, len(stdout), stderr, len(want(big)))
	}
	code, stdout, _ = runTokenizeInput(big, "-model", tinyA)
	if code != 0 || stdout != want(big) {
		t.Errorf("stdin of %d bytes: exit %d, %d bytes of ids, want %d", len(big), code, len(stdout), len(want(big)))
	}
	// Ids too can come from a file.
	idFile := filepath.Join(t.TempDir(), "ids")
	os.WriteFile(idFile, []byte("2 1080 647 304 296 276 987\n"), 0o644)
	if code, stdout, stderr := runTokenizeCmd("-model", tinyA, "-decode", "-f", idFile); code != 0 || stdout != "Hello world\n" {
		t.Errorf("-decode -f: %d, %q (%s)", code, stdout, stderr)
	}
}

func TestTokenizeHelp(t *testing.T) {
	code, _, stderr := runTokenizeCmd("-h")
	if code != 0 || !strings.Contains(stderr, "usage: minitron tokenize -model DIR") || !strings.Contains(stderr, "-decode") {
		t.Errorf("tokenize -h = %d, %q", code, stderr)
	}
}
