package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/nemotron"
)

// A request whose prompt begins with a kept request's prompt copies those rows and reads only
// the rest; it gets exactly the tokens it gets alone, and the positions computed fall by the
// rows copied.
func TestEnginePrefixReuse(t *testing.T) {
	m := loadModel(t, "small-c")
	rng := rand.New(rand.NewPCG(21, 21))
	ids := func(n int) []int32 {
		p := make([]int32, n)
		for i := range p {
			p[i] = int32(2 + rng.IntN(m.Config.VocabSize-2))
		}
		return p
	}
	shared := ids(20)
	prompts := [][]int32{
		slices.Concat(shared, ids(17)), // computed whole
		slices.Concat(shared, ids(17)), // 20 rows copied: the rest is 16 rows or more, as whole
		nil,                            // the first again: all but its last token copied
		ids(9),                         // nothing in common
	}
	prompts[2] = prompts[0]
	var computed int
	e := newEngine(t, m, engine.Options{KeepRows: 500, OnStep: func(s engine.StepInfo) { computed += sum(s.Prefill) }})
	reused := []int{0, 20, 36, 0}
	opts := []nemotron.GenerateOptions{{MaxTokens: 6, EOS: []int32{}},
		{MaxTokens: 8, EOS: []int32{}, Sampling: nemotron.Sampling{Temperature: 0.9, Seed: 4}},
		{MaxTokens: 5, EOS: []int32{}}, {MaxTokens: 3, EOS: []int32{}}}
	var before int64
	for i, p := range prompts {
		got, _, err := collect(context.Background(), e.Generate, p, opts[i])
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := collect(context.Background(), m.Generate, p, opts[i])
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("request %d: engine %v, alone %v", i, got, want)
		}
		s := e.Stats()
		if int(s.ReusedTokens-before) != reused[i] {
			t.Errorf("request %d: %d prompt rows copied, want %d", i, s.ReusedTokens-before, reused[i])
		}
		before = s.ReusedTokens
	}
	total := 0
	for _, p := range prompts {
		total += len(p)
	}
	if s := e.Stats(); computed != total-20-36 || int(s.PrefillTokens) != computed {
		t.Errorf("%d prompt positions computed (stats %d), want %d of %d", computed, s.PrefillTokens, total-56, total)
	}
	// Four requests of about the same length: one State allocated for each length class,
	// the rest reused.
	if s := e.Stats(); s.NewStates >= 4 || s.KeptRows == 0 || s.CacheRows != 0 {
		t.Errorf("after the requests: %+v", s)
	}
}

// Random requests built on a few shared prefixes, joining at random times, through an engine
// that keeps caches within a budget and reads prompts in chunks: each gets exactly the tokens
// it gets alone, prompts are partly copied, and the running and kept rows together never
// exceed the budget.
func TestEngineKeptWithinBudget(t *testing.T) {
	m := loadModel(t, "tiny-b")
	rng := rand.New(rand.NewPCG(22, 22))
	ids := func(n int) []int32 {
		p := make([]int32, n)
		for i := range p {
			p[i] = int32(2 + rng.IntN(m.Config.VocabSize-2))
		}
		return p
	}
	prefixes := [][]int32{ids(25), ids(8), ids(40), nil}
	jobs := randomJobs(rng, m, 16, 20)
	for i := range jobs {
		jobs[i].prompt = slices.Concat(prefixes[rng.IntN(len(prefixes))], jobs[i].prompt)
	}
	const budget = 200
	var mu sync.Mutex
	worst, computed := 0, 0
	e := newEngine(t, m, engine.Options{StepTokens: 24, CacheRows: budget, KeepRows: 150, OnStep: func(s engine.StepInfo) {
		mu.Lock()
		defer mu.Unlock()
		worst, computed = max(worst, s.CacheRows+s.KeptRows), computed+sum(s.Prefill)
	}})
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(j.join * 3)
			got, _, err := collect(context.Background(), e.Generate, j.prompt, j.opts)
			if err != nil {
				errs[i] = err
				return
			}
			want, _, _ := collect(context.Background(), m.Generate, j.prompt, j.opts)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				errs[i] = fmt.Errorf("prompt %d: engine %v, alone %v", len(j.prompt), got, want)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("job %d: %v", i, err)
		}
	}
	waitIdle(t, e)
	s := e.Stats()
	total := 0
	for _, j := range jobs {
		total += len(j.prompt)
	}
	t.Logf("%d of %d prompt positions copied, %d States allocated for %d requests", s.ReusedTokens, total, s.NewStates, len(jobs))
	if worst > budget || s.KeptRows > 150 {
		t.Errorf("%d rows running and kept at once, %d kept at the end; budget %d, keep 150", worst, s.KeptRows, budget)
	}
	if s.ReusedTokens == 0 || int(s.ReusedTokens)+computed != total {
		t.Errorf("%d positions copied and %d computed of %d", s.ReusedTokens, computed, total)
	}
}

// CacheBytes is a budget in rows of the model's KV cache; it must hold one.
func TestEngineCacheBytes(t *testing.T) {
	m := loadModel(t, "tiny-a")
	row := m.KVRowBytes()
	e := newEngine(t, m, engine.Options{CacheBytes: 50*row + row/2, CacheRows: 80})
	if _, err := e.Generate(context.Background(), []int32{2, 5}, nemotron.GenerateOptions{MaxTokens: 49}, nil); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("51 rows in a budget of 50.5 rows' bytes: %v, want ErrBadInput", err)
	}
	if _, err := e.Generate(context.Background(), []int32{2, 5}, nemotron.GenerateOptions{MaxTokens: 48}, nil); err != nil {
		t.Errorf("50 rows: %v", err)
	}
	for _, o := range []engine.Options{{CacheBytes: row - 1}, {CacheBytes: -1}, {KeepRows: -1}} {
		if _, err := engine.New(m, o); !errors.Is(err, nemotron.ErrBadOption) {
			t.Errorf("%+v: %v, want ErrBadOption", o, err)
		}
	}
}

// Requests that arrive together with a shared prefix read it once between them: the first
// reads it in chunks, the others wait for each chunk and copy it. No cache is kept for this.
// Each still gets exactly the tokens it gets alone.
func TestEngineSharesRunningPrefix(t *testing.T) {
	m := loadModel(t, "small-c")
	rng := rand.New(rand.NewPCG(23, 23))
	ids := func(n int) []int32 {
		p := make([]int32, n)
		for i := range p {
			p[i] = int32(2 + rng.IntN(m.Config.VocabSize-2))
		}
		return p
	}
	shared := ids(70)
	prompts := make([][]int32, 5)
	for i := range prompts {
		prompts[i] = slices.Concat(shared, ids(3+5*i))
	}
	var mu sync.Mutex
	var pause sync.Mutex // held while the requests arrive, so that they start together
	computed := 0
	e := newEngine(t, m, engine.Options{StepTokens: 32, OnStep: func(s engine.StepInfo) {
		pause.Lock()
		pause.Unlock()
		mu.Lock()
		computed += sum(s.Prefill)
		mu.Unlock()
	}})
	// A first request to hold the scheduler in its OnStep while the others queue.
	pause.Lock()
	go e.Generate(context.Background(), []int32{2, 3}, nemotron.GenerateOptions{MaxTokens: 1, EOS: []int32{}}, nil)
	for e.Stats().Running == 0 {
		time.Sleep(time.Millisecond)
	}
	opts := nemotron.GenerateOptions{MaxTokens: 5, EOS: []int32{}}
	got := make([][]int32, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() { got[i], _, errs[i] = collect(context.Background(), e.Generate, p, opts) })
	}
	for e.Stats().Waiting < len(prompts) {
		time.Sleep(time.Millisecond)
	}
	pause.Unlock()
	wg.Wait()
	total := 2
	for i, p := range prompts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		want, _, _ := collect(context.Background(), m.Generate, p, opts)
		if fmt.Sprint(got[i]) != fmt.Sprint(want) {
			t.Errorf("request %d: engine %v, alone %v", i, got[i], want)
		}
		total += len(p)
	}
	s := e.Stats()
	t.Logf("%d of %d prompt positions computed, %d copied", computed, total, s.ReusedTokens)
	if want := int64(len(shared) * (len(prompts) - 1)); s.ReusedTokens != want || int(s.ReusedTokens)+computed != total {
		t.Errorf("%d positions copied and %d computed of %d; want %d copied", s.ReusedTokens, computed, total, want)
	}
}
