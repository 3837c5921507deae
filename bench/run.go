package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// Options choose what Run measures.
type Options struct {
	Prompts        []int             // prompt lengths whose prefill is timed
	DecodeContexts []int             // context lengths at which decoding is timed
	DecodeTokens   int               // tokens decoded at each context
	Threads        int               // for the read and compute references
	Precision      backend.Precision // the backend's: chooses the compute reference's kernel
	PeakTime       time.Duration     // per pass of the compute reference; 0 means 200 ms
	// Batches are the batch sizes whose total decode rate is timed: that many sequences
	// decoding DecodeTokens tokens each, one Batch.Step a token for all of them, at a context
	// of BatchContext (0 means 16). None leaves the measurement out.
	Batches      []int
	BatchContext int
	Mix          MixOptions // a prefill/decode mix under the engine; Decoding 0 leaves it out
	Seed         uint64
	// Quant names the mix src's matrices are in (nemotron.NoQuant: as the checkpoint stores
	// them), for the report; the bytes read and the read reference follow src's own dtypes.
	Quant nemotron.Quant
	Log   io.Writer // progress lines; may be nil
	// WarmUp runs each length once untimed before timing it: a prefill, and one decoded token
	// from a decode context. A GPU backend always warms up (its first call at a shape grows
	// scratch memory and has cuBLAS choose its algorithms); the CPU only when asked, so that
	// its figures stay comparable with earlier runs.
	WarmUp bool
}

// Report is what Run measured. JSON names are stable: scripts compare them across runs.
//
// On the CPU backend the weights' rate is set beside a read reference measured in the same
// run (ReadPatterns: the best of several load-only patterns, one of them the decode kernels'
// own), and prefill beside a compute reference (PeakGFLOPS: the prefill micro-kernel from
// cache). On a GPU backend both references are left out: host read bandwidth says nothing
// about how fast a GPU reads its own memory, and the device's copy bandwidth is not measured.
type Report struct {
	Shape           string             `json:"shape"`
	Backend         string             `json:"backend"`
	CPU             string             `json:"cpu"` // the host's vendor, family, caches and kernel level
	Params          int64              `json:"params"`
	Quant           string             `json:"quant"`          // the mix (Options.Quant), "none" when unquantized
	Formats         map[string]int     `json:"weight_formats"` // matrices (the embedding among them) by dtype
	Prefill         map[string]float64 `json:"prefill_tok_s"`  // by prompt length
	Decode          map[string]float64 `json:"decode_tok_s_by_context"`
	Prefill512      float64            `json:"prefill512_tok_s"`
	DecodeTokS      float64            `json:"decode_tok_s"` // at the shortest context
	WeightBytes     int64              `json:"weight_bytes_per_token"`
	WeightGBps      float64            `json:"weight_gbps"`                    // weight bytes streamed per second while decoding
	ReadGBps        float64            `json:"read_gbps,omitempty"`            // the read reference: best of ReadPatterns, same run
	ReadPatterns    map[string]float64 `json:"read_patterns_gbps,omitempty"`   // each pattern's GB/s
	ReadBest        string             `json:"read_best_pattern,omitempty"`    // the pattern that gave ReadGBps
	Ratio           float64            `json:"weight_to_read_ratio,omitempty"` // WeightGBps / ReadGBps
	Prefill512Flops float64            `json:"prefill512_gflops"`              // matrix products only: see PrefillFLOPs
	PeakGFLOPS      float64            `json:"peak_gflops,omitempty"`          // the compute reference, same run
	PeakKernel      string             `json:"peak_kernel,omitempty"`          // which micro-kernel it ran
	PrefillRatio    float64            `json:"prefill_to_peak_ratio,omitempty"`
	DecodeByBatch   map[string]float64 `json:"decode_tok_s_by_batch,omitempty"` // total, by batch size
	Batch8Flops     float64            `json:"batch8_gflops,omitempty"`         // a batch-8 decode step's matrix products
	Batch8Ratio     float64            `json:"batch8_to_peak_ratio,omitempty"`  // Batch8Flops / PeakGFLOPS
	Mix             *MixReport         `json:"mix,omitempty"`
	Notes           []string           `json:"notes,omitempty"`
	PeakRSS         int64              `json:"peak_rss_bytes"`
	// PeakRSSEngine is PeakRSS less the read reference's buffer, which is touched before the
	// weights load and stays resident to the end (Resident counts it then; anonymous pages
	// without swap are never dropped): what the engine itself held at its peak.
	PeakRSSEngine int64   `json:"peak_rss_engine_bytes,omitempty"`
	LoadSeconds   float64 `json:"load_s"`
	BenchDuration float64 `json:"bench_s"`
}

// DecodeBytes is what one decoded token reads: every matrix except the embedding table, of
// which it reads one row (all of it when the head shares the table), each in its own dtype
// (a block format's row is its blocks, scales included).
func DecodeBytes(cfg nemotron.Config, src nemotron.Source) int64 {
	var n int64
	for _, p := range cfg.Params() {
		t, _, ok := src.Tensor(p.Name)
		if !ok || len(p.Shape) != 2 {
			continue
		}
		if p.Role == nemotron.RoleEmbedding && !cfg.TieEmbeddings {
			n += int64(len(t.Data) / p.Shape[0])
			continue
		}
		n += int64(len(t.Data))
	}
	return n
}

// Formats counts src's matrices, the embedding table among them, by dtype: the mix as it is.
func Formats(cfg nemotron.Config, src nemotron.Source) map[string]int {
	n := map[string]int{}
	for _, p := range cfg.Params() {
		if t, _, ok := src.Tensor(p.Name); ok && len(p.Shape) == 2 {
			n[t.DType.String()]++
		}
	}
	return n
}

// Run times prefill and decoding on m. On the CPU backend it measures the read and compute
// references before prefill and after decoding, keeping the best of each over both (the
// machine may be shared: a reference taken in a busier moment than the run it bounds would
// let a ratio exceed 1): the stream patterns over bandwidthBuf (weights already in memory,
// say), the decode patterns over src's matrices.
func Run(ctx context.Context, m *nemotron.Model, src nemotron.Source, bandwidthBuf []byte, opts Options) (Report, error) {
	start := time.Now()
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	cfg := m.Config
	r := Report{
		Backend:     m.Backend().Name(),
		CPU:         tensor.HostCPU().String(),
		Params:      cfg.NumParams(),
		Prefill:     map[string]float64{},
		Decode:      map[string]float64{},
		WeightBytes: DecodeBytes(cfg, src),
		Quant:       cmp.Or(string(opts.Quant), "none"),
		Formats:     Formats(cfg, src),
	}
	longest := opts.DecodeTokens
	for _, p := range opts.Prompts {
		longest = max(longest, p)
	}
	for _, c := range opts.DecodeContexts {
		longest = max(longest, c+opts.DecodeTokens)
	}
	batchContext := cmp.Or(opts.BatchContext, 16)
	if len(opts.Batches) > 0 {
		longest = max(longest, batchContext+opts.DecodeTokens+1)
	}
	for _, b := range opts.Batches {
		if b < 1 {
			return r, fmt.Errorf("a batch of %d sequences", b)
		}
	}
	if longest > cfg.MaxPositions {
		return r, fmt.Errorf("bench needs %d positions; the model has %d", longest, cfg.MaxPositions)
	}
	if err := opts.Mix.check(cfg); err != nil {
		return r, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 1))
	ids := make([]int32, longest)
	for i := range ids {
		ids[i] = int32(3 + rng.IntN(cfg.VocabSize-3))
	}
	s, err := m.NewState(longest)
	if err != nil {
		return r, err
	}
	defer s.Close()

	// Each length is prefilled once: timed if it is a prompt length, then decoded from if it
	// is a decode context.
	isPrompt, isContext := map[int]bool{}, map[int]bool{}
	var lengths []int
	for _, p := range opts.Prompts {
		isPrompt[p] = true
		lengths = append(lengths, p)
	}
	for _, c := range opts.DecodeContexts {
		if !isPrompt[c] {
			lengths = append(lengths, c)
		}
		isContext[c] = true
	}
	slices.Sort(lengths)
	lengths = slices.Compact(lengths)
	onCPU := hostReferences(r.Backend)
	var ms []Matrix
	rates := map[string]float64{}
	// The compute reference runs the micro-kernel prefill runs: in fast precision the bf16
	// one, unless the CPU backend found the float32 one faster (tensor.BF16GemmFaster).
	kn := tensor.Active()
	fast := opts.Precision == backend.Fast && tensor.BF16GemmFaster(kn)
	peak := func() float64 {
		return PeakGFLOPS(kn, fast, opts.Threads, 3, cmp.Or(opts.PeakTime, 200*time.Millisecond))
	}
	if onCPU {
		ms = Over(DecodeMatrices(cfg, src), bandwidthBuf)
		rates = ReadPatterns(bandwidthBuf, ms, opts.Threads, 3)
		r.PeakGFLOPS = peak()
	}
	warm := opts.WarmUp || !onCPU
	for _, n := range lengths {
		if warm {
			if err := warmUp(ctx, s, ids[:n], isContext[n] && opts.DecodeTokens > 0); err != nil {
				return r, err
			}
			logf("warmed up at %d tokens", n)
		}
		s.Reset()
		// Greedy decoding, as Generate runs it: each pass returns its next token alone.
		t0 := time.Now()
		next, err := s.ForwardArgmax(ctx, ids[:n])
		if err != nil {
			return r, err
		}
		if isPrompt[n] {
			tps := float64(n) / time.Since(t0).Seconds()
			r.Prefill[fmt.Sprint(n)] = tps
			logf("prefill %4d tokens: %8.1f tok/s", n, tps)
		}
		if !isContext[n] {
			continue
		}
		t0 = time.Now()
		for range opts.DecodeTokens {
			if next, err = s.ForwardArgmax(ctx, []int32{next}); err != nil {
				return r, err
			}
		}
		tps := float64(opts.DecodeTokens) / time.Since(t0).Seconds()
		r.Decode[fmt.Sprint(n)] = tps
		if n == slices.Min(opts.DecodeContexts) {
			r.DecodeTokS = tps
			r.WeightGBps = tps * float64(r.WeightBytes) / 1e9
		}
		logf("decode at context %4d: %8.2f tok/s (%.1f GB/s of weights)", n, tps, tps*float64(r.WeightBytes)/1e9)
	}
	if len(opts.Batches) > 0 {
		r.DecodeByBatch = map[string]float64{}
	}
	for _, b := range opts.Batches {
		tps, stepS, err := decodeBatch(ctx, m, ids, b, batchContext, opts.DecodeTokens)
		if err != nil {
			return r, err
		}
		r.DecodeByBatch[fmt.Sprint(b)] = tps
		// Each of a step's rows is one decoded token: every matrix product and its logits.
		gflops := float64(b) * PrefillFLOPs(cfg, 1) / stepS / 1e9
		if b == 8 {
			r.Batch8Flops = gflops
		}
		logf("decode batch %2d at context %d: %8.2f tok/s in all (%.0f GFLOP/s)", b, batchContext, tps, gflops)
	}
	if opts.Mix.Decoding > 0 {
		mix, err := runMix(ctx, m, ids, opts.Mix)
		if err != nil {
			return r, err
		}
		r.Mix = &mix
		logf("mix: %d decoding beside a %d-token prompt in steps of %d: %.2f tok/s decoding, %.1f tok/s prompt (%d steps); decoding alone %.2f tok/s",
			mix.Decoding, mix.Prompt, mix.StepTokens, mix.DecodeTokS, mix.PrefillTokS, mix.MixedSteps, mix.DecodeOnlyTokS)
	}
	r.Prefill512 = r.Prefill["512"]
	r.Prefill512Flops = r.Prefill512 / 512 * PrefillFLOPs(cfg, 512) / 1e9
	if !onCPU {
		r.Notes = append(r.Notes, "no read or compute reference on a GPU backend: host bandwidth and host FLOP/s do not bound the device, and its copy bandwidth is not measured")
		logf("weights streamed at %.1f GB/s; prefill 512 at %.0f GFLOP/s (no reference on %s)", r.WeightGBps, r.Prefill512Flops, r.Backend)
	} else {
		for name, v := range ReadPatterns(bandwidthBuf, ms, opts.Threads, 3) {
			rates[name] = max(rates[name], v)
		}
		r.ReadPatterns = map[string]float64{}
		for name, v := range rates {
			r.ReadPatterns[name] = v / 1e9
			logf("read pattern %-22s %6.1f GB/s", name, v/1e9)
		}
		var best float64
		r.ReadBest, best = Best(rates)
		r.ReadGBps = best / 1e9
		if r.ReadGBps > 0 {
			r.Ratio = r.WeightGBps / r.ReadGBps
		}
		logf("read reference: %.1f GB/s (%s); weights streamed at %.0f%% of it", r.ReadGBps, r.ReadBest, 100*r.Ratio)
		r.PeakKernel = PeakKernel(kn, fast)
		r.PeakGFLOPS = max(r.PeakGFLOPS, peak())
		if r.PeakGFLOPS > 0 {
			r.PrefillRatio = r.Prefill512Flops / r.PeakGFLOPS
			r.Batch8Ratio = r.Batch8Flops / r.PeakGFLOPS
		}
		if !fast && kn.Level >= tensor.AMX {
			r.Notes = append(r.Notes, "exact prefill on AMX runs bf16 tiles in three terms, not the f32 FMA kernel of peak_gflops: its ratio can exceed 1")
		}
		logf("compute reference: %.0f GFLOP/s (%s); prefill 512 at %.0f GFLOP/s, %.0f%% of it", r.PeakGFLOPS, r.PeakKernel, r.Prefill512Flops, 100*r.PrefillRatio)
		if r.Batch8Flops > 0 {
			logf("batch-8 decode step at %.0f GFLOP/s, %.0f%% of the compute reference", r.Batch8Flops, 100*r.Batch8Ratio)
		}
	}
	r.PeakRSS = PeakRSS()
	if res := Resident(bandwidthBuf); res >= 0 && r.PeakRSS > res {
		r.PeakRSSEngine = r.PeakRSS - res
	}
	r.BenchDuration = time.Since(start).Seconds()
	return r, nil
}

// warmUp prefills ids once untimed and, when decode is set, decodes one token after them
// (the state has room: a decode context is followed by DecodeTokens positions).
func warmUp(ctx context.Context, s *nemotron.State, ids []int32, decode bool) error {
	s.Reset()
	next, err := s.ForwardArgmax(ctx, ids)
	if err != nil || !decode {
		return err
	}
	_, err = s.ForwardArgmax(ctx, []int32{next})
	return err
}

// hostReferences reports whether a backend (by its Name) runs on this machine's CPU, so that
// the host's read and compute references bound it.
func hostReferences(backendName string) bool { return strings.HasPrefix(backendName, "cpu/") }
