//go:build linux && !purego

package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The AMX GemmBF16 beside the kernels it replaces, at the model's shapes (hidden 3072, MLP
// 9216), as in gemm_bench_test.go: "cache" reuses one panel and one block of W; "stream"
// walks the rows of a 9216×k W (56 MB at k=3072) from memory. Each reports GFLOP/s of wall
// time and of the thread's CPU time ("cpu-GFLOP/s"): on a machine shared with other work
// the second is the kernel's own rate. StreamSum gives this machine's memory bandwidth for
// one thread: a kernel streaming W does 2·GemmRows = 96 flop per bf16 of W.
//
//	go test ./tensor -run NONE -bench 'AMX$' -count 3

func BenchmarkAMX(b *testing.B) {
	var amx, bf16 *Kernels
	for _, k := range Implementations() {
		switch k.Level {
		case AMX:
			amx = k
		case AVX512BF16:
			bf16 = k
		}
	}
	if amx == nil {
		b.Skip("no AMX")
	}
	type kernel struct {
		name string
		kn   *Kernels
		f32  bool
	}
	kernels := []kernel{{"amx", amx, false}, {"avx512bf16", bf16, false}, {"avx512-f32", bf16, true}}
	rng := rand.New(rand.NewPCG(4, 4))
	const R, m = gemmRows512, 9216
	for _, k := range []int{3072, 9216} {
		x := randSlice(rng, R*k, 1)
		xp, xb := make([]float32, R*k), make([]uint16, R*k)
		amx.PackF32(xp, x, k, R, k)
		amx.PackBF16(xb, x, k, R, k)
		wb := bf16Slice(rng, m*k)
		wf := randSlice(rng, m*k, 1)
		tile := make([]float32, R*gemmColsAMX)
		for _, where := range []string{"cache", "stream"} {
			for _, kr := range kernels {
				C := kr.kn.GemmCols
				rows := C
				if where == "stream" {
					rows = m
				}
				b.Run(fmt.Sprintf("%s/k=%d/%s", kr.name, k, where), func(b *testing.B) {
					j0 := 0
					flop := float64(2 * R * C * k)
					timeCPU(b, flop, func() {
						if kr.f32 {
							kr.kn.GemmF32(tile, xp, wf[j0*k:], k, k, C, false)
						} else {
							kr.kn.GemmBF16(tile, xb, wb[j0*k:], k, k, C, false)
						}
						if j0 += C; j0+C > rows {
							j0 = 0
						}
					})
				})
			}
		}
	}
	mem := make([]byte, 256<<20)
	for i := range mem {
		mem[i] = byte(i)
	}
	b.Run("StreamSum", func(b *testing.B) {
		for b.Loop() {
			StreamSum(mem)
		}
		b.ReportMetric(float64(len(mem))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	})
}

// BenchmarkAMXMatMul runs the AMX GemmBF16 over a whole matrix product of 192 tokens (4
// panels), one thread, in two loop orders with several k blocks: "panels-outer" as
// backend/cpu's gemm (for each panel: k blocks: blocks of C rows of W, over 256 rows of W a
// task), and "w-outer" (for each k block and block of W: every panel), which reuses each
// block of W from cache for all the panels instead of reading it once a panel.
func BenchmarkAMXMatMul(b *testing.B) {
	var kn *Kernels
	for _, k := range Implementations() {
		if k.Level == AMX {
			kn = k
		}
	}
	if kn == nil {
		b.Skip("no AMX")
	}
	const n, task = 192, 256
	R, C := kn.GemmRows, kn.GemmCols
	panels := n / R
	rng := rand.New(rand.NewPCG(9, 9))
	for _, shape := range []struct{ k, m int }{{3072, 9216}, {9216, 3072}} {
		k, m := shape.k, shape.m
		xpb := bf16Slice(rng, panels*k*R)
		w := bf16Slice(rng, m*k)
		tile := make([]float32, panels*task*R)
		for _, kc := range []int{512, 2048, k} {
			gemm := func(p, j0, lo, k0, kcur int) {
				kn.GemmBF16(tile[(p*task+j0-lo)*R:], xpb[p*k*R+k0*R:], w[j0*k+k0:], k, kcur, C, k0 > 0)
			}
			flop := float64(2 * n * k * m)
			b.Run(fmt.Sprintf("k=%d/m=%d/panels-outer/kc=%d", k, m, kc), func(b *testing.B) {
				timeCPU(b, flop, func() {
					for lo := 0; lo < m; lo += task {
						for p := range panels {
							for k0 := 0; k0 < k; k0 += kc {
								for j0 := lo; j0 < lo+task; j0 += C {
									gemm(p, j0, lo, k0, min(kc, k-k0))
								}
							}
						}
					}
				})
			})
			b.Run(fmt.Sprintf("k=%d/m=%d/w-outer/kc=%d", k, m, kc), func(b *testing.B) {
				timeCPU(b, flop, func() {
					for lo := 0; lo < m; lo += task {
						for k0 := 0; k0 < k; k0 += kc {
							for j0 := lo; j0 < lo+task; j0 += C {
								for p := range panels {
									gemm(p, j0, lo, k0, min(kc, k-k0))
								}
							}
						}
					}
				})
			})
		}
	}
}

// timeCPU runs f b.N times on one locked thread and reports GFLOP/s of wall and CPU time.
func timeCPU(b *testing.B, flop float64, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadTime()
	for b.Loop() {
		f()
	}
	cpu := threadTime() - c0
	total := flop * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(total/cpu.Seconds()/1e9, "cpu-GFLOP/s")
}

func threadTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}
