package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"

	"github.com/minitron-go/minitron/backend"
	_ "github.com/minitron-go/minitron/backend/cpu"  // registers "cpu"
	_ "github.com/minitron-go/minitron/backend/cuda" // registers "cuda"
	"github.com/minitron-go/minitron/nemotron"
)

// modelFlags are the flags every command that runs a model shares.
type modelFlags struct {
	model     string
	backend   string
	threads   int
	precision string
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model `directory` or Hugging Face id (ORG/NAME[@REV]) in the local cache")
	fs.StringVar(&f.backend, "backend", "cpu", "compute backend: cpu, cuda or auto")
	fs.IntVar(&f.threads, "threads", runtime.NumCPU(), "CPU worker threads")
	fs.StringVar(&f.precision, "precision", "exact", "exact (float32 activations) or fast (bf16 activations where the hardware multiplies them)")
}

// open resolves the model, opens the backend and loads the weights.
func (f *modelFlags) open(stderr io.Writer) (*nemotron.Model, backend.Backend, error) {
	if f.model == "" {
		return nil, nil, usagef("-model is required")
	}
	if f.threads < 1 {
		return nil, nil, usagef("-threads must be at least 1")
	}
	prec, err := backend.ParsePrecision(f.precision)
	if err != nil {
		return nil, nil, usagef("-precision: %v", err)
	}
	dir, err := resolveModel(f.model)
	if err != nil {
		return nil, nil, err
	}
	b, err := backend.Open(f.backend, backend.Options{
		Threads:   f.threads,
		Precision: prec,
		Warn:      func(msg string) { fmt.Fprintln(stderr, msg) },
	})
	if err != nil {
		return nil, nil, err
	}
	m, err := nemotron.Load(dir, b, nemotron.LoadOptions{})
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return m, b, nil
}
