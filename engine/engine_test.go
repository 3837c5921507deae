package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/engine"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

func loadModel(t testing.TB, name string) *nemotron.Model {
	t.Helper()
	b, err := cpu.New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return goldentest.LoadModel(t, goldentest.Dir(1, name), b)
}

func newEngine(t testing.TB, m *nemotron.Model, opts engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// collect runs a generation and returns its tokens.
func collect(ctx context.Context, gen func(context.Context, []int32, nemotron.GenerateOptions, func(int32, bool) bool) (nemotron.Generation, error),
	prompt []int32, opts nemotron.GenerateOptions) ([]int32, nemotron.Generation, error) {
	var ids []int32
	g, err := gen(ctx, prompt, opts, func(id int32, last bool) bool {
		ids = append(ids, id)
		return true
	})
	return ids, g, err
}

type job struct {
	prompt []int32
	opts   nemotron.GenerateOptions
	join   time.Duration
}

func randomJobs(rng *rand.Rand, m *nemotron.Model, n, maxPrompt int) []job {
	jobs := make([]job, n)
	for i := range jobs {
		p := make([]int32, 1+rng.IntN(maxPrompt))
		for j := range p {
			p[j] = int32(2 + rng.IntN(m.Config.VocabSize-2))
		}
		jobs[i] = job{prompt: p, join: time.Duration(rng.IntN(30)) * time.Millisecond,
			opts: nemotron.GenerateOptions{MaxTokens: 1 + rng.IntN(24), EOS: []int32{}}}
		if i%4 == 3 { // seeded sampling is reproducible per request too
			jobs[i].opts.Sampling = nemotron.Sampling{Temperature: 0.8, TopK: 40, Seed: uint64(i)}
		}
		if i%5 == 4 { // and the model's EOS ends a request as it ends one alone
			jobs[i].opts.EOS = nil
		}
	}
	return jobs
}

// N sequences of random lengths, joining at random times and asking for random numbers of
// tokens, get from the engine exactly the tokens each gets alone.
func TestEngineMatchesAlone(t *testing.T) {
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name)
			rng := rand.New(rand.NewPCG(3, uint64(len(name))))
			jobs := randomJobs(rng, m, 12, 60)
			var steps []engine.StepInfo
			e := newEngine(t, m, engine.Options{StepTokens: 32, OnStep: func(s engine.StepInfo) { steps = append(steps, s) }})
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
			for i, j := range jobs {
				want, wg, err := collect(context.Background(), m.Generate, j.prompt, j.opts)
				if err != nil {
					t.Fatal(err)
				}
				r := got[i]
				if r.err != nil {
					t.Fatalf("job %d: %v", i, r.err)
				}
				if fmt.Sprint(r.ids) != fmt.Sprint(want) {
					t.Errorf("job %d (prompt %d, %+v):\nengine %v\n alone %v", i, len(j.prompt), j.opts, r.ids, want)
				}
				if r.g.Stop != wg.Stop || r.g.Tokens != wg.Tokens || r.g.PromptTokens != wg.PromptTokens {
					t.Errorf("job %d: engine %+v, alone %+v", i, r.g, wg)
				}
			}
			batched := 0
			for _, s := range steps {
				if s.Tokens() > 32 {
					t.Errorf("a step of %d positions, over the budget of 32", s.Tokens())
				}
				if s.Decoding+len(s.Prefill) > 1 {
					batched++
				}
			}
			t.Logf("%d steps, %d of them with more than one sequence", len(steps), batched)
			if batched == 0 {
				t.Errorf("no step ran two sequences together")
			}
			if s := e.Stats(); s.Running != 0 || s.Waiting != 0 || s.CacheRows != 0 {
				t.Errorf("after every request: %+v", s)
			}
		})
	}
}

// A long prompt is read in chunks under the step's budget while the others decode a token
// in every step.
func TestEngineChunksLongPrompt(t *testing.T) {
	m := loadModel(t, "small-c")
	const budget = 16
	var mu sync.Mutex
	var steps []engine.StepInfo
	e := newEngine(t, m, engine.Options{StepTokens: budget, OnStep: func(s engine.StepInfo) {
		mu.Lock()
		steps = append(steps, s)
		mu.Unlock()
	}})
	ctx := context.Background()
	var wg sync.WaitGroup
	started := make(chan struct{}, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Generate(ctx, []int32{2, int32(10 + i)}, nemotron.GenerateOptions{MaxTokens: 60, EOS: []int32{}},
				func(id int32, last bool) bool {
					select {
					case started <- struct{}{}:
					default:
					}
					return true
				})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	for range 3 {
		<-started
	}
	long := make([]int32, 200)
	for i := range long {
		long[i] = int32(5 + 7*i%4000)
	}
	ids, _, err := collect(ctx, e.Generate, long, nemotron.GenerateOptions{MaxTokens: 3, EOS: []int32{}})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	want, _, _ := collect(ctx, m.Generate, long, nemotron.GenerateOptions{MaxTokens: 3, EOS: []int32{}})
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("the long prompt's tokens: engine %v, alone %v", ids, want)
	}
	mu.Lock()
	defer mu.Unlock()
	chunked, read := 0, 0
	for _, s := range steps {
		if s.Tokens() > budget {
			t.Errorf("a step of %d positions, over the budget of %d", s.Tokens(), budget)
		}
		for _, c := range s.Prefill {
			if c > 2 { // the long prompt's chunks; the short ones are read whole
				read += c
				if s.Decoding > 0 {
					chunked++
				}
			}
		}
	}
	if read != len(long) || chunked < len(long)/budget {
		t.Errorf("the long prompt: %d positions read in chunks, %d chunks beside decoding; want %d, ≥ %d", read, chunked, len(long), len(long)/budget)
	}
}

// A cancelled request frees its cache at once, and the request waiting for those rows starts.
func TestEngineCancelFreesSlot(t *testing.T) {
	m := loadModel(t, "tiny-a")
	var pause sync.Mutex // held by the test, it stops the scheduler after its step
	e := newEngine(t, m, engine.Options{CacheRows: 300, OnStep: func(engine.StepInfo) { pause.Lock(); pause.Unlock() }})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := e.Generate(ctx, []int32{2, 5, 6}, nemotron.GenerateOptions{MaxTokens: 250, EOS: []int32{}}, func(int32, bool) bool {
		if n++; n == 3 {
			cancel()
		}
		return true
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled generation: %v", err)
	}
	waitIdle(t, e)

	// One request holds 252 of the 300 rows; a second waits for them and starts when the
	// first is cancelled.
	ctx, cancel = context.WithCancel(context.Background())
	first := make(chan struct{})
	go e.Generate(ctx, []int32{2, 5}, nemotron.GenerateOptions{MaxTokens: 250, EOS: []int32{}}, func(int32, bool) bool {
		select {
		case <-first:
		default:
			close(first)
		}
		return true
	})
	<-first
	pause.Lock()
	done := make(chan error)
	go func() {
		_, _, err := collect(context.Background(), e.Generate, []int32{2, 7}, nemotron.GenerateOptions{MaxTokens: 100, EOS: []int32{}})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if s := e.Stats(); s.Waiting != 1 || s.Running != 1 || s.CacheRows != 252 {
		t.Errorf("with the cache full: %+v, want one waiting, one running of 252 rows", s)
	}
	cancel()
	pause.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e)

	// A caller that stops listening frees the request as cancelling does.
	ids, g, err := collect(context.Background(), func(ctx context.Context, p []int32, o nemotron.GenerateOptions, y func(int32, bool) bool) (nemotron.Generation, error) {
		return e.Generate(ctx, p, o, func(id int32, last bool) bool { y(id, last); return false })
	}, []int32{2, 5}, nemotron.GenerateOptions{MaxTokens: 200, EOS: []int32{}})
	if err != nil || len(ids) != 1 || g.Stop != nemotron.StopRequested {
		t.Errorf("stopped by the caller: %v %+v %v", ids, g, err)
	}
	waitIdle(t, e)
}

func waitIdle(t *testing.T, e *engine.Engine) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := e.Stats()
		if s.Running == 0 && s.Waiting == 0 && s.CacheRows == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine still holds requests: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

// The cache budget bounds the rows held at once; requests wait their turn and still get
// their own tokens.
func TestEngineCacheBudget(t *testing.T) {
	m := loadModel(t, "tiny-b")
	var worst int
	e := newEngine(t, m, engine.Options{CacheRows: 100, OnStep: func(s engine.StepInfo) { worst = max(worst, s.CacheRows) }})
	rng := rand.New(rand.NewPCG(5, 5))
	jobs := randomJobs(rng, m, 10, 40)
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids, _, err := collect(context.Background(), e.Generate, j.prompt, j.opts)
			want, _, _ := collect(context.Background(), m.Generate, j.prompt, j.opts)
			if err == nil && fmt.Sprint(ids) != fmt.Sprint(want) {
				err = fmt.Errorf("engine %v, alone %v", ids, want)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("job %d: %v", i, err)
		}
	}
	if worst > 100 {
		t.Errorf("%d cache rows held at once, over the budget of 100", worst)
	}
	if _, err := e.Generate(context.Background(), []int32{2}, nemotron.GenerateOptions{MaxTokens: 100}, nil); !errors.Is(err, nemotron.ErrBadInput) {
		t.Errorf("a request larger than the whole cache: %v, want ErrBadInput", err)
	}
}

// 32 callers at once, some cancelling, some stopping early, under the race detector.
// With kept caches, the prompts share their first tokens, so that requests copy each other's
// rows as they come and go.
func TestEngineConcurrentCallers(t *testing.T) {
	for _, keep := range []int{0, 64} {
		t.Run(fmt.Sprint("keep", keep), func(t *testing.T) { concurrentCallers(t, keep) })
	}
}

func concurrentCallers(t *testing.T, keep int) {
	m := loadModel(t, "tiny-a")
	e := newEngine(t, m, engine.Options{StepTokens: 64, KeepRows: keep, CacheRows: 400})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			prompt := []int32{2, 7, int32(5 + i%3), int32(9 + 3*i)}
			opts := nemotron.GenerateOptions{MaxTokens: 8 + i%9, EOS: []int32{}}
			n := 0
			_, err := e.Generate(ctx, prompt, opts, func(int32, bool) bool {
				n++
				if i%7 == 6 && n == 2 {
					cancel()
				}
				return i%5 != 4 || n < 3
			})
			switch {
			case i%7 == 6:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("caller %d: %v", i, err)
				}
			case err != nil:
				t.Errorf("caller %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	waitIdle(t, e)
	if s := e.Stats(); s.KeptRows > keep || keep > 0 && s.ReusedTokens == 0 {
		t.Errorf("keeping %d rows: %+v", keep, s)
	}
}

// Closing the engine ends what it runs and refuses what comes after.
func TestEngineClose(t *testing.T) {
	m := loadModel(t, "tiny-a")
	e, err := engine.New(m, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := e.Generate(context.Background(), []int32{2, 5}, nemotron.GenerateOptions{EOS: []int32{}}, func(int32, bool) bool {
			select {
			case <-started:
			default:
				close(started)
			}
			return true
		})
		done <- err
	}()
	<-started
	e.Close()
	if err := <-done; !errors.Is(err, engine.ErrClosed) {
		t.Errorf("a request running at Close: %v, want ErrClosed", err)
	}
	if _, err := e.Generate(context.Background(), []int32{2}, nemotron.GenerateOptions{}, nil); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("a request after Close: %v, want ErrClosed", err)
	}
	e.Close()
}

// First come, first served within the budget: of two prompts waiting, the earlier is read
// first, the later only takes what the earlier leaves of a step.
func TestEngineFirstComeFirstServed(t *testing.T) {
	m := loadModel(t, "tiny-b")
	const budget = 16
	var pause sync.Mutex
	var steps []engine.StepInfo
	e := newEngine(t, m, engine.Options{StepTokens: budget, OnStep: func(s engine.StepInfo) {
		steps = append(steps, s)
		pause.Lock()
		pause.Unlock()
	}})
	ctx := context.Background()
	pause.Lock()
	go e.Generate(ctx, []int32{2}, nemotron.GenerateOptions{MaxTokens: 1}, nil) // holds the scheduler in its first step
	waitFor := func(waiting int) {
		for e.Stats().Steps == 0 || e.Stats().Waiting != waiting {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(0)
	prompt := func(n, seed int) []int32 {
		p := make([]int32, n)
		for i := range p {
			p[i] = int32(5 + (seed+13*i)%4000)
		}
		return p
	}
	var wg sync.WaitGroup
	for i, n := range []int{70, 50} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Generate(ctx, prompt(n, i), nemotron.GenerateOptions{MaxTokens: 2, EOS: []int32{}}, nil); err != nil {
				t.Error(err)
			}
		}()
		waitFor(i + 1)
	}
	pause.Unlock()
	wg.Wait()
	var first, second []int // the chunks read of each prompt, step by step
	for _, s := range steps[1:] {
		if s.Tokens() > budget {
			t.Errorf("a step of %d positions, over the budget of %d", s.Tokens(), budget)
		}
		switch p := s.Prefill; {
		case len(p) == 2:
			first, second = append(first, p[0]), append(second, p[1])
		case len(p) == 1 && sum(first) < 70:
			first = append(first, p[0])
		case len(p) == 1:
			second = append(second, p[0])
		}
	}
	if sum(first) != 70 || sum(second) != 50 {
		t.Fatalf("chunks %v and %v, want 70 and 50 positions", first, second)
	}
	for i, c := range first[:len(first)-1] {
		if c != budget {
			t.Errorf("the first prompt's chunk %d: %d positions beside the second's, want the whole budget of %d", i, c, budget)
		}
	}
	if last := first[len(first)-1]; last < budget && second[0] != budget-last {
		t.Errorf("the second prompt's first chunk: %d positions beside the first's last %d, want the rest of the budget", second[0], last)
	}
	t.Logf("first prompt read in %v, second in %v", first, second)
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
