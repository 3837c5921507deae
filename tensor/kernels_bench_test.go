//go:build !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"unsafe"
)

// Decoding kernels at the model's shapes, for every implementation this CPU runs; a level
// that inherits a kernel unchanged from the level below is skipped.
//
// The matrix-vector products read their weights from a 1 GiB pool of copies, each call
// taking the next copy, so that the weights stream from memory as in decoding: one matrix
// (19-57 MB) would stay in a large L3 and measure the cache. MB/s counts weight bytes.
// BenchmarkReadBandwidth is the machine's rate to compare with: run them in one invocation
// and compare ratios (this machine is noisy), e.g.
//
//	go test -run '^$' -bench 'Gemv|ReadBandwidth' -count 3 ./tensor/

const benchPoolBytes = 1 << 30

var benchPool struct {
	once sync.Once
	u16  []uint16  // bf16 values of N(0,1) numbers: normal as bf16 and as f16
	f32  []float32 // N(0,1)
}

func benchPools() ([]uint16, []float32) {
	benchPool.once.Do(func() {
		rng := rand.New(rand.NewPCG(7, 7))
		u := make([]uint16, benchPoolBytes/2)
		f := make([]float32, benchPoolBytes/4)
		const seed = 1 << 16
		for i := range seed {
			v := float32(rng.NormFloat64())
			u[i], f[i] = Float32ToBF16(v), v
		}
		for i := seed; i < len(u); i *= 2 {
			copy(u[i:], u[:i])
		}
		for i := seed; i < len(f); i *= 2 {
			copy(f[i:], f[:i])
		}
		benchPool.u16, benchPool.f32 = u, f
	})
	return benchPool.u16, benchPool.f32
}

// benchCopies cuts pool into as many rows×k matrices as it holds.
func benchCopies[T any](pool []T, rows, k int) [][]T {
	n := rows * k
	var m [][]T
	for i := 0; i+n <= len(pool); i += n {
		m = append(m, pool[i:i+n:i+n])
	}
	return m
}

var gemvShapes = [][2]int{{3072, 3072}, {9216, 3072}, {3072, 9216}} // rows × k

// gemvCacheShapes fit in L2 (a one-matrix "pool"): the kernel's own ceiling, which matters on
// machines that stream memory faster than this one.
var gemvCacheShapes = [][2]int{{128, 1536}} // 384 KiB of bf16; whole groups of a packed matrix

// distinct returns the implementations whose kernel (chosen by f) differs from the level
// below, labelled by level.
func distinct(f func(*Kernels) any) []*Kernels {
	var out []*Kernels
	var prev uintptr
	for _, kn := range Implementations() {
		v := reflect.ValueOf(f(kn))
		if v.IsNil() {
			continue
		}
		if p := v.Pointer(); p != prev {
			out = append(out, kn)
			prev = p
		}
	}
	return out
}

func benchGemv[W any](b *testing.B, pool []W, size int, pick func(*Kernels) any, run func(kn *Kernels, dst []float32, w []W, x []float32)) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, kn := range distinct(pick) {
		for j, s := range append(gemvShapes, gemvCacheShapes...) {
			rows, k := s[0], s[1]
			ws := benchCopies(pool, rows, k)
			where := ""
			if j >= len(gemvShapes) {
				ws, where = ws[:1], "/L2"
			}
			x := randSlice(rng, k, 1)
			dst := make([]float32, rows)
			b.Run(fmt.Sprintf("%s/%dx%d%s", kn.Level, rows, k, where), func(b *testing.B) {
				b.SetBytes(int64(rows * k * size))
				i := 0
				for b.Loop() {
					run(kn, dst, ws[i], x)
					if i++; i == len(ws) {
						i = 0
					}
				}
			})
		}
	}
}

func BenchmarkGemvBF16(b *testing.B) {
	u, _ := benchPools()
	benchGemv(b, u, 2, func(k *Kernels) any { return k.GemvBF16 },
		func(kn *Kernels, dst []float32, w []uint16, x []float32) { kn.GemvBF16(dst, w, x) })
}

func BenchmarkGemvF16(b *testing.B) {
	u, _ := benchPools()
	benchGemv(b, u, 2, func(k *Kernels) any { return k.GemvF16 },
		func(kn *Kernels, dst []float32, w []uint16, x []float32) { kn.GemvF16(dst, w, x) })
}

func BenchmarkGemvF32(b *testing.B) {
	_, f := benchPools()
	benchGemv(b, f, 4, func(k *Kernels) any { return k.GemvF32 },
		func(kn *Kernels, dst []float32, w []float32, x []float32) { kn.GemvF32(dst, w, x) })
}

// BenchmarkGemvBF16Fast rounds x to bf16 once per call, as the CPU backend does.
func BenchmarkGemvBF16Fast(b *testing.B) {
	u, _ := benchPools()
	xb := make([]uint16, 9216)
	benchGemv(b, u, 2, func(k *Kernels) any { return k.GemvBF16Fast },
		func(kn *Kernels, dst []float32, w []uint16, x []float32) {
			kn.F32ToBF16(xb, x)
			kn.GemvBF16Fast(dst, w, xb[:len(x)])
		})
}

// BenchmarkGemvBF16Threads splits the rows between two goroutines, each streaming its own
// block, as the CPU backend's workers do; compare with BenchmarkReadBandwidth/threads=2.
func BenchmarkGemvBF16Threads(b *testing.B) {
	u, _ := benchPools()
	kn := Active()
	rng := rand.New(rand.NewPCG(9, 9))
	for _, s := range gemvShapes {
		rows, k := s[0], s[1]
		ws := benchCopies(u, rows, k)
		x := randSlice(rng, k, 1)
		dst := make([]float32, rows)
		b.Run(fmt.Sprintf("%s/%dx%d/threads=2", kn.Level, rows, k), func(b *testing.B) {
			b.SetBytes(int64(rows * k * 2))
			i := 0
			half := rows / 2
			for b.Loop() {
				w := ws[i]
				var wg sync.WaitGroup
				wg.Go(func() { kn.GemvBF16(dst[:half], w[:half*k], x) })
				kn.GemvBF16(dst[half:], w[half*k:], x)
				wg.Wait()
				if i++; i == len(ws) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkReadBandwidth sums a 1 GiB array with StreamSum: the rate at which one thread
// (or two, each over half) can read memory here.
func BenchmarkReadBandwidth(b *testing.B) {
	_, f := benchPools()
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*4)
	b.Run("threads=1", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			StreamSum(buf)
		}
	})
	b.Run("threads=2", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		half := len(buf) / 2
		for b.Loop() {
			var wg sync.WaitGroup
			wg.Go(func() { StreamSum(buf[:half]) })
			StreamSum(buf[half:])
			wg.Wait()
		}
	})
}

// Vector kernels at the sizes decoding uses them: attention over up to 4096 positions with
// head dimension 128, rows of 3072 and 9216, rotary halves of 32. MB/s counts the float32
// bytes of the main operand.

func benchVec(b *testing.B, name string, pick func(*Kernels) any, sizes []int, run func(kn *Kernels, n int) func()) {
	for _, kn := range distinct(pick) {
		for _, n := range sizes {
			f := run(kn, n)
			b.Run(fmt.Sprintf("%s/%s/n=%d", name, kn.Level, n), func(b *testing.B) {
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					f()
				}
			})
		}
	}
}

func BenchmarkVector(b *testing.B) {
	rng := rand.New(rand.NewPCG(10, 10))
	benchVec(b, "Dot", func(k *Kernels) any { return k.Dot }, []int{128, 4096}, func(kn *Kernels, n int) func() {
		x, y := randSlice(rng, n, 1), randSlice(rng, n, 1)
		return func() { kn.Dot(x, y) }
	})
	// A query's scores over 512 keys of a head (rows of 1024, the KV cache's), one call, and
	// the same by a call of Dot a key.
	benchVec(b, "Dots", func(k *Kernels) any { return k.Dots }, []int{128}, func(kn *Kernels, n int) func() {
		x, ys, dst := randSlice(rng, n, 1), randSlice(rng, 512*1024, 1), make([]float32, 512)
		return func() { kn.Dots(dst, x, ys, 1024, 0.125) }
	})
	benchVec(b, "DotKeys", func(k *Kernels) any { return k.Dot }, []int{128}, func(kn *Kernels, n int) func() {
		x, ys, dst := randSlice(rng, n, 1), randSlice(rng, 512*1024, 1), make([]float32, 512)
		return func() {
			for j := range dst {
				dst[j] = kn.Dot(x, ys[j*1024:j*1024+n]) * 0.125
			}
		}
	})
	benchVec(b, "Axpy", func(k *Kernels) any { return k.Axpy }, []int{128, 3072}, func(kn *Kernels, n int) func() {
		x, y := randSlice(rng, n, 1), randSlice(rng, n, 1)
		return func() { kn.Axpy(1e-3, x, y) }
	})
	benchVec(b, "Add", func(k *Kernels) any { return k.Add }, []int{3072}, func(kn *Kernels, n int) func() {
		x, y := randSlice(rng, n, 1), randSlice(rng, n, 1)
		return func() { kn.Add(y, x) }
	})
	benchVec(b, "ReLU2", func(k *Kernels) any { return k.ReLU2 }, []int{9216}, func(kn *Kernels, n int) func() {
		x := randSlice(rng, n, 1)
		return func() { kn.ReLU2(x) }
	})
	benchVec(b, "Softmax", func(k *Kernels) any { return k.Softmax }, []int{128, 4096}, func(kn *Kernels, n int) func() {
		x := randSlice(rng, n, 3)
		y := make([]float32, n)
		return func() { copy(y, x); kn.Softmax(y) }
	})
	benchVec(b, "LayerNorm1P", func(k *Kernels) any { return k.LayerNorm1P }, []int{3072}, func(kn *Kernels, n int) func() {
		x, w, bias, dst := randSlice(rng, n, 1), randSlice(rng, n, 0.1), randSlice(rng, n, 0.1), make([]float32, n)
		return func() { kn.LayerNorm1P(dst, x, w, bias, 1e-5) }
	})
	benchVec(b, "RotateHalf", func(k *Kernels) any { return k.RotateHalf }, []int{64}, func(kn *Kernels, n int) func() {
		// A true rotation (cos²+sin² = 1), so that repeated calls keep x in range.
		x, c, s := randSlice(rng, n, 1), make([]float32, n/2), make([]float32, n/2)
		RopeAngles(c, s, RopeInvFreq(n, 10000), 7)
		return func() { kn.RotateHalf(x, c, s) }
	})
	benchVec(b, "BF16ToF32", func(k *Kernels) any { return k.BF16ToF32 }, []int{9216}, func(kn *Kernels, n int) func() {
		src, dst := bf16Slice(rng, n), make([]float32, n)
		return func() { kn.BF16ToF32(dst, src) }
	})
	benchVec(b, "F16ToF32", func(k *Kernels) any { return k.F16ToF32 }, []int{9216}, func(kn *Kernels, n int) func() {
		src, dst := f16Slice(rng, n), make([]float32, n)
		return func() { kn.F16ToF32(dst, src) }
	})
	benchVec(b, "F32ToBF16", func(k *Kernels) any { return k.F32ToBF16 }, []int{9216}, func(kn *Kernels, n int) func() {
		src, dst := randSlice(rng, n, 1), make([]uint16, n)
		return func() { kn.F32ToBF16(dst, src) }
	})
	// n is the columns of prefill's tiles of 24 rows: a group's 128 outputs for a panel.
	benchVec(b, "Transpose", func(k *Kernels) any { return k.Transpose }, []int{128}, func(kn *Kernels, n int) func() {
		src, dst := randSlice(rng, 24*n, 1), make([]float32, 24*3072)
		return func() { kn.Transpose(dst, 3072, src, 24, 24, n) }
	})
}

// BenchmarkGemvBF16Packed is BenchmarkGemvBF16 over packed matrices (the same bytes read as
// one stream per group of 128 rows).
func BenchmarkGemvBF16Packed(b *testing.B) {
	u, _ := benchPools()
	benchGemv(b, u, 2, func(k *Kernels) any { return k.GemvBF16Packed },
		func(kn *Kernels, dst []float32, w []uint16, x []float32) {
			kn.GemvBF16Packed(dst, w, x, PackedRows*len(x), false)
		})
}

func BenchmarkGemvBF16PackedFast(b *testing.B) {
	u, _ := benchPools()
	xb := make([]uint16, 9216)
	benchGemv(b, u, 2, func(k *Kernels) any { return k.GemvBF16PackedFast },
		func(kn *Kernels, dst []float32, w []uint16, x []float32) {
			kn.F32ToBF16(xb, x)
			kn.GemvBF16PackedFast(dst, w, xb[:len(x)], PackedRows*len(x), false)
		})
}
