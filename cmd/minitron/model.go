package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/nemotron"
)

// modelFlags are the flags every command that runs a model shares.
type modelFlags struct {
	model     string
	backend   string
	threads   int
	precision string
	quant     string
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model `directory`, Hugging Face id (ORG/NAME[@REV]) in the local cache, or GGUF file")
	fs.StringVar(&f.backend, "backend", "cpu", "compute backend: cpu, cuda or auto")
	fs.IntVar(&f.threads, "threads", runtime.NumCPU(), "CPU worker threads")
	fs.StringVar(&f.quant, "quant", "none", "quantize the weights as they load: q8_0, q4_k or none")
	fs.StringVar(&f.precision, "precision", "exact", "exact (float32 activations) or fast (bf16 activations where the hardware multiplies them)")
}

// options turns the flags into minitron.Options, warnings going to stderr. The library
// checks their ranges; here only what it cannot see, the spelling of -precision.
func (f *modelFlags) options(stderr io.Writer) (minitron.Options, error) {
	if f.model == "" {
		return minitron.Options{}, usagef("-model is required")
	}
	prec, err := backend.ParsePrecision(f.precision)
	if err != nil {
		return minitron.Options{}, usagef("-precision: %v", err)
	}
	quant, err := nemotron.ParseQuant(f.quant)
	if err != nil {
		return minitron.Options{}, usagef("-quant: %v", err)
	}
	return minitron.Options{
		Quant:     quant,
		Backend:   f.backend,
		Threads:   f.threads,
		Precision: prec,
		Warn:      func(msg string) { fmt.Fprintln(stderr, msg) },
	}, nil
}

// load loads the model through minitron.Load, showing progress on stderr when it takes a while.
func (f *modelFlags) load(stderr io.Writer) (*minitron.Model, error) {
	opts, err := f.options(stderr)
	if err != nil {
		return nil, err
	}
	lp := newLoadProgress(stderr, f.model)
	opts.Progress = lp.report
	m, err := minitron.Load(f.model, opts)
	lp.finish()
	return m, err
}

// loadWith loads the model with options already made by options (and adjusted by the caller).
func (f *modelFlags) loadWith(opts minitron.Options) (*minitron.Model, error) {
	return minitron.Load(f.model, opts)
}
