package cpu

import (
	"sync/atomic"
	"testing"
	"time"
)

// countTask counts how often each index is covered and checks the worker index.
type countTask struct {
	t       *testing.T
	workers int
	hits    []atomic.Int32
}

func (c *countTask) run(worker, lo, hi int) {
	if worker < 0 || worker >= c.workers {
		c.t.Errorf("worker %d of %d", worker, c.workers)
	}
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
	}
}

// TestPoolCovers runs many Runs of every shape, back to back and after pauses long enough
// for the helpers to park, and checks that each covers its range exactly once.
func TestPoolCovers(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		p := newPool(workers)
		for r := range 300 {
			n, grain := 1+r%37, 1+r%5
			c := &countTask{t: t, workers: workers, hits: make([]atomic.Int32, n)}
			p.Run(n, grain, c)
			for i := range c.hits {
				if h := c.hits[i].Load(); h != 1 {
					t.Fatalf("workers %d, Run %d (n %d, grain %d): index %d covered %d times", workers, r, n, grain, i, h)
				}
			}
			if r%50 == 0 {
				time.Sleep(2 * spinFor) // the helpers park
			}
		}
		p.close()
		p.close() // a second close is harmless
	}
}

// spinTask keeps a worker busy for about d.
type spinTask struct{ d time.Duration }

func (s spinTask) run(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		for t0 := time.Now(); time.Since(t0) < s.d; {
		}
	}
}

// BenchmarkPoolRun times a Run of two chunks of about 20 µs each: with both workers on it,
// about 20 µs; a helper that starts late turns it into 40.
func BenchmarkPoolRun(b *testing.B) {
	p := newPool(2)
	defer p.close()
	for b.Loop() {
		p.Run(2, 1, spinTask{20 * time.Microsecond})
	}
}
