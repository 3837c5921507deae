package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// Requests decoding with prompt lookup (nemotron.GenerateOptions.Lookup), running together
// with others that do not and joining at random times, get from the engine the tokens plain
// decoding gives each alone, greedy and seeded; their drafts take only the rows the step's
// budget leaves.
func TestEngineLookupMatchesPlain(t *testing.T) {
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name)
			rng := rand.New(rand.NewPCG(8, uint64(len(name))))
			jobs := randomJobs(rng, m, 10, 30)
			for i := range jobs {
				if i%3 != 2 { // most quote their own prompt
					p := jobs[i].prompt
					jobs[i].prompt = slices.Concat(p, p, p[:len(p)/2])
					jobs[i].opts.Lookup = 1 + rng.IntN(nemotron.MaxLookup)
					jobs[i].opts.MaxTokens = 24 + rng.IntN(24) // long enough to repeat itself
				}
				if i%4 == 1 { // a sampler that often agrees with the drafts
					jobs[i].opts.Sampling = nemotron.Sampling{Temperature: 0.3, TopK: 8, Seed: uint64(i)}
				}
			}
			const budget = 64
			var mu sync.Mutex
			var steps []engine.StepInfo
			e := newEngine(t, m, engine.Options{StepTokens: budget, OnStep: func(s engine.StepInfo) {
				mu.Lock()
				steps = append(steps, s)
				mu.Unlock()
			}})
			type result struct {
				ids []int32
				g   nemotron.Generation
				err error
			}
			got := make([]result, len(jobs))
			var wg sync.WaitGroup
			for i, j := range jobs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(j.join)
					ids, g, err := collect(context.Background(), e.Generate, j.prompt, j.opts)
					got[i] = result{ids, g, err}
				}()
			}
			wg.Wait()
			accepted := 0
			for i, j := range jobs {
				plain := j.opts
				plain.Lookup = 0
				want, wg, err := collect(context.Background(), m.Generate, j.prompt, plain)
				if err != nil {
					t.Fatal(err)
				}
				r := got[i]
				if r.err != nil {
					t.Fatalf("job %d: %v", i, r.err)
				}
				if fmt.Sprint(r.ids) != fmt.Sprint(want) {
					t.Errorf("job %d (prompt %d, %+v):\nengine %v\n plain %v", i, len(j.prompt), j.opts, r.ids, want)
				}
				if r.g.Stop != wg.Stop || r.g.Tokens != wg.Tokens {
					t.Errorf("job %d: engine %+v, plain %+v", i, r.g, wg)
				}
				if j.opts.Lookup == 0 && r.g.Drafted != 0 {
					t.Errorf("job %d: %d drafts without lookup", i, r.g.Drafted)
				}
				accepted += r.g.Accepted
			}
			s := e.Stats()
			t.Logf("%d drafts checked, %d accepted; %d tokens in %d steps", s.DraftTokens, s.AcceptedTokens, s.DecodeTokens, s.Steps)
			if accepted == 0 || int64(accepted) != s.AcceptedTokens {
				t.Errorf("%d drafts accepted by the requests, %d by the engine's count", accepted, s.AcceptedTokens)
			}
			mu.Lock()
			defer mu.Unlock()
			drafted := 0
			for _, st := range steps {
				if st.Tokens() > budget {
					t.Errorf("a step of %d positions, over the budget of %d", st.Tokens(), budget)
				}
				drafted += st.Drafts
			}
			if int64(drafted) != s.DraftTokens {
				t.Errorf("steps drafted %d tokens, the stats say %d", drafted, s.DraftTokens)
			}
		})
	}
}
