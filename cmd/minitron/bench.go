package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/bench"
	"github.com/minitron-go/minitron/checkpoint"
	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/internal/mmap"
	"github.com/minitron-go/minitron/nemotron"
)

func init() {
	commands["bench"] = command{
		summary: "measure prefill and decode speed on random weights of a real shape",
		run:     runBench,
	}
}

// shapes are the configurations bench can fill with random weights.
var shapes = map[string]func() nemotron.Config{
	"minitron-4b": nemotron.Minitron4B,
	// small is a quick stand-in for tests and smoke runs.
	"small": func() nemotron.Config {
		return nemotron.Config{VocabSize: 4096, Hidden: 256, Intermediate: 768, Layers: 4, Heads: 8, KVHeads: 2, HeadDim: 32,
			MaxPositions: 1024, NormEps: 1e-5, RopeTheta: 1e4, PartialRotary: 0.5, BOS: 2, EOS: []int{3}}
	},
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "bench [-shape minitron-4b | -model DIR] [-quant q8_0|q4_k] [-threads N] [-precision exact|fast] [-batch 1,4,8,16] [-json]", stderr)
	var mf modelFlags
	mf.register(fs)
	shape := fs.String("shape", "minitron-4b", "random weights of this shape: minitron-4b or small (ignored with -model)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	seed := fs.Uint64("seed", 1, "seed of the random weights and prompt")
	decodeTokens := fs.Int("decode-tokens", 16, "tokens decoded at each context")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements to `file`")
	batches := fs.String("batch", "", "also time decoding in batches of these `sizes` (e.g. 1,4,8,16), and a prefill/decode mix under the engine")
	batchContext := fs.Int("batch-context", 16, "the context at which the batches decode")
	mixDecoding := fs.Int("mix-decoding", 4, "with -batch: requests decoding while a prompt is read (0: no mix)")
	mixPrompt := fs.Int("mix-prompt", 512, "with -batch: the length of the prompt read beside them")
	mixStep := fs.Int("mix-step-tokens", engine.DefaultStepTokens, "with -batch: the engine's positions per step in the mix (serve's -step-tokens)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if mf.threads < 1 {
		return usagef("-threads must be at least 1")
	}
	if *decodeTokens < 1 {
		return usagef("-decode-tokens must be at least 1")
	}
	var sizes []int
	if *batches != "" {
		for _, f := range strings.Split(*batches, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return usagef("-batch %q: want sizes of at least 1, separated by commas", *batches)
			}
			sizes = append(sizes, n)
		}
	}
	var mix bench.MixOptions
	switch {
	case *batchContext < 1:
		return usagef("-batch-context must be at least 1")
	case *mixDecoding < 0 || *mixPrompt < 1 || *mixStep < 1:
		return usagef("-mix-decoding must be at least 0, -mix-prompt and -mix-step-tokens at least 1")
	case len(sizes) > 0:
		mix = bench.MixOptions{Decoding: *mixDecoding, Prompt: *mixPrompt, StepTokens: *mixStep}
	}
	prec, err := backend.ParsePrecision(mf.precision)
	if err != nil {
		return usagef("-precision: %v", err)
	}
	quant, err := nemotron.ParseQuant(mf.quant)
	if err != nil {
		return usagef("-quant: %v", err)
	}
	if quant != nemotron.NoQuant && mf.model != "" {
		// A checkpoint is benched as its files store it: one already quantized by
		// `minitron convert -quant` reads its own formats.
		return usagef("-quant fills random weights in that mix: with -model, bench a checkpoint converted with `minitron convert -quant`")
	}
	log := stderr
	if *asJSON {
		log = io.Discard
	}

	var cfg nemotron.Config
	var src nemotron.Source
	// A gigabyte of our own to stream for the read reference, 32 times the Zen 4's L3
	// and touched before the weights fill memory: not the weights themselves, whose pages a
	// backend that copies them (packing, a GPU) gives back.
	buf, err := mmap.Anonymous(1 << 30)
	if err != nil {
		return err
	}
	defer buf.Close()
	bandwidthBuf := buf.Bytes()
	for i := 0; i < len(bandwidthBuf); i += 4096 {
		bandwidthBuf[i] = 1
	}
	start := time.Now()
	if mf.model != "" {
		if path, ok := minitron.GGUFPath(mf.model); ok {
			f, err := gguf.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if cfg, err = nemotron.GGUFConfig(f); err != nil {
				return err
			}
			gs, err := nemotron.NewGGUFSource(cfg, f)
			if err != nil {
				return err
			}
			// Quantized tensors stay so: the CPU multiplies by their blocks, and a backend
			// without kernels for them dequantizes them as they upload.
			src = gs
		} else {
			dir, err := resolveModel(mf.model)
			if err != nil {
				return err
			}
			if cfg, err = nemotron.LoadConfig(dir + "/config.json"); err != nil {
				return err
			}
			ck, err := checkpoint.Open(dir)
			if err != nil {
				return err
			}
			defer ck.Close()
			src = ck
		}
		*shape = mf.model
	} else {
		mk, ok := shapes[*shape]
		if !ok {
			return usagef("-shape %q: want minitron-4b or small", *shape)
		}
		cfg = mk()
		kind := "bf16"
		if quant != nemotron.NoQuant {
			kind = string(quant) + " blocks of"
		}
		fmt.Fprintf(log, "filling %.2f B random %s parameters (%s)...\n", float64(cfg.NumParams())/1e9, kind, *shape)
		w, err := bench.RandomWeightsIn(cfg, *seed, mf.threads, quantFormat(cfg, quant))
		if err != nil {
			return err
		}
		defer w.Close()
		src = w
	}
	b, err := backend.Open(mf.backend, backend.Options{Threads: mf.threads, Precision: prec, Warn: func(msg string) { fmt.Fprintln(stderr, msg) }})
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := nemotron.New(cfg, src, b)
	if err != nil {
		return err
	}
	loadTime := time.Since(start)
	fmt.Fprintf(log, "%s on %s, ready in %.1f s\n", *shape, b.Name(), loadTime.Seconds())

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	prompts, contexts := []int{128, 512}, []int{16, 512}
	r, err := bench.Run(ctx, m, src, bandwidthBuf, bench.Options{
		Prompts: prompts, DecodeContexts: contexts, DecodeTokens: *decodeTokens,
		Threads: mf.threads, Precision: prec, Seed: *seed, Log: log, Quant: quant,
		Batches: sizes, BatchContext: *batchContext, Mix: mix,
	})
	if err != nil {
		return err
	}
	r.Shape, r.LoadSeconds = *shape, loadTime.Seconds()
	if *asJSON {
		out, _ := json.Marshal(r)
		fmt.Fprintf(stdout, "%s\n", out)
		return nil
	}
	fmt.Fprintf(stdout, "%s, %s\n  %s\n", r.Shape, r.Backend, r.CPU)
	fmt.Fprintf(stdout, "  prefill  128: %8.1f tok/s   512: %8.1f tok/s\n", r.Prefill["128"], r.Prefill512)
	fmt.Fprintf(stdout, "  decode  ctx 16: %6.2f tok/s   ctx 512: %6.2f tok/s\n", r.Decode["16"], r.Decode["512"])
	fmt.Fprintf(stdout, "  quant %s: matrices", r.Quant)
	for _, f := range slices.Sorted(maps.Keys(r.Formats)) {
		fmt.Fprintf(stdout, " %d %s", r.Formats[f], f)
	}
	fmt.Fprintf(stdout, "\n")
	fmt.Fprintf(stdout, "  weights streamed %.1f GB/s (%.2f GB per token)", r.WeightGBps, float64(r.WeightBytes)/1e9)
	if r.ReadGBps > 0 {
		fmt.Fprintf(stdout, "; read reference %.1f GB/s (%s); ratio %.2f\n", r.ReadGBps, r.ReadBest, r.Ratio)
		fmt.Fprintf(stdout, "  read patterns:")
		for _, name := range slices.Sorted(maps.Keys(r.ReadPatterns)) {
			fmt.Fprintf(stdout, " %s %.1f", name, r.ReadPatterns[name])
		}
		fmt.Fprintf(stdout, " GB/s\n")
	} else {
		fmt.Fprintf(stdout, "\n")
	}
	fmt.Fprintf(stdout, "  prefill 512: %.0f GFLOP/s", r.Prefill512Flops)
	if r.PeakGFLOPS > 0 {
		fmt.Fprintf(stdout, "; compute reference %.0f GFLOP/s (%s); ratio %.2f", r.PeakGFLOPS, r.PeakKernel, r.PrefillRatio)
	}
	fmt.Fprintf(stdout, "\n")
	if len(r.DecodeByBatch) > 0 {
		fmt.Fprintf(stdout, "  decode by batch (ctx %d, tok/s in all):", *batchContext)
		for _, b := range sizes {
			fmt.Fprintf(stdout, " %d: %.2f", b, r.DecodeByBatch[fmt.Sprint(b)])
		}
		fmt.Fprintf(stdout, "\n")
	}
	if r.Batch8Flops > 0 {
		fmt.Fprintf(stdout, "  batch-8 step: %.0f GFLOP/s", r.Batch8Flops)
		if r.Batch8Ratio > 0 {
			fmt.Fprintf(stdout, "; ratio %.2f to the compute reference", r.Batch8Ratio)
		}
		fmt.Fprintf(stdout, "\n")
	}
	if x := r.Mix; x != nil {
		fmt.Fprintf(stdout, "  mix (steps of %d): %d decoding at %.2f tok/s beside a %d-token prompt at %.1f tok/s (%d steps); decoding alone %.2f tok/s\n",
			x.StepTokens, x.Decoding, x.DecodeTokS, x.Prompt, x.PrefillTokS, x.MixedSteps, x.DecodeOnlyTokS)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(stdout, "  note: %s\n", n)
	}
	fmt.Fprintf(stdout, "  peak RSS %.2f GB", float64(r.PeakRSS)/1e9)
	if r.PeakRSSEngine > 0 {
		fmt.Fprintf(stdout, " (%.2f GB less the read reference's buffer)", float64(r.PeakRSSEngine)/1e9)
	}
	fmt.Fprintln(stdout)
	return nil
}
