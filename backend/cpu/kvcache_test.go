package cpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/tensor"
)

// A BF16 or F16 KV cache: Copy rounds new F32 rows to nearest even (as tensor's scalar
// conversions do) and copies a cache's own rows as they are, and Attention over it equals
// attention over an F32 cache holding the widened values: the same bits on the panel kernels
// (n ≥ 16, which widen the cache first), within 1e-6 of the largest output on the row kernels
// (n < 16), whose dot products of bf16/f16 keys take the matrix-vector kernels, another
// order of summation. Measured: up to 1.8e-7.
func TestKVCacheHalf(t *testing.T) {
	b, err := cpu.New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rng := rand.New(rand.NewPCG(2, 2))
	const heads, kvHeads, hd, rows = 4, 2, 32, 40
	kvc := kvHeads * hd
	host := func(n, c int) []float32 {
		x := make([]float32, n*c)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	upload := func(x []float32, shape ...int) backend.Tensor {
		t.Helper()
		u, err := b.Alloc(tensor.F32, shape...)
		if err != nil {
			t.Fatal(err)
		}
		b.Copy(u, 0, fromHost(t, b, x, shape...))
		return u
	}
	for _, dt := range []tensor.DType{tensor.BF16, tensor.F16} {
		round := tensor.Float32ToBF16
		wide := tensor.BF16ToFloat32
		if dt == tensor.F16 {
			round, wide = tensor.Float32ToF16, tensor.F16ToFloat32
		}
		kh, vh := host(rows, kvc), host(rows, kvc)
		kw, vw := make([]float32, len(kh)), make([]float32, len(vh))
		for i := range kh {
			kw[i], vw[i] = wide(round(kh[i])), wide(round(vh[i]))
		}
		k, _ := b.Alloc(dt, rows, kvc)
		v, _ := b.Alloc(dt, rows, kvc)
		// Rows enter in two parts, the second through a copy of another cache's rows.
		b.Copy(k, 0, upload(kh[:10*kvc], 10, kvc))
		b.Copy(v, 0, upload(vh[:10*kvc], 10, kvc))
		k2, _ := b.Alloc(dt, rows, kvc)
		v2, _ := b.Alloc(dt, rows, kvc)
		b.Copy(k2, 10, upload(kh[10*kvc:], rows-10, kvc))
		b.Copy(v2, 10, upload(vh[10*kvc:], rows-10, kvc))
		b.Copy(k, 10, b.Rows(k2, 10, rows))
		b.Copy(v, 10, b.Rows(v2, 10, rows))
		kf, vf := upload(kw, rows, kvc), upload(vw, rows, kvc)
		for _, n := range []int{1, 3, 15, 16, 24} {
			pos0 := rows - n
			q := upload(host(n, heads*hd), n, heads*hd)
			got, _ := b.Alloc(tensor.F32, n, heads*hd)
			want, _ := b.Alloc(tensor.F32, n, heads*hd)
			b.Attention(got, q, k, v, heads, kvHeads, pos0)
			b.Attention(want, q, kf, vf, heads, kvHeads, pos0)
			g, w := read(t, b, got), read(t, b, want)
			worst, _ := near.Max(g, w)
			scale := 1.0
			for _, x := range w {
				scale = max(scale, math.Abs(float64(x)))
			}
			same := true
			for i := range g {
				same = same && math.Float32bits(g[i]) == math.Float32bits(w[i])
			}
			t.Logf("%s n=%d: %.3g from the widened F32 cache", dt, n, worst/scale)
			switch {
			case n >= 16 && !same:
				t.Errorf("%s n=%d: attention on panels differs from the widened cache by %.3g, want the same bits", dt, n, worst)
			case worst/scale > 1e-6:
				t.Errorf("%s n=%d: attention differs from the widened cache by %.3g", dt, n, worst)
			}
		}
	}
	if _, err := b.Alloc(tensor.F64, 2, 2); err == nil {
		t.Error("an F64 tensor allocated")
	}
}

func fromHost(t *testing.T, b *cpu.Backend, x []float32, shape ...int) backend.Tensor {
	t.Helper()
	u, err := b.Upload(tensor.FromF32(x, shape...))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func read(t *testing.T, b *cpu.Backend, x backend.Tensor) []float32 {
	t.Helper()
	out := make([]float32, tensor.NumElements(x.Shape()))
	if err := b.Read(out, x); err != nil {
		t.Fatal(err)
	}
	return out
}
