package cpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/tensor"
)

// A prompt's attention on the panel kernels (n ≥ 16; the scores four queries at a time where
// the level has Dots4) gives each query the bits of attending alone, as decoding does (one
// row, the row kernels): batch invariance, at the head sizes of the test models (32) and of
// Minitron-4B (128), whose scores run in the AVX-512 assembly. .ci/run runs it at every
// kernel level ($MINITRON_CPU).
func TestAttentionBatchInvariant(t *testing.T) {
	b, err := cpu.New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	host := func(c int) []float32 {
		x := make([]float32, c)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	for _, hd := range []int{32, 64, 128} {
		const heads, kvHeads, pos0, n = 6, 2, 7, 53
		qc, kvc := heads*hd, kvHeads*hd
		k := fromHost(t, b, host((pos0+n)*kvc), pos0+n, kvc)
		v := fromHost(t, b, host((pos0+n)*kvc), pos0+n, kvc)
		qh := host(n * qc)
		all, _ := b.Alloc(tensor.F32, n, qc)
		b.Attention(all, fromHost(t, b, qh, n, qc), k, v, heads, kvHeads, pos0)
		want := read(t, b, all)
		one, _ := b.Alloc(tensor.F32, 1, qc)
		for i := range n {
			b.Attention(one, fromHost(t, b, qh[i*qc:(i+1)*qc], 1, qc), k, v, heads, kvHeads, pos0+i)
			for j, g := range read(t, b, one) {
				if w := want[i*qc+j]; math.Float32bits(g) != math.Float32bits(w) {
					t.Fatalf("head dim %d: query %d alone gives %v at %d, in a prompt of %d %v", hd, i, g, j, n, w)
				}
			}
		}
	}
}
