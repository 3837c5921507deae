package nemotron_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

func generate(t *testing.T, m *nemotron.Model, prompt []int32, opts nemotron.GenerateOptions) ([]int32, nemotron.Generation) {
	t.Helper()
	var ids []int32
	g, err := m.Generate(context.Background(), prompt, opts, func(id int32, _ bool) bool {
		ids = append(ids, id)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, g
}

func TestGenerateGreedyGolden(t *testing.T) {
	for _, name := range goldentest.Models {
		g := goldentest.Load(t, goldentest.Dir(1, name))
		m := loadModel(t, name, 2)
		for _, gc := range g.Greedy {
			ids, res := generate(t, m, gc.PromptIDs, nemotron.GenerateOptions{MaxTokens: len(gc.NewIDs), EOS: []int32{}})
			if fmt.Sprint(ids) != fmt.Sprint(gc.NewIDs) {
				t.Errorf("%s %s:\n got %v\nwant %v", name, gc.Case, ids, gc.NewIDs)
			}
			if res.Stop != nemotron.StopMaxTokens || res.Tokens != len(gc.NewIDs) || res.PromptTokens != len(gc.PromptIDs) {
				t.Errorf("%s %s: %+v", name, gc.Case, res)
			}
		}
	}
}

func TestGenerateStops(t *testing.T) {
	m := loadModel(t, "tiny-a", 2)
	prompt := []int32{2, 380, 1554, 318}
	greedy, _ := generate(t, m, prompt, nemotron.GenerateOptions{MaxTokens: 10, EOS: []int32{}})

	// The third greedy token declared an end of sequence: yielded, then stop.
	ids, res := generate(t, m, prompt, nemotron.GenerateOptions{MaxTokens: 10, EOS: []int32{greedy[2]}})
	if len(ids) != 3 || res.Stop != nemotron.StopEOS {
		t.Errorf("eos: %v %v", ids, res.Stop)
	}
	// The context fills: max_position_embeddings is 512.
	long := make([]int32, 508)
	for i := range long {
		long[i] = int32(5 + i)
	}
	ids, res = generate(t, m, long, nemotron.GenerateOptions{EOS: []int32{}})
	if len(ids) != 4 || res.Stop != nemotron.StopContextFull {
		t.Errorf("context: %d tokens, %v", len(ids), res.Stop)
	}
	// The callback stops it.
	n := 0
	res, err := m.Generate(context.Background(), prompt, nemotron.GenerateOptions{MaxTokens: 10}, func(int32, bool) bool { n++; return n < 2 })
	if err != nil || n != 2 || res.Stop != nemotron.StopRequested {
		t.Errorf("requested: %d %v %v", n, res.Stop, err)
	}
	// Bad input and options, each of its kind.
	for _, tt := range []struct {
		prompt []int32
		opts   nemotron.GenerateOptions
		kind   error
		want   string
	}{
		{nil, nemotron.GenerateOptions{}, nemotron.ErrBadInput, "empty prompt"},
		{make([]int32, 512), nemotron.GenerateOptions{}, nemotron.ErrBadInput, "leaves no room"},
		{make([]int32, 500), nemotron.GenerateOptions{MaxTokens: 13}, nemotron.ErrBadInput, "13 new tokens after a prompt of 500 exceed the context of 512 tokens (at most 12)"},
		{prompt, nemotron.GenerateOptions{MaxTokens: -1}, nemotron.ErrBadOption, "negative"},
		{prompt, nemotron.GenerateOptions{Sampling: nemotron.Sampling{TopP: 2}}, nemotron.ErrBadOption, "top-p"},
		{[]int32{2, 9999}, nemotron.GenerateOptions{}, nemotron.ErrBadInput, "outside the vocabulary"},
	} {
		_, err := m.Generate(context.Background(), tt.prompt, tt.opts, func(int32, bool) bool { return true })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%d ids %+v: %v, want %q", len(tt.prompt), tt.opts, err, tt.want)
		}
		for _, kind := range []error{nemotron.ErrBadInput, nemotron.ErrBadOption} {
			if errors.Is(err, kind) != (kind == tt.kind) {
				t.Errorf("%d ids %+v: %v: errors.Is(%v) = %v", len(tt.prompt), tt.opts, err, kind, !(kind == tt.kind))
			}
		}
		if err != nil && strings.Contains(err.Error(), "bad ") {
			t.Errorf("the kind's name leaked into the message %q", err)
		}
	}
	// The limit is exact: the prompt and MaxTokens may fill the context.
	ids, res = generate(t, m, make([]int32, 500), nemotron.GenerateOptions{MaxTokens: 12, EOS: []int32{}})
	if len(ids) != 12 || res.Stop != nemotron.StopMaxTokens {
		t.Errorf("prompt and max tokens filling the context: %d tokens, %v", len(ids), res.Stop)
	}
}

// Cancelling stops a generation within one token.
func TestGenerateCancel(t *testing.T) {
	m := loadModel(t, "small-c", 2)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := m.Generate(ctx, []int32{2, 5, 6}, nemotron.GenerateOptions{MaxTokens: 100}, func(int32, bool) bool {
		n++
		if n == 3 {
			cancel()
		}
		return true
	})
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Errorf("after cancelling at token 3: %d tokens, %v", n, err)
	}
}

// Seeded sampling is reproducible, and generations running at once on one model give what
// they give one after another.
func TestGenerateConcurrent(t *testing.T) {
	m := loadModel(t, "tiny-a", 2)
	opts := func(i int) nemotron.GenerateOptions {
		return nemotron.GenerateOptions{MaxTokens: 12, Sampling: nemotron.Sampling{Temperature: 0.9, TopK: 50, TopP: 0.95, Seed: uint64(i)}}
	}
	prompt := func(i int) []int32 { return []int32{2, int32(300 + i), 1554, 318} }
	const n = 8
	sequential := make([][]int32, n)
	for i := range n {
		sequential[i], _ = generate(t, m, prompt(i), opts(i))
	}
	again, _ := generate(t, m, prompt(3), opts(3))
	if fmt.Sprint(again) != fmt.Sprint(sequential[3]) {
		t.Errorf("same seed, different tokens: %v vs %v", again, sequential[3])
	}
	concurrent := make([][]int32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := m.Generate(context.Background(), prompt(i), opts(i), func(id int32, _ bool) bool {
				concurrent[i] = append(concurrent[i], id)
				return true
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if fmt.Sprint(concurrent[i]) != fmt.Sprint(sequential[i]) {
			t.Errorf("generation %d: concurrent %v, sequential %v", i, concurrent[i], sequential[i])
		}
	}
}
