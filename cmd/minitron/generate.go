package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/nemotron"
)

func init() {
	commands["generate"] = command{
		summary: "generate text from a prompt, streaming it to stdout",
		run:     runGenerate,
	}
}

// stringList is a flag that may be given several times.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", "generate -model DIR|ORG/NAME -prompt TEXT [flags]", stderr)
	var mf modelFlags
	mf.register(fs)
	prompt := fs.String("prompt", "", "the `text` to continue")
	idsFlag := fs.String("ids", "", "the prompt as token `ids` (comma-separated), instead of -prompt")
	n := fs.Int("n", 128, "new tokens at most; 0 means until EOS or a full context")
	temp := fs.Float64("temp", 0.8, "sampling temperature; 0 is greedy")
	topK := fs.Int("top-k", 40, "keep the k most likely tokens; 0 keeps all")
	topP := fs.Float64("top-p", 0.95, "keep the most likely tokens holding this much probability; 1 keeps all")
	minP := fs.Float64("min-p", 0.05, "drop tokens less likely than this fraction of the most likely; 0 keeps all")
	repeat := fs.Float64("repeat-penalty", 1, "penalise tokens already in the sequence (1 is off)")
	seed := fs.Int64("seed", -1, "random seed; -1 picks one and prints it")
	var stops stringList
	fs.Var(&stops, "stop", "stop before this `string` (may be repeated)")
	lookup := fs.Int("lookup", 0, fmt.Sprintf("check up to `N` tokens guessed from the context each step (prompt lookup, at most %d; same output, sooner on repetitive text); 0 is off", nemotron.MaxLookup))
	kvCache := fs.String("kv-cache", "f32", "store the KV cache as f32 (exact), bf16 or f16 (half the memory; logits move by the rounding)")
	printIDs := fs.Bool("print-ids", false, "print the generated ids as a JSON array instead of text")
	bos := fs.String("bos", "auto", "add BOS to a -prompt: auto (as the checkpoint says), true or false")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}

	// Everything that can be checked before loading is.
	switch {
	case *prompt != "" && *idsFlag != "":
		return usagef("give -prompt or -ids, not both")
	case *prompt == "" && *idsFlag == "":
		return usagef("empty prompt: give -prompt TEXT or -ids 2,380,...")
	case *bos != "auto" && *bos != "true" && *bos != "false":
		return usagef("-bos %q: want auto, true or false", *bos)
	}
	var ids []int32
	if *idsFlag != "" {
		var err error
		if ids, err = parseIDs(*idsFlag); err != nil {
			return usagef("-ids: %v", err)
		}
	}
	sampling := nemotron.Sampling{Temperature: *temp, TopK: *topK, TopP: *topP, MinP: *minP, RepetitionPenalty: *repeat}
	if *seed < 0 {
		sampling.Seed = rand.Uint64() >> 1
		if *temp > 0 && !*printIDs {
			fmt.Fprintf(stderr, "seed %d\n", sampling.Seed)
		}
	} else {
		sampling.Seed = uint64(*seed)
	}
	opts := minitron.GenerateOptions{Sampling: sampling, MaxTokens: *n, Stop: stops, Lookup: *lookup}
	if err := opts.Validate(); err != nil {
		return err // ErrBadOption
	}
	kv, err := nemotron.ParseKVCache(*kvCache)
	if err != nil {
		return err
	}
	lopts, err := mf.options(stderr)
	if err != nil {
		return err
	}
	lopts.Batching.KVCache = kv

	start := time.Now()
	lp := newLoadProgress(stderr, mf.model)
	lopts.Progress = lp.report
	m, err := mf.loadWith(lopts)
	lp.finish()
	if err != nil {
		return err
	}
	defer m.Close()
	loadTime := time.Since(start)

	if ids == nil {
		switch *bos {
		case "true":
			m.Tokenizer.AddBOS = true
		case "false":
			m.Tokenizer.AddBOS = false
		}
		ids = m.Tokenizer.Encode(*prompt)
	}

	// The library checks that the prompt and -n fit the context (ErrBadInput).
	var w io.Writer = stdout
	if *printIDs {
		w = io.Discard
	}
	var lastText string
	res, err := m.GenerateIDs(ctx, ids, opts, func(t minitron.Token) bool {
		if t.Text != "" {
			io.WriteString(w, t.Text)
			lastText = t.Text
		}
		return true
	})
	if isUsage(err) {
		return err // refused before the first token: nothing to print
	}
	if *printIDs {
		out := res.IDs
		if out == nil {
			out = []int32{}
		}
		b, _ := json.Marshal(out)
		fmt.Fprintf(stdout, "%s\n", b)
	} else if lastText != "" && !strings.HasSuffix(lastText, "\n") {
		fmt.Fprintln(stdout)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted after %d tokens", len(res.IDs))
		}
		return err
	}
	fmt.Fprintf(stderr, "load %.2f s (%s) | prompt %d tokens, %s | generated %d tokens, %s | stop: %s\n",
		loadTime.Seconds(), m.BackendName(),
		res.PromptTokens, rate(res.PromptTokens, res.Prefill),
		res.Tokens, rate(res.Tokens-1, res.Decode), res.Stop)
	if *lookup > 0 {
		// Every pass after the first token's gives one token and the drafts it accepts.
		passes := res.Tokens - 1 - res.Accepted
		fmt.Fprintf(stderr, "lookup: %d of %d drafts accepted, %s tokens a pass\n",
			res.Accepted, res.Drafted, perPass(res.Tokens-1, passes))
	}
	return nil
}

// rate formats tokens per second; the first new token's time belongs to the prompt.
func rate(tokens int, d time.Duration) string {
	if tokens <= 0 || d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f tok/s", float64(tokens)/d.Seconds())
}

func perPass(tokens, passes int) string {
	if passes <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(tokens)/float64(passes))
}

// loadProgress shows how much of a large model is loaded.
type loadProgress struct {
	w     io.Writer
	name  string
	start time.Time
	shown bool
	last  time.Time
}

func newLoadProgress(w io.Writer, name string) *loadProgress {
	return &loadProgress{w: w, name: name, start: time.Now()}
}

func (p *loadProgress) report(done, total int64) {
	// Small models load in a blink: say nothing unless it takes a while.
	now := time.Now()
	if now.Sub(p.start) < 500*time.Millisecond || now.Sub(p.last) < 200*time.Millisecond && done < total {
		return
	}
	p.last, p.shown = now, true
	fmt.Fprintf(p.w, "\rloading %s: %3.0f%% of %s", p.name, 100*float64(done)/float64(max(total, 1)), pullSize(total))
}

func (p *loadProgress) finish() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
