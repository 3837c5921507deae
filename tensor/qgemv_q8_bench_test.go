//go:build !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// Q8_0 matrix-vector products at k = 3072, for every implementation whose kernel differs
// from the level below: from memory (each call the next of 16 copies of a ~64 MiB matrix, 1
// GiB in all: one matrix alone would stay in a 260 MiB L3, as an Intel Xeon's here) and from
// L2 (~256 KiB). MB/s counts Q8_0 weight bytes (34 per 32 weights).
// The fast product's activations are quantized once, outside the loop, as a backend
// quantizes a vector once for the several matrices that multiply it. Compare with
// BenchmarkReadBandwidth in the same invocation, e.g.
//
//	go test -run '^$' -bench 'GemvQ8_0|ReadBandwidth/threads=1' -count 3 ./tensor/

var q8Shapes = []struct {
	rows, k int
	where   string
}{
	{20480, 3072, ""}, // 66.8 MB
	{80, 3072, "/L2"}, // 261 KB
}

var q8Bench struct {
	once sync.Once
	w    []byte // 16 copies of q8Shapes[0]'s matrix: 64 quantized random rows, repeated
}

const q8BenchCopies = 16

func q8BenchWeights() []byte {
	q8Bench.once.Do(func() {
		rows, k := q8Shapes[0].rows, q8Shapes[0].k
		w, _ := quantRows(rand.New(rand.NewPCG(5, 5)), Q8_0, 64, k)
		q8Bench.w = make([]byte, q8BenchCopies*Q8_0.Bytes(rows*k))
		for i := 0; i < len(q8Bench.w); i += len(w) {
			copy(q8Bench.w[i:], w)
		}
	})
	return q8Bench.w
}

func benchQ8_0(b *testing.B, pick func(*Kernels) any, run func(kn *Kernels, dst []float32, w []byte, x []float32, a *Q8Act)) {
	all := q8BenchWeights()
	rng := rand.New(rand.NewPCG(6, 6))
	for _, kn := range distinct(pick) {
		for _, s := range q8Shapes {
			size := Q8_0.Bytes(s.rows * s.k)
			copies := 1
			if s.where == "" {
				copies = q8BenchCopies
			}
			x := randSlice(rng, s.k, 1)
			a := NewQ8Act(s.k, 32)
			kn.QuantizeQ8Act(a, x)
			dst := make([]float32, s.rows)
			b.Run(fmt.Sprintf("%s/%dx%d%s", kn.Level, s.rows, s.k, s.where), func(b *testing.B) {
				b.SetBytes(int64(size))
				i := 0
				for b.Loop() {
					run(kn, dst, all[i*size:(i+1)*size], x, a)
					if i++; i == copies {
						i = 0
					}
				}
			})
		}
	}
}

func BenchmarkGemvQ8_0(b *testing.B) {
	benchQ8_0(b, func(k *Kernels) any { return k.GemvQ8_0 },
		func(kn *Kernels, dst []float32, w []byte, x []float32, _ *Q8Act) { kn.GemvQ8_0(dst, w, x) })
}

func BenchmarkGemvQ8_0Q8(b *testing.B) {
	benchQ8_0(b, func(k *Kernels) any { return k.GemvQ8_0Q8 },
		func(kn *Kernels, dst []float32, w []byte, _ []float32, a *Q8Act) { kn.GemvQ8_0Q8(dst, w, a) })
}

func BenchmarkQuantizeQ8Act(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, kn := range distinct(func(k *Kernels) any { return k.QuantizeQ8Act }) {
		for _, k := range []int{3072, 9216} {
			for _, bs := range []int{32, 256} {
				x := randSlice(rng, k, 1)
				a := NewQ8Act(k, bs)
				b.Run(fmt.Sprintf("%s/k=%d/block=%d", kn.Level, k, bs), func(b *testing.B) {
					b.SetBytes(int64(4 * k))
					for b.Loop() {
						kn.QuantizeQ8Act(a, x)
					}
				})
			}
		}
	}
}
