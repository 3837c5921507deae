package minitron

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/minitron-go/minitron/nemotron"
)

func TestStopper(t *testing.T) {
	tests := []struct {
		stops  []string
		pieces []string
		want   []string // what each push releases
		found  int      // index of the push that finds a stop string, or -1
	}{
		{nil, []string{"a", "b"}, []string{"a", "b"}, -1},
		{[]string{"END"}, []string{"abc", "E", "N", "x"}, []string{"abc", "", "", "ENx"}, -1},
		{[]string{"END"}, []string{"abc", "EN", "D!"}, []string{"abc", "", ""}, 2},
		{[]string{"END"}, []string{"abEND tail"}, []string{"ab"}, 0},
		{[]string{"xy", "b"}, []string{"axyb"}, []string{"a"}, 0},
		{[]string{"\n\n"}, []string{"line\n", "\n"}, []string{"line", ""}, 1},
		{[]string{"ab"}, []string{"a"}, []string{"a"}, -1}, // end of generation: held text goes out
	}
	for _, tt := range tests {
		s := stopper{stops: tt.stops}
		found := -1
		for i, p := range tt.pieces {
			out, f := s.push(p, i == len(tt.pieces)-1)
			if out != tt.want[i] {
				t.Errorf("%q over %q: push %d released %q, want %q", tt.stops, tt.pieces, i, out, tt.want[i])
			}
			if f {
				found = i
				break
			}
		}
		if found != tt.found {
			t.Errorf("%q over %q: found at %d, want %d", tt.stops, tt.pieces, found, tt.found)
		}
	}
}

func TestStreamBreakAndErrors(t *testing.T) {
	m, err := Load("testdata/models/tiny-a", Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n := 0
	for _, err := range m.Stream(context.Background(), "Once", GenerateOptions{MaxTokens: 50}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("%d tokens before break", n)
	}
	var errs []error
	for _, err := range m.Stream(context.Background(), "", GenerateOptions{}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "empty prompt") || !errors.Is(errs[0], ErrBadInput) {
		t.Errorf("empty prompt: %v", errs)
	}
	if _, err := Load("testdata/models/nonexistent", Options{}); err == nil || errors.Is(err, ErrBadOption) || errors.Is(err, ErrBadInput) {
		t.Errorf("a missing model: %v, want an error of neither kind", err)
	}
}

// Every option and input the library refuses is refused with its kind, before any work.
func TestErrorKinds(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{Backend: "nosuch"}, `unknown backend "nosuch"`},
		{Options{Threads: -2}, "-2 threads"},
		{Options{Precision: 7}, "unknown precision 7"},
	} {
		m, err := Load("testdata/models/tiny-a", tt.opts)
		if err == nil {
			m.Close()
		}
		if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%+v): %v, want ErrBadOption %q", tt.opts, err, tt.want)
		}
	}

	m, err := Load("testdata/models/tiny-a", Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	long := strings.Repeat("word ", 600)
	for _, tt := range []struct {
		prompt string
		opts   GenerateOptions
		kind   error
		want   string
	}{
		{"x", GenerateOptions{Stop: []string{"\xc3"}}, ErrBadOption, "valid UTF-8"},
		{"x", GenerateOptions{Stop: []string{""}}, ErrBadOption, "non-empty"},
		{"x", GenerateOptions{MaxTokens: -1}, ErrBadOption, "negative"},
		{"x", GenerateOptions{Sampling: nemotron.Sampling{Temperature: -1}}, ErrBadOption, "temperature"},
		{"", GenerateOptions{}, ErrBadInput, "empty prompt"},
		{long, GenerateOptions{}, ErrBadInput, "leaves no room in the context of 512"},
		{"x", GenerateOptions{MaxTokens: 600}, ErrBadInput, "exceed the context of 512 tokens"},
	} {
		_, err := m.Generate(ctx, tt.prompt, tt.opts, func(Token) bool { t.Error("a refused generation yielded a token"); return false })
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Generate(%.10q, %+v): %v, want %v %q", tt.prompt, tt.opts, err, tt.kind, tt.want)
		}
		if tt.kind == ErrBadOption && tt.prompt != "" {
			if verr := tt.opts.Validate(); !errors.Is(verr, ErrBadOption) {
				t.Errorf("%+v.Validate() = %v, want ErrBadOption", tt.opts, verr)
			}
		}
	}
	if err := (GenerateOptions{MaxTokens: 3, Stop: []string{"\n"}}).Validate(); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}

// The model names its parts: the network, its configuration, the backend and the tokenizer.
func TestModelParts(t *testing.T) {
	m, err := Load("testdata/models/tiny-a", Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if c := m.Config(); c.VocabSize != 4096 || c.MaxPositions != 512 || m.Net().Config.Hidden != c.Hidden {
		t.Errorf("config %+v", c)
	}
	if !strings.HasPrefix(m.BackendName(), "cpu") {
		t.Errorf("backend %q", m.BackendName())
	}
	if m.Tokenizer.VocabSize() > m.Config().VocabSize || m.Dir != "testdata/models/tiny-a" {
		t.Errorf("tokenizer of %d pieces, dir %q", m.Tokenizer.VocabSize(), m.Dir)
	}
	// The network generates from ids as the model does from the same ids.
	ids := m.Tokenizer.Encode("Once upon a time")
	res, err := m.GenerateIDs(context.Background(), ids, GenerateOptions{MaxTokens: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []int32
	if _, err := m.Net().Generate(context.Background(), ids, nemotron.GenerateOptions{MaxTokens: 4}, func(id int32, _ bool) bool {
		got = append(got, id)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(res.IDs) {
		t.Errorf("Net().Generate %v, GenerateIDs %v", got, res.IDs)
	}
}

// Concurrent callers are batched without asking, and each gets what it gets alone: its
// tokens, text, stop reason and, with a seed, its samples.
func TestConcurrentGenerateBatched(t *testing.T) {
	m, err := Load("testdata/models/tiny-a", Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	prompts := []string{"Once", "Once upon a time", "The cat", "A long time ago in a land far away", "Hello"}
	type call struct {
		prompt string
		opts   GenerateOptions
	}
	var calls []call
	for i := range 12 {
		o := GenerateOptions{MaxTokens: 5 + 3*i}
		switch i % 3 {
		case 1:
			o.Sampling = nemotron.Sampling{Temperature: 0.9, TopP: 0.9, Seed: uint64(i)}
		case 2:
			o.Stop = []string{"e"}
		}
		calls = append(calls, call{prompts[i%len(prompts)], o})
	}
	alone := make([]Result, len(calls))
	for i, c := range calls {
		if alone[i], err = m.Generate(ctx, c.prompt, c.opts, nil); err != nil {
			t.Fatal(err)
		}
	}
	before := m.Engine().Stats()
	got := make([]Result, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = m.Generate(ctx, c.prompt, c.opts, nil)
		}()
	}
	close(start)
	wg.Wait()
	tokens := 0
	for i := range calls {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		g, a := got[i], alone[i]
		if fmt.Sprint(g.IDs) != fmt.Sprint(a.IDs) || g.Text != a.Text || g.Stop != a.Stop || g.Tokens != a.Tokens {
			t.Errorf("call %d %+v:\nconcurrent %v %q %v\n     alone %v %q %v", i, calls[i].opts, g.IDs, g.Text, g.Stop, a.IDs, a.Text, a.Stop)
		}
		if g.Prefill <= 0 || g.Decode < 0 {
			t.Errorf("call %d: prefill %v, decode %v", i, g.Prefill, g.Decode)
		}
		tokens += g.Tokens
	}
	after := m.Engine().Stats()
	steps := after.Steps - before.Steps
	t.Logf("%d tokens for %d callers in %d steps", tokens, len(calls), steps)
	if steps >= int64(tokens) {
		t.Errorf("%d steps for %d tokens: the callers were not batched", steps, tokens)
	}
}
