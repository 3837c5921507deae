package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// idsArg spells ids as -ids takes them.
func idsArg(ids []int32) string {
	return strings.Trim(strings.ReplaceAll(fmt.Sprint(ids), " ", ","), "[]")
}

// -json reports the float64 log-softmax of the golden logits (within 1e-4, as the library's
// test), the first token null, and totals that add up.
func TestScoreCommandJSON(t *testing.T) {
	g := goldentest.Load(t, modelDir("small-c"))
	c := g.Cases[2] // 50 tokens: four blocks of logits
	code, stdout, stderr := runCmd("score", "-model", modelDir("small-c"), "-ids", idsArg(c.IDs), "-top", "3", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out scoreJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(out.Tokens) != len(c.IDs) || out.Scored != len(c.IDs)-1 || out.Tokens[0].Logprob != nil || out.Tokens[0].Greedy != nil {
		t.Fatalf("%d tokens, %d scored, first %+v", len(out.Tokens), out.Scored, out.Tokens[0])
	}
	if !strings.Contains(stdout, `"pos":0,"id":2,"token":"<s>","logprob":null}`) {
		t.Errorf("first token not null: %.200s", stdout)
	}
	logits := g.Tensor(t, c.Name+".logits")
	vocab := len(logits) / len(c.IDs)
	var got, want []float64
	var sum float64
	for p, tok := range out.Tokens[1:] {
		row := logits[p*vocab : (p+1)*vocab]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = max(mx, float64(x))
		}
		var s float64
		for _, x := range row {
			s += math.Exp(float64(x) - mx)
		}
		if tok.Logprob == nil || tok.Greedy == nil || len(tok.Top) != 3 {
			t.Fatalf("position %d: %+v", p+1, tok)
		}
		got = append(got, *tok.Logprob)
		want = append(want, float64(row[c.IDs[p+1]])-mx-math.Log(s))
		sum += *tok.Logprob
		if *tok.Greedy != (tok.Top[0].ID == tok.ID) || *tok.Greedy != (tok.Top[0].Logprob == *tok.Logprob) {
			t.Errorf("position %d: greedy %v, top %+v", p+1, *tok.Greedy, tok.Top[0])
		}
	}
	if err := near.Check(got, want, 1e-4); err != nil {
		t.Error(err)
	}
	if out.Perplexity == nil {
		t.Fatal("no perplexity")
	}
	if err := near.Check([]float64{out.LogLikelihood, *out.Perplexity}, []float64{sum, math.Exp(-sum / float64(out.Scored))}, 1e-9); err != nil {
		t.Errorf("totals: %v", err)
	}
}

// The table: a header, a row per reported token, the totals; -f and -prompt score the same text.
func TestScoreCommandTable(t *testing.T) {
	text := "Once upon a time"
	file := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, byPrompt, stderr := runCmd("score", "-model", modelDir("tiny-a"), "-prompt", text, "-from", "2", "-top", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, byFile, _ := runCmd("score", "-model", modelDir("tiny-a"), "-f", file, "-from", "2", "-top", "2"); byFile != byPrompt {
		t.Errorf("-f gave\n%s\n-prompt gave\n%s", byFile, byPrompt)
	}
	lines := strings.Split(strings.TrimSuffix(byPrompt, "\n"), "\n")
	if lines[0] != "pos\tid\ttoken\tlogprob\tgreedy\ttop" {
		t.Errorf("header %q", lines[0])
	}
	row := regexp.MustCompile(`^\d+\t\d+\t[^\t]+\t-\d+\.\d{6}\t(yes|no)\t\d+:[^\t ]*:-\d+\.\d{6} \d+:[^\t ]*:-\d+\.\d{6}$`)
	rows := lines[1 : len(lines)-1]
	if len(rows) != 6 || !strings.HasPrefix(rows[0], "2\t") { // "<s> ▁O n ce ▁up on ▁a ▁time": positions 2…7
		t.Errorf("rows:\n%s", strings.Join(rows, "\n"))
	}
	for _, r := range rows {
		if !row.MatchString(r) {
			t.Errorf("row %q", r)
		}
	}
	if total := lines[len(lines)-1]; !regexp.MustCompile(`^log-likelihood -\d+\.\d{6} over 6 tokens, perplexity \d+\.\d{4}$`).MatchString(total) {
		t.Errorf("totals %q", total)
	}

	// The first token alone: nothing scored, no perplexity.
	code, stdout, _ := runCmd("score", "-model", modelDir("tiny-a"), "-ids", "2")
	if code != 0 || stdout != "pos\tid\ttoken\tlogprob\tgreedy\n0\t2\t<s>\t-\t-\nlog-likelihood 0.000000 over 0 tokens, perplexity -\n" {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
	if code, stdout, _ := runCmd("score", "-model", modelDir("tiny-a"), "-ids", "2", "-json"); code != 0 || !strings.HasSuffix(stdout, `"log_likelihood":0,"scored":0,"perplexity":null}`+"\n") {
		t.Errorf("exit %d: %s", code, stdout)
	}
}

func TestScoreUsage(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	model := modelDir("tiny-a")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"score", "-model", model}, 2, "nothing to score"},
		{[]string{"score", "-model", model, "-ids", "2", "-prompt", "x"}, 2, "give one of"},
		{[]string{"score", "-ids", "2,5"}, 2, "-model is required"},
		{[]string{"score", "-model", model, "-ids", "2,x"}, 2, `"x" is not a token id`},
		{[]string{"score", "-model", model, "-ids", "2,5", "-from", "-1"}, 2, "-from -1 is negative"},
		{[]string{"score", "-model", model, "-ids", "2,5", "-from", "2"}, 2, "from 2 is outside the 2 tokens"},
		{[]string{"score", "-model", model, "-ids", "2,5", "-top", "-1"}, 2, "-top -1 is negative"},
		{[]string{"score", "-model", model, "-ids", "2,5", "-top", "5000"}, 2, "top 5000 is outside"},
		{[]string{"score", "-model", model, "-ids", "2,99999"}, 2, "token 99999 at index 1 is outside the vocabulary"},
		{[]string{"score", "-model", model, "-prompt", "x", "-bos", "maybe"}, 2, "-bos"},
		{[]string{"score", "-model", model, "-f", empty}, 2, "is empty"},
		{[]string{"score", "-model", model, "stray"}, 2, "unexpected argument"},
		{[]string{"score", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"score", "-model", model, "-f", filepath.Join(dir, "nope.txt")}, 1, "nope.txt"},
		{[]string{"score", "-model", filepath.Join(dir, "nope"), "-ids", "2,5"}, 1, "nope"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args, code, stdout, stderr, tt.code, tt.want)
		}
	}
	if code, _, _ := runCmd("score", "-h"); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}
