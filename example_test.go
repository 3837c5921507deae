package minitron_test

import (
	"context"
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
