package minitron_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/nemotron"
)

// The checkpoints in testdata have random weights: the text they write is noise, but the
// same noise every time, which is what an example's output needs.

func Example() {
	m, err := minitron.Load("testdata/models/tiny-a", minitron.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	res, err := m.Generate(context.Background(), "Once upon a time", minitron.GenerateOptions{MaxTokens: 8}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.IDs, res.Stop)
	// Output: [4058 3245 3457 1610 1839 3457 460 4034] max tokens
}

// Stream yields each token as soon as it is decoded.
func ExampleModel_Stream() {
	m, err := minitron.Load("testdata/models/tiny-a", minitron.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	opts := minitron.GenerateOptions{
		Sampling:  nemotron.Sampling{Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 42},
		MaxTokens: 5,
	}
	for tok, err := range m.Stream(context.Background(), "The capital of France is", opts) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d %q\n", tok.ID, tok.Text)
	}
	// Output:
	// 1963 "』"
	// 2068 "δ"
	// 2001 "У"
	// 1528 " addr"
	// 3661 "遷"
}

// Stop strings end a generation before they are printed.
func ExampleModel_Generate_stop() {
	m, err := minitron.Load("testdata/models/tiny-a", minitron.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	res, err := m.Generate(context.Background(), "Once upon a time", minitron.GenerateOptions{MaxTokens: 20, Stop: []string{"sp"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q %s\n", res.Text, res.Stop)
	// Output: "舍幸袖8ข袖" stop string
}

// Options and prompts the library refuses are of a kind errors.Is tells apart from failures
// of the files or the machine; the command exits with status 2 for them.
func ExampleErrBadInput() {
	m, err := minitron.Load("testdata/models/tiny-a", minitron.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	_, err = m.Generate(context.Background(), "Once upon a time", minitron.GenerateOptions{MaxTokens: 1000}, nil)
	fmt.Println(errors.Is(err, minitron.ErrBadInput), err)
	// Output: true 1000 new tokens after a prompt of 8 exceed the context of 512 tokens (at most 504)
}

// Net is the network beneath the text API: here, the logits of a prompt's last position and
// the greedy choice among them, which is the first token Generate would give.
func ExampleModel_Net() {
	m, err := minitron.Load("testdata/models/tiny-a", minitron.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ids := m.Tokenizer.Encode("Once upon a time")
	s, err := m.Net().NewState(len(ids))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	logits, err := s.Forward(context.Background(), ids, nemotron.LastLogits, nil)
	if err != nil {
		log.Fatal(err)
	}
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	fmt.Println(len(logits) == m.Config().VocabSize, best)
	// Output: true 4058
}

// Score gives every token's log-probability given the text before it; the sum and the
// perplexity come from the scores.
func ExampleModel_Score() {
	m, err := minitron.Load("testdata/models/tiny-a", minitron.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	scores, err := m.Score(context.Background(), "Once upon a time", minitron.ScoreOptions{Top: 1})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range scores[:3] {
		if !s.Scored {
			fmt.Println(s.ID, "(first token: no log-probability)")
			continue
		}
		fmt.Printf("%d %.2f greedy=%v (most likely: %d)\n", s.ID, s.Logprob, s.Greedy, s.Top[0].ID)
	}
	sum, n := scores.LogLikelihood()
	fmt.Printf("%.1f over %d tokens, perplexity %.3g\n", sum, n, scores.Perplexity())
	// Output:
	// 2 (first token: no log-probability)
	// 918 -11.36 greedy=false (most likely: 966)
	// 1551 -11.46 greedy=false (most likely: 2663)
	// -87.6 over 7 tokens, perplexity 2.71e+05
}
