//go:build linux && !purego

package tensor

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests of the AMX kernels beyond TestGemm and TestGemmBounds (which run them at every nw
// and at k with and without a tail): the hand-encoded instructions, the signal frame, and
// tile state surviving many goroutines, threads, signals and preemption.

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

// The AMX macros in amx_amd64.s must encode, at every use, the instruction their arguments
// name: read the kernels' machine code back with objdump (binutils ≥ 2.36) and compare.
func TestAMXEncoding(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("no objdump")
	}
	load := func(disp int, base string, index string, tmm int) string {
		return fmt.Sprintf("tileloadd %#x(%%%s,%%%s,1),%%tmm%d", disp, base, index, tmm)
	}
	store := func(tmm, disp int, base string) string {
		return fmt.Sprintf("tilestored %%tmm%d,%#x(%%%s,%%rcx,1)", tmm, disp, base)
	}
	dp := func(b, a, c int) string { return fmt.Sprintf("tdpbf16ps %%tmm%d,%%tmm%d,%%tmm%d", b, a, c) }
	zero := func(t int) string { return fmt.Sprintf("tilezero %%tmm%d", t) }
	// Accumulators t = 3jb+c at tile + 16·jb rows (AX, R9) + 64c bytes.
	accBase := func(t int) (string, int) { return []string{"rax", "r9"}[t/3], 64 * (t % 3) }

	var x32, x16 []string
	x32 = append(x32, "ldtilecfg (%rax)")
	for a := range 6 {
		b, d := accBase(a)
		x32 = append(x32, load(d, b, "rcx", a))
	}
	for a := range 6 {
		x32 = append(x32, zero(a))
	}
	x32 = append(x32,
		load(0, "rsi", "rdx", 6), load(0, "rdi", "rcx", 7), dp(7, 6, 0),
		load(64, "rdi", "rcx", 7), dp(7, 6, 1),
		load(128, "rdi", "rcx", 7), dp(7, 6, 2),
		load(0, "r8", "rdx", 6), dp(7, 6, 5),
		load(64, "rdi", "rcx", 7), dp(7, 6, 4),
		load(0, "rdi", "rcx", 7), dp(7, 6, 3))
	for a := range 6 {
		b, d := accBase(a)
		x32 = append(x32, store(a, d, b))
	}
	x32 = append(x32, "tilerelease")

	x16 = append(x16, "ldtilecfg (%rax)")
	for a := range 3 {
		x16 = append(x16, load(64*a, "rax", "rcx", a))
	}
	for a := range 3 {
		x16 = append(x16, zero(a))
	}
	x16 = append(x16, load(0, "rsi", "rdx", 3))
	for c := range 3 {
		x16 = append(x16, load(64*c, "rdi", "rcx", 4+c))
	}
	x16 = append(x16, dp(4, 3, 0), dp(5, 3, 1), dp(6, 3, 2))
	for a := range 3 {
		x16 = append(x16, store(a, 64*a, "rax"))
	}
	x16 = append(x16, "tilerelease")

	for _, k := range []struct {
		name string
		fn   any
		want []string
	}{{"amxBF16x32", amxBF16x32, x32}, {"amxBF16x16", amxBF16x16, x16}} {
		dis := disassemble(t, objdump, k.fn)
		if strings.Contains(dis, "(bad)") {
			t.Errorf("%s: objdump finds undecodable bytes:\n%s", k.name, dis)
		}
		var got []string
		for line := range strings.Lines(dis) {
			f := strings.SplitN(line, "\t", 2) // "  addr:", "insn operands"
			if len(f) < 2 {
				continue
			}
			insn := strings.Join(strings.Fields(f[1]), " ")
			if strings.HasPrefix(insn, "tile") || strings.HasPrefix(insn, "tdp") || strings.HasPrefix(insn, "ldtilecfg") {
				got = append(got, insn)
			}
		}
		if len(got) != len(k.want) {
			t.Fatalf("%s has %d AMX instructions, want %d:\n%s", k.name, len(got), len(k.want), strings.Join(got, "\n"))
		}
		for i := range k.want {
			if got[i] != k.want[i] {
				t.Errorf("%s: AMX instruction %d: objdump reads %q, want %q", k.name, i, got[i], k.want[i])
			}
		}
	}
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
