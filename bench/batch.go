package bench

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/nemotron"
)

// decodeBatch times decoding in batches: b sequences, each prefilled with context tokens of
// ids, then decoded greedily together for tokens steps of one nemotron.Batch.Step each (after
// one untimed step). It returns the total tokens per second and the seconds of one step.
func decodeBatch(ctx context.Context, m *nemotron.Model, ids []int32, b, context, tokens int) (tokS, stepS float64, err error) {
	batch, err := m.NewBatch(b)
	if err != nil {
		return 0, 0, err
	}
	defer batch.Close()
	adv := make([]nemotron.Advance, b)
	next := make([]int32, b)
	for i := range adv {
		s, err := m.NewState(context + tokens + 1)
		if err != nil {
			return 0, 0, err
		}
		defer s.Close()
		// Each sequence its own prompt: a window of ids starting elsewhere.
		p := make([]int32, context)
		for j := range p {
			p[j] = ids[(i*7+j)%len(ids)]
		}
		if next[i], err = s.ForwardArgmax(ctx, p); err != nil {
			return 0, 0, err
		}
		adv[i] = nemotron.Advance{State: s, IDs: next[i : i+1], Want: nemotron.NextToken}
	}
	step := func() error {
		if err := batch.Step(ctx, adv); err != nil {
			return err
		}
		for i := range adv {
			next[i] = adv[i].Next
		}
		return nil
	}
	if err := step(); err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	for range tokens {
		if err := step(); err != nil {
			return 0, 0, err
		}
	}
	d := time.Since(t0).Seconds()
	return float64(b*tokens) / d, d / float64(tokens), nil
}

// MixOptions choose the prefill/decode mix Run measures under the engine's scheduler.
type MixOptions struct {
	Decoding   int // requests decoding while a prompt is read; 0 leaves the mix out
	Prompt     int // the prompt's length
	StepTokens int // the engine's budget of positions per step; 0 means engine.DefaultStepTokens
}

// MixReport is how the engine shared its steps between requests decoding and a long prompt
// read beside them in chunks (engine.Options.StepTokens less one row per decoding request).
// Rates are over the steps of each kind, each timed from the end of the engine.Options.OnStep
// call before it to its own.
type MixReport struct {
	Decoding       int     `json:"decoding"`
	Prompt         int     `json:"prompt"`
	StepTokens     int     `json:"step_tokens"`
	MixedSteps     int     `json:"mixed_steps"`       // steps that decoded and read the prompt
	DecodeTokS     float64 `json:"decode_tok_s"`      // tokens of all decoding requests, in mixed steps
	PrefillTokS    float64 `json:"prefill_tok_s"`     // prompt positions, in mixed steps
	DecodeOnlyTokS float64 `json:"decode_only_tok_s"` // the same requests' tokens in steps without the prompt
}

// mixWarmSteps is how many steps the decoding requests take alone before the prompt comes.
const mixWarmSteps = 3

func (o MixOptions) check(cfg nemotron.Config) error {
	st := cmp.Or(o.StepTokens, engine.DefaultStepTokens)
	switch {
	case o.Decoding < 0 || o.Decoding >= st:
		return fmt.Errorf("mix: %d decoding requests do not leave room for a prompt in steps of %d", o.Decoding, st)
	case o.Decoding > 0 && (o.Prompt < 1 || o.Prompt+1 > cfg.MaxPositions):
		return fmt.Errorf("mix: a prompt of %d tokens in a context of %d", o.Prompt, cfg.MaxPositions)
	}
	return nil
}

// runMix starts o.Decoding requests on an engine, lets them decode a few steps alone, then
// sends a prompt of o.Prompt tokens (asking for one token) and times the steps until it is
// read; the decoding requests are then cancelled.
func runMix(ctx context.Context, m *nemotron.Model, ids []int32, o MixOptions) (MixReport, error) {
	st := cmp.Or(o.StepTokens, engine.DefaultStepTokens)
	rep := MixReport{Decoding: o.Decoding, Prompt: o.Prompt, StepTokens: st}
	type stamp struct {
		info     engine.StepInfo
		at, left time.Time // when the step ended, and when OnStep let the scheduler go on
	}
	var mu sync.Mutex
	var steps []stamp
	alone := 0
	warm := make(chan struct{})
	var e *engine.Engine
	var ended atomic.Int32 // decoding requests that have returned
	// The scheduler waits after a step (OnStep runs on its goroutine) until the decoding
	// requests are all there, and after the warm steps until the prompt is: on a small model
	// they could otherwise be done before the last has arrived.
	together, promptIn := false, false
	wait := func(cond func() bool) {
		for !cond() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	e, err := engine.New(m, engine.Options{StepTokens: st, MaxRunning: o.Decoding + 1, OnStep: func(s engine.StepInfo) {
		if !together {
			wait(func() bool { return s.Decoding+len(s.Prefill)+e.Stats().Waiting+int(ended.Load()) >= o.Decoding })
			together = true
		}
		mu.Lock()
		steps = append(steps, stamp{info: s, at: time.Now()})
		if s.Decoding == o.Decoding && len(s.Prefill) == 0 {
			if alone++; alone == mixWarmSteps {
				close(warm)
			}
		}
		mu.Unlock()
		if alone >= mixWarmSteps && !promptIn {
			wait(func() bool { return e.Stats().Waiting > 0 || int(ended.Load()) == o.Decoding })
			promptIn = true
		}
		mu.Lock()
		steps[len(steps)-1].left = time.Now()
		mu.Unlock()
	}})
	if err != nil {
		return rep, err
	}
	defer e.Close()

	// Enough tokens to decode through the warm steps and every chunk of the prompt.
	chunks := (o.Prompt + st - o.Decoding - 1) / (st - o.Decoding)
	maxTokens := min(mixWarmSteps+chunks+8, m.Config.MaxPositions-8)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, o.Decoding)
	for i := range o.Decoding {
		p := make([]int32, 8)
		for j := range p {
			p[j] = ids[(i*11+j)%len(ids)]
		}
		wg.Go(func() {
			_, errs[i] = e.Generate(dctx, p, nemotron.GenerateOptions{MaxTokens: maxTokens, EOS: []int32{}}, nil)
			ended.Add(1)
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-warm:
	case <-finished:
		for _, err := range errs {
			if err != nil {
				return rep, err
			}
		}
		return rep, fmt.Errorf("mix: the decoding requests ended before decoding %d steps together", mixWarmSteps)
	case <-ctx.Done():
		cancel()
		wg.Wait()
		return rep, ctx.Err()
	}
	prompt := make([]int32, o.Prompt)
	for j := range prompt {
		prompt[j] = ids[(j*3+1)%len(ids)]
	}
	_, err = e.Generate(ctx, prompt, nemotron.GenerateOptions{MaxTokens: 1, EOS: []int32{}}, nil)
	cancel()
	wg.Wait()
	if err != nil {
		return rep, err
	}
	for _, err := range errs {
		if err != nil && ctx.Err() == nil && err != context.Canceled {
			return rep, err
		}
	}

	mu.Lock()
	defer mu.Unlock()
	var mixedS, aloneS float64
	var decoded, read, decodedAlone int
	for i := 1; i < len(steps); i++ {
		s, d := steps[i].info, steps[i].at.Sub(steps[i-1].left).Seconds()
		switch {
		case s.Decoding > 0 && len(s.Prefill) > 0:
			rep.MixedSteps++
			mixedS += d
			decoded += s.Decoding
			read += s.Tokens() - s.Decoding
		case s.Decoding == o.Decoding && len(s.Prefill) == 0:
			aloneS += d
			decodedAlone += s.Decoding
		}
	}
	if mixedS > 0 {
		rep.DecodeTokS, rep.PrefillTokS = float64(decoded)/mixedS, float64(read)/mixedS
	}
	if aloneS > 0 {
		rep.DecodeOnlyTokS = float64(decodedAlone) / aloneS
	}
	return rep, nil
}
