//go:build linux && !purego

package tensor

import (
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests of the AMX kernels beyond TestGemm and TestGemmBounds (which run them at every nw
// and at k with and without a tail) and TestEncodings (the hand-encoded instructions): the
// signal frame, and tile state surviving many goroutines, threads, signals and preemption.

func amxKernels(t *testing.T) *Kernels {
	t.Helper()
	for _, k := range Implementations() {
		if k.Level == AMX {
			return k
		}
	}
	t.Skip("no AMX on this CPU (or Linux refused the tile state)")
	return nil
}

// A signal delivered while a kernel runs pushes the tile data (8 KiB) in its frame, on the
// thread's signal stack: Go's are 32 KiB, and its handler needs a few KiB of that besides.
func TestAMXSignalStack(t *testing.T) {
	amxKernels(t)
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		t.Skip(err)
	}
	const atMinSigStkSz = 51
	for i := 0; i+16 <= len(auxv); i += 16 {
		if binary.LittleEndian.Uint64(auxv[i:]) == atMinSigStkSz {
			size := binary.LittleEndian.Uint64(auxv[i+8:])
			t.Logf("AT_MINSIGSTKSZ = %d bytes", size)
			if size > 24<<10 {
				t.Errorf("signal frames of %d bytes leave too little of Go's 32 KiB signal stacks", size)
			}
			return
		}
	}
	t.Skip("no AT_MINSIGSTKSZ in the auxiliary vector")
}

// Tile state is per thread and not known to Go's scheduler: the kernels must give the same
// bits however goroutines, threads, signals, garbage collections and the AVX-512 kernels
// interleave with them. Waves of goroutines lock their threads and exit with them locked,
// so that the runtime keeps making threads (each installs a signal stack, which the kernel
// checks against the AMX frame size); the CPU profiler and a stream of SIGURG (the signal
// of Go's asynchronous preemption) interrupt the kernels mid-way.
func TestAMXConcurrent(t *testing.T) {
	kn := amxKernels(t)
	const R = gemmRows512
	rng := rand.New(rand.NewPCG(8, 8))
	type problem struct {
		k, nw, ldw int
		acc        bool
		xb, wb     []uint16
		xp, wf     []float32
		init, want []float32 // AMX GemmBF16 from init
		wantF32    []float32 // AVX-512 GemmF32 from init
	}
	var probs []*problem
	for _, s := range []struct {
		k, nw int
		acc   bool
	}{{1056, 32, false}, {512, 20, true}, {96, 7, false}, {3072, 32, true}, {62, 32, true}} {
		p := &problem{k: s.k, nw: s.nw, ldw: s.k + 2, acc: s.acc}
		x := randSlice(rng, R*s.k, 1)
		p.xb, p.xp = make([]uint16, s.k*R), make([]float32, s.k*R)
		kn.PackBF16(p.xb, x, s.k, R, s.k)
		kn.PackF32(p.xp, x, s.k, R, s.k)
		p.wb, p.wf = bf16Slice(rng, s.nw*p.ldw), randSlice(rng, s.nw*p.ldw, 1)
		p.init = randSlice(rng, s.nw*R, 1)
		p.want = append([]float32(nil), p.init...)
		kn.GemmBF16(p.want, p.xb, p.wb, p.ldw, s.k, s.nw, s.acc)
		p.wantF32 = append([]float32(nil), p.init...)
		kn.GemmF32(p.wantF32, p.xp, p.wf, p.ldw, s.k, s.nw, s.acc)
		probs = append(probs, p)
	}

	if err := pprof.StartCPUProfile(io.Discard); err == nil {
		defer pprof.StopCPUProfile()
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			syscall.Kill(os.Getpid(), syscall.SIGURG)
			if i%64 == 0 {
				runtime.GC()
			}
			time.Sleep(20 * time.Microsecond)
		}
	})
	for range runtime.GOMAXPROCS(0) { // Go code to preempt asynchronously
		bg.Go(func() {
			x := 1.0
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 1 << 16 {
					x = math.Sqrt(x + 1)
				}
			}
		})
	}

	waves, iters := 6, 24
	if testing.Short() {
		waves, iters = 2, 8
	}
	var failed sync.Once
	for wave := range waves {
		var wg sync.WaitGroup
		for g := range 4 * runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				if g%2 == 0 {
					runtime.LockOSThread() // and exit with it: the thread goes too
				}
				tile := make([]float32, gemmColsAMX*R)
				for i := range iters {
					p := probs[(g+i+wave)%len(probs)]
					out := tile[:p.nw*R]
					copy(out, p.init)
					kn.GemmBF16(out, p.xb, p.wb, p.ldw, p.k, p.nw, p.acc)
					if j := firstDiff(out, p.want); j >= 0 {
						failed.Do(func() {
							t.Errorf("GemmBF16 k=%d nw=%d, goroutine %d, call %d: element %d = %v, want %v", p.k, p.nw, g, i, j, out[j], p.want[j])
						})
						return
					}
					copy(out, p.init)
					if i%2 == 0 {
						kn.GemmF32(out, p.xp, p.wf, p.ldw, p.k, p.nw, p.acc)
					} else {
						gemmF32AVX512(out[:min(8, p.nw)*R], p.xp, p.wf, p.ldw, p.k, min(8, p.nw), p.acc)
						out = out[:min(8, p.nw)*R]
					}
					if j := firstDiff(out, p.wantF32); j >= 0 {
						failed.Do(func() {
							t.Errorf("GemmF32 beside AMX k=%d nw=%d, goroutine %d, call %d: element %d = %v, want %v", p.k, p.nw, g, i, j, out[j], p.wantF32[j])
						})
						return
					}
					if i%4 == 1 {
						runtime.Gosched()
					}
				}
			})
		}
		wg.Wait()
	}
	close(stop)
	bg.Wait()
}

// firstDiff returns the first index where got and want differ in bits, or -1.
func firstDiff(got, want []float32) int {
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return i
		}
	}
	return -1
}
