// Package minitron runs NVIDIA's Minitron and other Nemotron-4 language models: load a
// checkpoint once, then generate text from it, streaming, as many times and on as many
// goroutines as you like. Concurrent generations are batched: each step of the network
// advances all of them at once, reading the weights once (see package engine).
//
//	m, err := minitron.Load("nvidia/Minitron-4B-Base", minitron.Options{})
//	if err != nil { ... }
//	defer m.Close()
//	for tok, err := range m.Stream(ctx, "The capital of France is", minitron.GenerateOptions{MaxTokens: 20}) {
//		if err != nil { ... }
//		fmt.Print(tok.Text)
//	}
//
// The packages beneath this one are the engine: nemotron (the model), sentencepiece (the
// tokenizer), backend (CPU and GPU), checkpoint (safetensors, PyTorch and GGUF files) and hub
// (the Hugging Face cache), and engine (the scheduler that batches concurrent generations).
package minitron

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/minitron-go/minitron/backend"
	_ "github.com/minitron-go/minitron/backend/cpu"  // registers the CPU backend
	_ "github.com/minitron-go/minitron/backend/cuda" // registers the GPU backend
	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/hub"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/sentencepiece"
	"github.com/minitron-go/minitron/tensor"
)

// Errors of these kinds are the caller's to fix, tested with errors.Is (a command maps them to
// a usage error); any other error is a failure of the files, the model or the machine.
var (
	ErrBadInput  = nemotron.ErrBadInput  // a prompt that is empty or does not fit the context
	ErrBadOption = nemotron.ErrBadOption // an option out of its range, an unknown backend
)

// Options configure Load. The zero value runs on the CPU, on every core, in exact precision.
type Options struct {
	Backend   string                  // "cpu" (default), "cuda" or "auto"
	Threads   int                     // CPU threads; 0 means one per core
	Precision backend.Precision       // backend.Exact (default) or backend.Fast
	Warn      func(msg string)        // notes a user should see, such as a fallback to the CPU
	Progress  func(done, total int64) // bytes of weights loaded, as loading goes
	Quant     nemotron.Quant          // quantize the matrices as they load (nemotron.QuantQ8_0, …)
	// Batching bounds what concurrent generations share: the positions of one step, the
	// generations advanced together, the KV-cache rows or bytes they hold, and the rows kept
	// from ended generations for later ones to reuse (their memory, and their prompts' rows
	// for prompts that begin the same way). Zero values are the defaults.
	Batching engine.Options
}

// validate checks the options and fills in the defaults.
func (o *Options) validate() error {
	if o.Backend == "" {
		o.Backend = "cpu"
	}
	if o.Backend != "auto" && !slices.Contains(backend.Names(), o.Backend) {
		return nemotron.BadOption("unknown backend %q (have %s, auto)", o.Backend, strings.Join(backend.Names(), ", "))
	}
	switch {
	case o.Threads < 0:
		return nemotron.BadOption("%d threads: want at least 1, or 0 for one per core", o.Threads)
	case o.Threads == 0:
		o.Threads = runtime.NumCPU()
	}
	if o.Precision != backend.Exact && o.Precision != backend.Fast {
		return nemotron.BadOption("unknown precision %d", int(o.Precision))
	}
	if _, err := nemotron.ParseQuant(string(o.Quant)); err != nil {
		return err
	}
	if b := o.Batching; b.StepTokens < 0 || b.MaxRunning < 0 || b.CacheRows < 0 || b.CacheBytes < 0 || b.KeepRows < 0 {
		return nemotron.BadOption("batching %+v: negative", b)
	}
	return nil
}

// Model is a loaded model: the network on its backend, the engine that batches the
// generations asked of it, and the tokenizer that turns text into its token ids. It is safe
// for concurrent use.
type Model struct {
	net       *nemotron.Model
	engine    *engine.Engine
	backend   backend.Backend
	Tokenizer *sentencepiece.Tokenizer
	Dir       string // where the checkpoint was found: its directory, or the GGUF file
}

// Load opens a model: a checkpoint directory, a Hugging Face id (ORG/NAME[@REV]) already in
// the local Hugging Face cache (see `minitron pull`), or a GGUF file of llama.cpp's nemotron
// architecture (any path that is a file, or ends in .gguf), tokenized by the tokenizer in its
// metadata. Options out of range are ErrBadOption; a model that cannot be found or read is not.
//
// opts.Quant quantizes the matrices as they load (nemotron.Quant.Format gives the mix), on a
// backend that multiplies by quantized weights (backend.QuantizedWeights: the CPU's); on
// another it is an ErrBadOption, since there the weights would be dequantized again as they
// upload. The matrices of a quantized GGUF file (Q8_0, Q4_K, Q5_K, Q6_K) stay quantized on
// such a backend; on another (CUDA) they are dequantized to F32 as they upload, and opts.Warn
// is told so: the file then runs with the memory and at the speed of an F32 one, with the
// quantized weights' values.
func Load(model string, opts Options) (*Model, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	path, isFile := GGUFPath(model)
	dir := path
	if !isFile {
		var err error
		if dir, err = hub.Resolve(model); err != nil {
			return nil, err
		}
	}
	b, err := backend.Open(opts.Backend, backend.Options{Threads: opts.Threads, Precision: opts.Precision, Warn: opts.Warn})
	if err != nil {
		return nil, err
	}
	if opts.Quant != nemotron.NoQuant && !keepsQuantized(b) {
		b.Close()
		return nil, nemotron.BadOption("quantization %s: the %s backend has no kernels for quantized weights and would dequantize them to F32 again as they upload; quantize on the cpu backend", opts.Quant, b.Name())
	}
	var tok *sentencepiece.Tokenizer
	var net *nemotron.Model
	if isFile {
		tok, net, err = loadGGUF(path, b, opts)
	} else {
		tok, net, err = loadDir(dir, b, opts)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	if v := net.Config.VocabSize; tok.VocabSize() > v {
		net.Close()
		b.Close()
		return nil, fmt.Errorf("%s: the tokenizer has %d pieces, more than the model's vocabulary of %d", dir, tok.VocabSize(), v)
	}
	eng, err := engine.New(net, opts.Batching)
	if err != nil {
		net.Close()
		b.Close()
		return nil, err
	}
	return &Model{net: net, engine: eng, backend: b, Tokenizer: tok, Dir: dir}, nil
}

// LoadTokenizer loads only the tokenizer of a model named as Load takes it: tokenizer.model
// (with BOS and EOS as the checkpoint asks) or, for a GGUF file, its tokenizer metadata.
func LoadTokenizer(model string) (*sentencepiece.Tokenizer, error) {
	path, isFile := GGUFPath(model)
	if !isFile {
		dir, err := hub.Resolve(model)
		if err != nil {
			return nil, err
		}
		return sentencepiece.LoadDir(dir)
	}
	f, err := openGGUF(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ggufTokenizer(f)
}

// openGGUF opens the GGUF file at path; a file that is not one, and not named as one, is
// taken to be a mistake for a checkpoint directory.
func openGGUF(path string) (*gguf.File, error) {
	f, err := gguf.Open(path)
	if err != nil && !strings.HasSuffix(strings.ToLower(path), ".gguf") {
		if st, serr := os.Stat(path); serr == nil && !st.IsDir() {
			return nil, fmt.Errorf("model %s is not a directory (give the directory that holds config.json) nor a GGUF file: %w", path, err)
		}
	}
	return f, err
}

// ggufTokenizer is the tokenizer in f's metadata, which the file must have.
func ggufTokenizer(f *gguf.File) (*sentencepiece.Tokenizer, error) {
	if !sentencepiece.HasGGUF(f) {
		return nil, fmt.Errorf("%s: no tokenizer in the metadata (tokenizer.ggml.model is missing)", f.Path())
	}
	return sentencepiece.LoadGGUF(f)
}

// GGUFPath reports whether model names a file, which Load reads as GGUF (a path ending in
// .gguf counts even when missing, so that the error is about that file), and the path with
// ~/ expanded as a shell would.
func GGUFPath(model string) (string, bool) {
	path := model
	if strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, path[2:])
		}
	}
	if st, err := os.Stat(path); err == nil {
		return path, !st.IsDir()
	}
	return path, strings.HasSuffix(strings.ToLower(path), ".gguf")
}

// loadDir loads a checkpoint directory: tokenizer.model, config.json and the weights.
func loadDir(dir string, b backend.Backend, opts Options) (*sentencepiece.Tokenizer, *nemotron.Model, error) {
	tok, err := sentencepiece.LoadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	net, err := nemotron.Load(dir, b, nemotron.LoadOptions{Progress: opts.Progress, Quant: opts.Quant})
	return tok, net, err
}

// keepsQuantized reports whether b multiplies by weights in block formats as they are stored.
func keepsQuantized(b backend.Backend) bool {
	q, ok := b.(backend.QuantizedWeights)
	return ok && q.KeepsQuantized(tensor.Q8_0) && q.KeepsQuantized(tensor.Q4_K) && q.KeepsQuantized(tensor.Q6_K)
}

// loadGGUF loads a GGUF file: its tokenizer metadata, then the model, quantized matrices kept
// quantized where the backend multiplies by them and dequantized as they upload elsewhere
// (see Load).
func loadGGUF(path string, b backend.Backend, opts Options) (*sentencepiece.Tokenizer, *nemotron.Model, error) {
	f, err := openGGUF(path)
	if err != nil {
		return nil, nil, err
	}
	tok, err := ggufTokenizer(f)
	quantized := map[string]int{}
	for _, in := range f.Infos() {
		if dt, ok := in.Type.DType(); ok && dt.Quantized() {
			quantized[in.Type.String()]++
		}
	}
	f.Close()
	if err != nil {
		return nil, nil, err
	}
	if len(quantized) > 0 && opts.Warn != nil && !keepsQuantized(b) {
		var kinds []string
		for t, n := range quantized {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, t))
		}
		slices.Sort(kinds)
		opts.Warn(fmt.Sprintf("%s: quantized tensors (%s) are dequantized to F32 as they upload: the %s backend has no quantized matrix kernels, so this file runs with the memory and speed of an F32 model", path, strings.Join(kinds, ", "), b.Name()))
	}
	net, err := nemotron.LoadGGUF(path, b, nemotron.LoadOptions{Progress: opts.Progress, Quant: opts.Quant})
	return tok, net, err
}

// Close ends the generations still running (with engine.ErrClosed) and releases the weights
// and the backend.
func (m *Model) Close() error {
	return errors.Join(m.engine.Close(), m.net.Close(), m.backend.Close())
}

// Engine is the scheduler the model's generations go through, for its Stats.
func (m *Model) Engine() *engine.Engine { return m.engine }

// Net is the network itself, for what the text API does not cover: states of its own
// (Forward with every position's logits, activations), generation from token ids without text.
func (m *Model) Net() *nemotron.Model { return m.net }

// Config is the model's architecture, as its config.json gives it.
func (m *Model) Config() nemotron.Config { return m.net.Config }

// BackendName describes the backend the model runs on, such as "cpu/avx512 exact, 2 threads".
func (m *Model) BackendName() string { return m.backend.Name() }

// GenerateOptions configure a generation. The zero value decodes greedily until EOS or a
// full context.
type GenerateOptions struct {
	nemotron.Sampling
	MaxTokens int      // new tokens at most; 0 means until EOS or a full context
	Stop      []string // stop before any of these strings; they are not part of the output
	// EOS lists the token ids that end the generation; nil means the model's eos_token_id.
	EOS []int32
	// Lookup, when above 0, checks up to that many tokens guessed from the context in each
	// decoding step (prompt lookup, at most nemotron.MaxLookup): the same tokens as without,
	// sooner when the text repeats its context.
	Lookup int
}

// Validate checks the options on their own, as Generate does first, so that a caller can
// check them before loading a model. Its errors are ErrBadOption.
func (o GenerateOptions) Validate() error {
	for _, s := range o.Stop {
		if s == "" || !utf8.ValidString(s) {
			return nemotron.BadOption("stop string %q: must be non-empty, valid UTF-8", s)
		}
	}
	return o.nemotron().Validate()
}

func (o GenerateOptions) nemotron() nemotron.GenerateOptions {
	return nemotron.GenerateOptions{Sampling: o.Sampling, MaxTokens: o.MaxTokens, EOS: o.EOS, Lookup: o.Lookup}
}

// Token is one generated token and the text it completes. Text may be empty (a token that
// begins a multi-byte character, or text held back while it could begin a stop string) and
// may carry text of earlier tokens once it is released.
type Token struct {
	ID   int32
	Text string
}

// Result is a finished generation.
type Result struct {
	nemotron.Generation
	IDs  []int32 // the new tokens, those up to a stop string included
	Text string  // the new text, without the stop string
}

// Generate continues prompt (text, tokenized with BOS as the checkpoint asks), calling
// onToken (which may be nil) for each token as it is decoded; onToken returning false stops.
// Generations on several goroutines are batched, each with its own sampling and seed.
func (m *Model) Generate(ctx context.Context, prompt string, opts GenerateOptions, onToken func(Token) bool) (Result, error) {
	if prompt == "" {
		return Result{}, nemotron.BadInput("empty prompt")
	}
	return m.GenerateIDs(ctx, m.Tokenizer.Encode(prompt), opts, onToken)
}

// GenerateIDs is Generate for a prompt given as token ids.
func (m *Model) GenerateIDs(ctx context.Context, prompt []int32, opts GenerateOptions, onToken func(Token) bool) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	var res Result
	var text strings.Builder
	dec := m.Tokenizer.NewDecoder()
	stop := stopper{stops: opts.Stop}
	var decErr error
	g, err := m.engine.Generate(ctx, prompt, opts.nemotron(),
		func(id int32, last bool) bool {
			res.IDs = append(res.IDs, id)
			piece, err := dec.Next(id)
			if err != nil {
				decErr = err
				return false
			}
			if last {
				piece += dec.Flush()
			}
			out, found := stop.push(piece, last)
			text.WriteString(out)
			if found {
				res.Stop = nemotron.StopString
			}
			if onToken != nil && !onToken(Token{ID: id, Text: out}) {
				return false
			}
			return !found
		})
	if decErr != nil {
		return res, decErr
	}
	stopReason := res.Stop
	res.Generation = g
	if stopReason == nemotron.StopString {
		res.Stop = stopReason
	}
	res.Text = text.String()
	return res, err
}

// Stream is Generate as an iterator: it yields each token as it is decoded, then ends; an
// error is yielded once, last. Breaking out of the loop stops the generation.
func (m *Model) Stream(ctx context.Context, prompt string, opts GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		stopped := false
		_, err := m.Generate(ctx, prompt, opts, func(t Token) bool {
			if !yield(t, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(Token{ID: -1}, err)
		}
	}
}

// stopper releases generated text, holding back what could be the start of a stop string.
type stopper struct {
	stops []string
	held  string
}

// push adds text and returns what may be printed; found reports a stop string, in which
// case the text before it is returned and the rest dropped. At the end, everything held
// goes out.
func (s *stopper) push(text string, end bool) (out string, found bool) {
	if len(s.stops) == 0 {
		return text, false
	}
	buf := s.held + text
	first := -1
	for _, st := range s.stops {
		if i := strings.Index(buf, st); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		s.held = ""
		return buf[:first], true
	}
	if end {
		s.held = ""
		return buf, false
	}
	// Hold the longest tail of buf that begins some stop string.
	keep := 0
	for _, st := range s.stops {
		for n := min(len(st)-1, len(buf)); n > keep; n-- {
			if strings.HasSuffix(buf, st[:n]) {
				keep = n
				break
			}
		}
	}
	s.held = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}
