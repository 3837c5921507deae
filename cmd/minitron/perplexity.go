package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"github.com/minitron-go/minitron"
	"github.com/minitron-go/minitron/nemotron"
)

func init() {
	commands["perplexity"] = command{
		summary: "perplexity of a text in chunks, and with -kl-divergence a quantized model against its base",
		run:     runPerplexity,
	}
}

const perplexityUsage = `perplexity -model DIR|ORG/NAME|FILE.gguf -f FILE [-quant q8_0|q4_k] [-ctx 512] [-chunks N] [-kl-divergence [-base-model M]] [-json]

Measures how well the model predicts a text, as llama.cpp's llama-perplexity does, so that
the numbers compare: the text (read byte for byte, tokenized with BOS as the checkpoint says)
is cut into chunks of -ctx tokens, a trailing partial chunk dropped; each chunk is evaluated
on its own, its first token replaced by BOS (when the checkpoint adds one), and only its
second half is scored: the tokens at positions ⌊ctx/2⌋+1 … ctx−1, each given at least
⌊ctx/2⌋ tokens before it (255 tokens a chunk of 512), with the log-probabilities that
` + "`minitron score -from ⌊ctx/2⌋+1`" + ` gives them. The perplexity is exp of the mean negative
log-likelihood over them, in float64, with its standard error.

With -kl-divergence a base model is loaded too: -base-model (of the same tokenizer), or by
default the same -model without -quant, in exact precision. At every scored position both next-token distributions
are computed and compared in float64: KL(base ‖ model), whether their most likely tokens
agree, and both perplexities. Each chunk's logits are streamed 16 rows at a time from each
model: no chunk's logits are held whole. Progress goes to stderr, one line a chunk.`

func runPerplexity(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("perplexity", perplexityUsage, stderr)
	var mf modelFlags
	mf.register(fs)
	file := fs.String("f", "", "the text `FILE` to evaluate")
	nctx := fs.Int("ctx", 512, "chunk length in `tokens`")
	maxChunks := fs.Int("chunks", 0, "evaluate at most `N` chunks (0: every whole chunk of the text)")
	kld := fs.Bool("kl-divergence", false, "also compare every scored position's distribution with the base model's")
	baseModel := fs.String("base-model", "", "with -kl-divergence, the base `model` (default: -model without -quant, exact precision)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if _, err := mf.options(io.Discard); err != nil {
		return err
	}
	switch {
	case *file == "":
		return usagef("-f is required: the text to evaluate")
	case *nctx < 3:
		return usagef("-ctx %d: want at least 3 (a chunk scores the tokens of its second half after the first)", *nctx)
	case *maxChunks < 0:
		return usagef("-chunks %d is negative", *maxChunks)
	case *baseModel != "" && !*kld:
		return usagef("-base-model needs -kl-divergence")
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err // names the file
	}
	if len(b) == 0 {
		return usagef("-f %s is empty", *file)
	}

	m, err := mf.load(stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	if n := m.Config().MaxPositions; *nctx > n {
		return usagef("-ctx %d exceeds the model's context of %d (max_position_embeddings)", *nctx, n)
	}
	ids := m.Tokenizer.Encode(string(b))
	chunks := len(ids) / *nctx
	if chunks == 0 {
		return usagef("-f %s: %d tokens, fewer than one chunk of -ctx %d", *file, len(ids), *nctx)
	}
	if *maxChunks > 0 {
		chunks = min(chunks, *maxChunks)
	}

	var base *minitron.Model
	bf := mf
	if *kld {
		bf.quant, bf.precision = "none", "exact"
		if *baseModel != "" {
			bf.model = *baseModel
		}
		if base, err = bf.load(stderr); err != nil {
			return fmt.Errorf("base model: %w", err)
		}
		defer base.Close()
		if bv, v := base.Config().VocabSize, m.Config().VocabSize; bv != v {
			return usagef("-base-model %s has a vocabulary of %d, the model %d: the distributions do not compare", bf.model, bv, v)
		}
		if n := base.Config().MaxPositions; *nctx > n {
			return usagef("-ctx %d exceeds the base model's context of %d (max_position_embeddings)", *nctx, n)
		}
	}

	bos := int32(-1)
	if m.Tokenizer.AddBOS {
		bos = m.Tokenizer.BOSID
	}
	var baseNet *nemotron.Model
	if base != nil {
		baseNet = base.Net()
	}
	fmt.Fprintf(stderr, "%s: %d tokens, %d chunks of %d, scoring positions %d…%d of each\n", *file, len(ids), chunks, *nctx, *nctx/2+1, *nctx-1)
	st, err := evalPerplexity(ctx, m.Net(), baseNet, ids, bos, *nctx, chunks, stderr)
	if err != nil {
		return err
	}
	rep := newPerplexityReport(st, *file, len(ids), *nctx, chunks)
	rep.Model, rep.Quant, rep.Precision = m.Dir, quantName(mf.quant), mf.precision
	if rep.KL != nil {
		rep.KL.BaseModel = base.Dir
	}
	w := bufio.NewWriter(stdout)
	if *asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		err = enc.Encode(rep)
	} else {
		err = rep.write(w)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// quantName spells a -quant flag as the report does: "none" when unquantized.
func quantName(flag string) string {
	q, err := nemotron.ParseQuant(flag)
	if err != nil || q == nemotron.NoQuant {
		return "none"
	}
	return string(q)
}

// evalPerplexity scores chunks chunks of nctx tokens of ids, each on its own (its first
// token replaced by bos unless bos < 0), over the second half of each (see perplexityUsage),
// under q and, when base is not nil, compares every scored position with base. Both models
// stream the logits of a chunk in blocks of the same positions (State.LogitRows, in States of
// the same length), pulled in step: the host holds one block of each.
func evalPerplexity(ctx context.Context, q, base *nemotron.Model, ids []int32, bos int32, nctx, chunks int, progress io.Writer) (*pplStats, error) {
	// A chunk's last row of logits, the distribution after it, is computed and left out: the
	// passes are then those of `minitron score` on the chunk, and its log-probabilities the same.
	sq, err := q.NewState(nctx)
	if err != nil {
		return nil, err
	}
	defer sq.Close()
	var sb *nemotron.State
	if base != nil {
		if sb, err = base.NewState(nctx); err != nil {
			return nil, err
		}
		defer sb.Close()
	}
	st := &pplStats{compare: base != nil}
	vocab := q.Config.VocabSize
	var res []rowResult
	chunk := make([]int32, nctx)
	start := time.Now()
	for c := range chunks {
		t0 := time.Now()
		copy(chunk, ids[c*nctx:(c+1)*nctx])
		if bos >= 0 {
			chunk[0] = bos
		}
		sq.Reset()
		if sb != nil {
			sb.Reset()
		}
		err := pullInStep(ctx, sq, sb, chunk, nctx/2, func(pos int, rows, baseRows []float32) {
			n := min(len(rows)/vocab, nctx-1-pos)
			if cap(res) < n {
				res = make([]rowResult, n)
			}
			if baseRows != nil {
				baseRows = baseRows[:n*vocab]
			}
			scoreBlock(res[:n], rows[:n*vocab], baseRows, vocab, chunk[pos+1:pos+1+n])
			for _, r := range res[:n] {
				st.add(r)
			}
		})
		if err != nil {
			return nil, err
		}
		ppl, _ := perplexity(st.nll, st.n)
		fmt.Fprintf(progress, "[%d/%d] PPL %.4f", c+1, chunks, ppl)
		if st.compare {
			kl, _ := st.kl.meanErr(st.n)
			same, _ := st.agreement()
			basePPL, _ := perplexity(st.baseNLL, st.n)
			fmt.Fprintf(progress, ", base %.4f, KL %.6f, top-1 %.2f%%", basePPL, kl, 100*same)
		}
		el := time.Since(start)
		fmt.Fprintf(progress, " (%.1f s a chunk, %s left)\n", time.Since(t0).Seconds(),
			(el / time.Duration(c+1) * time.Duration(chunks-c-1)).Round(time.Second))
	}
	return st, nil
}

// pullInStep runs ids through s (and base, when not nil) and calls fn with each block of
// rows from position from on, base's rows of the same positions beside them (nil without a
// base).
func pullInStep(ctx context.Context, s, base *nemotron.State, ids []int32, from int, fn func(pos int, rows, baseRows []float32)) error {
	next, stop := iter.Pull2(s.LogitRows(ctx, ids, from))
	defer stop()
	var nextBase func() (nemotron.LogitBlock, error, bool)
	if base != nil {
		var stopBase func()
		nextBase, stopBase = iter.Pull2(base.LogitRows(ctx, ids, from))
		defer stopBase()
	}
	for {
		b, err, ok := next()
		if !ok {
			return nil
		}
		if err != nil {
			return err
		}
		var baseRows []float32
		if nextBase != nil {
			bb, err, ok := nextBase()
			switch {
			case ok && err != nil:
				return fmt.Errorf("base model: %w", err)
			case !ok || bb.Pos != b.Pos || len(bb.Rows) != len(b.Rows):
				return fmt.Errorf("the base model's logits are out of step with the model's at position %d", b.Pos)
			}
			baseRows = bb.Rows
		}
		fn(b.Pos, b.Rows, baseRows)
	}
}

// perplexityReport is what the command prints; -json prints it as it is. JSON names are
// stable: scripts compare them across runs.
type perplexityReport struct {
	File      string `json:"file"`
	Model     string `json:"model"`
	Quant     string `json:"quant"` // the mix the model was quantized to as it loaded, or "none"
	Precision string `json:"precision"`
	Tokens    int    `json:"tokens"` // the text's, BOS included when the tokenizer adds it
	Ctx       int    `json:"ctx"`
	Chunks    int    `json:"chunks"`
	// Scoring names the positions scored: "second half of each chunk" (see perplexityUsage).
	Scoring       string   `json:"scoring"`
	Scored        int      `json:"scored"`
	MeanNLL       float64  `json:"mean_nll"`
	Perplexity    float64  `json:"perplexity"`
	PerplexityErr float64  `json:"perplexity_stderr"`
	KL            *klStats `json:"kl_divergence,omitempty"`
}

// klStats are -kl-divergence's figures, llama-perplexity's: the base's perplexity, the log
// of the ratio of the perplexities, the KL divergence's mean, extremes and quantiles, and how
// often the two models' most likely tokens agree (a fraction).
type klStats struct {
	BaseModel         string  `json:"base_model"`
	BasePerplexity    float64 `json:"base_perplexity"`
	BasePerplexityErr float64 `json:"base_perplexity_stderr"`
	LnPPLRatio        float64 `json:"ln_ppl_ratio"` // ln(PPL/PPL(base)), the mean NLL difference
	LnPPLRatioErr     float64 `json:"ln_ppl_ratio_stderr"`
	Mean              float64 `json:"mean"`
	MeanErr           float64 `json:"mean_stderr"`
	Max               float64 `json:"max"`
	P999              float64 `json:"p99_9"`
	P99               float64 `json:"p99"`
	Median            float64 `json:"median"`
	Min               float64 `json:"min"`
	Top1              float64 `json:"top1_agreement"`
	Top1Err           float64 `json:"top1_agreement_stderr"`
}

func newPerplexityReport(st *pplStats, file string, tokens, nctx, chunks int) perplexityReport {
	r := perplexityReport{File: file, Tokens: tokens, Ctx: nctx, Chunks: chunks, Scoring: "second half of each chunk", Scored: st.n}
	r.MeanNLL, _ = st.nll.meanErr(st.n)
	r.Perplexity, r.PerplexityErr = perplexity(st.nll, st.n)
	if !st.compare {
		return r
	}
	k := &klStats{Max: st.klMax}
	k.BasePerplexity, k.BasePerplexityErr = perplexity(st.baseNLL, st.n)
	k.LnPPLRatio, k.LnPPLRatioErr = st.diff.meanErr(st.n)
	k.Mean, k.MeanErr = st.kl.meanErr(st.n)
	sorted := st.sortedKLs()
	k.P999, k.P99, k.Median = klPercentile(sorted, 0.999), klPercentile(sorted, 0.99), klPercentile(sorted, 0.5)
	if len(sorted) > 0 {
		k.Min = sorted[0]
	}
	k.Top1, k.Top1Err = st.agreement()
	r.KL = k
	return r
}

func (r perplexityReport) write(w io.Writer) error {
	fmt.Fprintf(w, "model %s (quant %s, %s precision)\n", r.Model, r.Quant, r.Precision)
	fmt.Fprintf(w, "text  %s: %d tokens, %d chunks of %d; scored the %s: %d tokens\n",
		r.File, r.Tokens, r.Chunks, r.Ctx, r.Scoring, r.Scored)
	fmt.Fprintf(w, "PPL = %.4f ± %.4f (mean NLL %.6f)\n", r.Perplexity, r.PerplexityErr, r.MeanNLL)
	k := r.KL
	if k == nil {
		return nil
	}
	rows := [][2]string{
		{"base", k.BaseModel + " (unquantized, exact precision)"},
		{"PPL(base)", fmt.Sprintf("%.4f ± %.4f", k.BasePerplexity, k.BasePerplexityErr)},
		{"ln(PPL/PPL(base))", fmt.Sprintf("%.6f ± %.6f", k.LnPPLRatio, k.LnPPLRatioErr)},
		{"mean KL (nats)", fmt.Sprintf("%.6f ± %.6f", k.Mean, k.MeanErr)},
		{"max KL", fmt.Sprintf("%.6f", k.Max)},
		{"99.9% KL", fmt.Sprintf("%.6f", k.P999)},
		{"99% KL", fmt.Sprintf("%.6f", k.P99)},
		{"median KL", fmt.Sprintf("%.6f", k.Median)},
		{"min KL", fmt.Sprintf("%.6f", k.Min)},
		{"top-1 agreement", fmt.Sprintf("%.3f ± %.3f %%", 100*k.Top1, 100*k.Top1Err)},
	}
	width := 0
	for _, row := range rows {
		width = max(width, len(row[0]))
	}
	for _, row := range rows {
		if _, err := fmt.Fprintf(w, "%-*s  %s\n", width, row[0], row[1]); err != nil {
			return err
		}
	}
	return nil
}
