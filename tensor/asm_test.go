//go:build amd64 && !purego && unix

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"

	nearly "github.com/minitron-go/minitron/internal/near"
)

// Tests of the assembly beyond the shared harness in kernels_test.go: the hand-encoded
// instructions, the vectorized exp, special values, and loads that end at an unmapped page.

func hasLevel(l Level) bool { return int(l) < len(Implementations()) }

// objdumpAt returns binutils objdump's listing of the machine code at addr in this test
// binary, up to its first RET, or skips the test when objdump is not installed.
func objdumpAt(t *testing.T, addr uintptr) string {
	t.Helper()
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("no objdump (binutils) to check the encoding against")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn",
		fmt.Sprintf("--start-address=%#x", addr), fmt.Sprintf("--stop-address=%#x", addr+8192), exe).CombinedOutput()
	if err != nil {
		t.Fatalf("objdump: %v\n%s", err, out)
	}
	listing := string(out)
	if i := regexp.MustCompile(`\sret\b`).FindStringIndex(listing); i != nil {
		listing = listing[:i[1]]
	} else {
		t.Fatalf("objdump: no ret after %#x:\n%s", addr, listing)
	}
	return listing
}

// gpr names the general registers as objdump does, by their ModRM numbers.
var gpr = [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// disp formats a displacement as objdump does.
func disp(d int) string {
	if d < 0 {
		return fmt.Sprintf("-%#x", -d)
	}
	return fmt.Sprintf("%#x", d)
}

// encodings maps each macro of bf16_amd64.h to what objdump (AT&T syntax) must read for a use
// with the given operands, in the macro's order.
var encodings = map[string]func(op []int) string{
	"VDPBF16PS": func(op []int) string {
		return fmt.Sprintf("vdpbf16ps %%zmm%d,%%zmm%d,%%zmm%d", op[0], op[1], op[2])
	},
	"VCVTNEPS2BF16": func(op []int) string { return fmt.Sprintf("vcvtneps2bf16 %%zmm%d,%%ymm%d", op[0], op[1]) },
	"LDTILECFG":     func(op []int) string { return fmt.Sprintf("ldtilecfg (%%%s)", gpr[op[0]]) },
	"TILERELEASE":   func([]int) string { return "tilerelease" },
	"TILEZERO":      func(op []int) string { return fmt.Sprintf("tilezero %%tmm%d", op[0]) },
	"TILELOADD": func(op []int) string {
		return fmt.Sprintf("tileloadd %s(%%%s,%%%s,1),%%tmm%d", disp(op[3]), gpr[op[1]], gpr[op[2]], op[0])
	},
	"TILESTORED": func(op []int) string {
		return fmt.Sprintf("tilestored %%tmm%d,%s(%%%s,%%%s,1)", op[0], disp(op[3]), gpr[op[1]], gpr[op[2]])
	},
	"TDPBF16PS": func(op []int) string {
		return fmt.Sprintf("tdpbf16ps %%tmm%d,%%tmm%d,%%tmm%d", op[0], op[1], op[2])
	},
}

// TestEncodings checks every hand-encoded instruction macro of bf16_amd64.h against binutils:
// the table in encodings_amd64.s (its source, parsed here) gives the uses, objdump reads their
// bytes back from this binary, and each must read as the instruction its operands name. The
// table must use every macro the header defines, and this test must know each of them, so a
// macro added to the header without a test fails here. A macro right for these operands is
// right at every use in the kernels: each operand bit lands in its own field of the encoding.
func TestEncodings(t *testing.T) {
	header, err := os.ReadFile("bf16_amd64.h")
	if err != nil {
		t.Fatal(err)
	}
	regs := map[string]int{}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#define (\w+)(\(|\s+(\d+)$|\s)`).FindAllStringSubmatch(string(header), -1) {
		switch {
		case m[3] != "":
			regs[m[1]], _ = strconv.Atoi(m[3])
		default:
			defined[m[1]] = true
		}
	}
	for name := range defined {
		if encodings[name] == nil {
			t.Errorf("bf16_amd64.h defines %s, which TestEncodings does not know", name)
		}
	}

	src, err := os.ReadFile("encodings_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start := strings.Index(body, "TEXT bf16Encodings<>(SB)")
	end := strings.Index(body[start:], "\tRET\n")
	if start < 0 || end < 0 {
		t.Fatal("no bf16Encodings table in encodings_amd64.s")
	}
	var want, uses []string
	used := map[string]bool{}
	use := regexp.MustCompile(`^\t(\w+)(?:\((.*)\))?$`)
	for line := range strings.Lines(body[start : start+end]) {
		m := use.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			continue
		}
		var op []int
		if m[2] != "" {
			for _, a := range strings.Split(m[2], ",") {
				a = strings.TrimSpace(a)
				v, ok := regs[a]
				if !ok {
					if v, err = strconv.Atoi(a); err != nil {
						t.Fatalf("%s: operand %q is neither a number nor a register of bf16_amd64.h", m[0], a)
					}
				}
				op = append(op, v)
			}
		}
		f := encodings[m[1]]
		if f == nil {
			t.Fatalf("encodings_amd64.s uses %s, which TestEncodings does not know", m[1])
		}
		used[m[1]] = true
		uses = append(uses, strings.TrimSpace(m[0]))
		want = append(want, f(op))
	}
	for name := range defined {
		if !used[name] {
			t.Errorf("the table in encodings_amd64.s does not use %s", name)
		}
	}

	listing := objdumpAt(t, encodingsEntry())
	if strings.Contains(listing, "(bad)") {
		t.Errorf("objdump finds undecodable bytes:\n%s", listing)
	}
	var got []string
	for line := range strings.Lines(listing) {
		f := strings.SplitN(strings.TrimSpace(line), "\t", 2) // "addr:", "insn operands"
		if len(f) == 2 && strings.HasSuffix(f[0], ":") {
			if insn := strings.Join(strings.Fields(f[1]), " "); insn != "ret" {
				got = append(got, insn)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("objdump reads %d instructions, the table has %d:\n%s", len(got), len(want), listing)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: objdump reads %q, want %q", uses[i], got[i], want[i])
		}
	}
}

// TestVDPBF16PS runs the instruction on known values: small integers and halves, whose
// products and sums are exact.
func TestVDPBF16PS(t *testing.T) {
	if !hasLevel(AVX512BF16) {
		t.Skip("no AVX512-BF16")
	}
	rng := rand.New(rand.NewPCG(11, 11))
	var a, b [32]uint16
	for i := range a {
		a[i] = Float32ToBF16(float32(rng.IntN(17)-8) / 2)
		b[i] = Float32ToBF16(float32(rng.IntN(17) - 8))
	}
	var acc [3][16]float32
	for j := range acc {
		for i := range acc[j] {
			acc[j][i] = float32(100*j + i)
		}
	}
	want := acc
	for j := range want {
		for i := range want[j] {
			want[j][i] += BF16ToFloat32(a[2*i])*BF16ToFloat32(b[2*i]) + BF16ToFloat32(a[2*i+1])*BF16ToFloat32(b[2*i+1])
		}
	}
	vdpbf16psTest(&acc, &a, &b)
	if acc != want {
		t.Fatalf("VDPBF16PS:\n got %v\nwant %v", acc, want)
	}
}

// TestVCVTNEPS2BF16 runs the instruction on special values: it rounds to nearest even as
// Float32ToBF16 does, except that it flushes subnormal inputs to zero.
func TestVCVTNEPS2BF16(t *testing.T) {
	if !hasLevel(AVX512BF16) {
		t.Skip("no AVX512-BF16")
	}
	src := [16]float32{
		1, -2.5, 3.1415927, 65504, 1e30, -1e-30,
		math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), // ties, to even
		math.Float32frombits(0x3f80c000), // above the tie
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0xffa00001),                                   // signalling NaN, sign set
		math.Float32frombits(0x7f7fffff),                                   // rounds up to +Inf
		math.Float32frombits(0x00400000), math.Float32frombits(0x80000001), // subnormals
	}
	var got [2][16]uint16
	vcvtneps2bf16Test(&got, &src)
	for j := range got {
		for i, f := range src {
			want := Float32ToBF16(f)
			if u := math.Float32bits(f); u&0x7f800000 == 0 && u&0x7fffff != 0 {
				// VCVTNEPS2BF16 treats a subnormal input as zero: the reason the kernels
				// round with integer operations.
				want = uint16(u>>16) & 0x8000
			}
			if got[j][i] != want {
				t.Errorf("VCVTNEPS2BF16 #%d of %v (%#x) = %#x, want %#x", j, f, math.Float32bits(f), got[j][i], want)
			}
		}
	}
}

// ulpDiff returns the distance between two finite float32 of the same sign in units in the
// last place.
func ulpDiff(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if d < 0 {
		d = -d
	}
	return d
}

// TestExp sweeps the vectorized exp against math.Exp rounded to float32.
func TestExp(t *testing.T) {
	type impl struct {
		level  Level
		exp    func(dst, x []float32)
		lo, hi float32 // where it is accurate: AVX2 flushes below 2^-126 and stops at 88.3
	}
	impls := []impl{{AVX2, expAVX2, -87.3365, 88.3}, {AVX512, expAVX512, -104, 88.72}}
	var xs []float32
	for x := -110.0; x <= 90; x += 0.0137 {
		xs = append(xs, float32(x))
	}
	rng := rand.New(rand.NewPCG(12, 12))
	for range 100000 {
		xs = append(xs, float32(rng.Float64()*20-10), float32(rng.Float64()*0.7-0.35))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.34657359, -0.34657359, 88.72283, -87.33654)
	for _, im := range impls {
		if !hasLevel(im.level) {
			continue
		}
		t.Run(im.level.String(), func(t *testing.T) {
			got := make([]float32, len(xs))
			im.exp(got, xs)
			var worst int64
			for i, x := range xs {
				if x < im.lo || x > im.hi {
					continue
				}
				want := float32(math.Exp(float64(x)))
				if want < 0x1p-126 {
					// Subnormal results: within one subnormal step.
					if d := nearly.Diff(got[i], want); d > 0x1p-149 {
						t.Errorf("exp(%v) = %v, want %v", x, got[i], want)
					}
					continue
				}
				if d := ulpDiff(got[i], want); d > worst {
					worst = d
					if d > 2 {
						t.Errorf("exp(%v) = %v, want %v (%d ulp)", x, got[i], want, d)
					}
				}
			}
			t.Logf("largest error %d ulp over %d inputs", worst, len(xs))

			special := []float32{float32(math.Inf(-1)), -1000, -200, float32(math.NaN())}
			out := make([]float32, len(special))
			im.exp(out, special)
			for i, v := range out[:3] {
				if v != 0 {
					t.Errorf("exp(%v) = %v, want 0", special[i], v)
				}
			}
			if !math.IsNaN(float64(out[3])) {
				t.Errorf("exp(NaN) = %v", out[3])
			}
			if im.level >= AVX512 {
				big := []float32{88.73, 100, float32(math.Inf(1))}
				im.exp(big, big)
				for _, v := range big {
					if !math.IsInf(float64(v), 1) {
						t.Errorf("exp above 88.73 = %v, want +Inf", v)
					}
				}
			}
		})
	}
}

// TestConversionsExact runs the bf16 conversions over every 16-bit pattern and over float32
// special values and random bit patterns (NaNs, infinities, subnormals), which the shared
// harness does not reach. TestF16ToFloat32 does the same for binary16.
func TestConversionsExact(t *testing.T) {
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	rng := rand.New(rand.NewPCG(13, 13))
	fs := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0x7f7fffff), math.Float32frombits(0xff7fffff), math.Float32frombits(0x7f7f8000),
		math.Float32frombits(0x00000001), math.Float32frombits(0x807fffff), math.Float32frombits(0x00008000),
		math.Float32frombits(0x00018000), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00000)}
	for range 1 << 18 {
		fs = append(fs, math.Float32frombits(rng.Uint32()))
	}
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		got := make([]float32, len(all))
		kn.BF16ToF32(got, all)
		for i, b := range all {
			if math.Float32bits(got[i]) != math.Float32bits(BF16ToFloat32(b)) {
				t.Fatalf("BF16ToF32(%#x) = %#x", b, math.Float32bits(got[i]))
			}
		}
		out := make([]uint16, len(fs))
		kn.F32ToBF16(out, fs)
		for i, f := range fs {
			if out[i] != Float32ToBF16(f) {
				t.Fatalf("F32ToBF16(%#x) = %#x, want %#x", math.Float32bits(f), out[i], Float32ToBF16(f))
			}
		}
	})
}

// TestVectorSpecials checks the exact kernels on values the random harness does not draw.
func TestVectorSpecials(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	in := []float32{nan, -nan, inf, -inf, 0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 3e38, -3e38, 2, -2, 1e20, 7, 8, 9, 10}
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		got := append([]float32(nil), in...)
		want := append([]float32(nil), in...)
		kn.ReLU2(got)
		relu2Generic(want)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("ReLU2(%v) = %v, want %v", in[i], got[i], want[i])
			}
		}
		x := []float32{1, 2, nan, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
		kn.Softmax(x)
		for i, v := range x {
			if !math.IsNaN(float64(v)) {
				t.Errorf("Softmax with a NaN: element %d = %v, want NaN", i, v)
			}
		}
	})
}

// TestUnaligned runs the kernels on slices that start at every offset within a vector, so
// that no load or store may assume alignment.
func TestUnaligned(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 14))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for off := range 17 {
			for _, k := range []int{33, 100, 3072} {
				rows := 5
				x := randSlice(rng, k+off, 1)[off:]
				wb := bf16Slice(rng, rows*k+off)[off:]
				wf := randSlice(rng, rows*k+off, 1)[off:]
				dst, check := guarded(rows)
				got := dst
				kn.GemvBF16(got, wb, x)
				check(t, "GemvBF16")
				want := make([]float32, rows)
				gemvBF16Generic(want, wb, x)
				mag := make([]float32, rows)
				for r := range rows {
					for p := range k {
						mag[r] += float32(math.Abs(float64(BF16ToFloat32(wb[r*k+p]) * x[p])))
					}
				}
				near(t, fmt.Sprintf("GemvBF16 off=%d k=%d", off, k), got, want, mag, 1e-6)
				kn.GemvF32(got, wf, x)
				gemvF32Generic(want, wf, x)
				for r := range rows {
					mag[r] = 0
					for p := range k {
						mag[r] += float32(math.Abs(float64(wf[r*k+p] * x[p])))
					}
				}
				near(t, fmt.Sprintf("GemvF32 off=%d k=%d", off, k), got, want, mag, 1e-6)

				y := randSlice(rng, k+off, 1)[off:]
				y2 := append([]float32(nil), y...)
				kn.Add(y, x)
				addGeneric(y2, x)
				near(t, fmt.Sprintf("Add off=%d", off), y, y2, make([]float32, k), 0)
			}
		}
	})
}

// pageEnd returns a slice of n elements of type T whose last byte is the last byte of a
// mapped page followed by an inaccessible one, so that a load or store past its end faults.
func pageEnd[T any](t *testing.T, n int) []T {
	t.Helper()
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 4*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Mprotect(mem[3*page:], unix.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	var z T
	size := int(unsafe.Sizeof(z))
	if n*size > 3*page {
		t.Fatalf("pageEnd: %d elements do not fit", n)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[3*page-n*size])), n)
}

// TestPageEnd runs every kernel on operands that end exactly at an unmapped page: a tail
// handled by a load or store wider than the slice would crash here.
func TestPageEnd(t *testing.T) {
	if !hasLevel(AVX2) {
		t.Skip("no assembly kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(15, 15))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, n := range []int{1, 2, 3, 7, 9, 15, 17, 31, 33, 63, 65, 100} {
			fill := func(v []float32) []float32 {
				copy(v, randSlice(rng, len(v), 1))
				return v
			}
			x, y, w, b, d := fill(pageEnd[float32](t, n)), fill(pageEnd[float32](t, n)), fill(pageEnd[float32](t, n)), fill(pageEnd[float32](t, n)), pageEnd[float32](t, n)
			kn.Dot(x, y)
			kn.Axpy(0.5, x, y)
			kn.Add(y, x)
			kn.ReLU2(y)
			kn.Softmax(y)
			kn.LayerNorm1P(d, x, w, b, 1e-5)
			kn.RotateHalf(pageEnd[float32](t, n-n%2), x[:n/2], y[:n/2])
			u := pageEnd[uint16](t, n)
			kn.F32ToBF16(u, x)
			kn.BF16ToF32(d, u)
			kn.F16ToF32(d, u)

			// Matrix-vector products: the weights (and x) end at the page.
			for _, rows := range []int{1, 4, 5} {
				dst := make([]float32, rows)
				xk := fill(pageEnd[float32](t, n))
				kn.GemvBF16(dst, pageEnd[uint16](t, rows*n), xk)
				kn.GemvF16(dst, pageEnd[uint16](t, rows*n), xk)
				kn.GemvF32(dst, fill(pageEnd[float32](t, rows*n)), xk)
				if kn.GemvBF16Fast != nil {
					kn.GemvBF16Fast(dst, pageEnd[uint16](t, rows*n), pageEnd[uint16](t, n))
				}
			}
		}
	})
}

// TestGemvModelShapes checks the matrix-vector products at the model's widths, over several
// groups of four rows and a remainder (the shared harness stops at k = 3072).
func TestGemvModelShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, k := range []int{3072, 9216, 9216 + 17} {
			rows := 11
			x := randSlice(rng, k, 1)
			xb := make([]uint16, k)
			f32ToBF16Generic(xb, x)
			wb, wh, wf := bf16Slice(rng, rows*k), f16Slice(rng, rows*k), randSlice(rng, rows*k, 1)
			mag := make([]float32, rows)
			for r := range rows {
				for p := range k {
					mag[r] += float32(math.Abs(float64(wf[r*k+p]*x[p]))) + float32(math.Abs(float64(BF16ToFloat32(wb[r*k+p])*x[p])))
				}
			}
			got, want := make([]float32, rows), make([]float32, rows)
			kn.GemvBF16(got, wb, x)
			gemvBF16Generic(want, wb, x)
			near(t, fmt.Sprintf("GemvBF16 k=%d", k), got, want, mag, 1e-6)
			kn.GemvF16(got, wh, x)
			gemvF16Generic(want, wh, x)
			near(t, fmt.Sprintf("GemvF16 k=%d", k), got, want, mag, 1e-6)
			kn.GemvF32(got, wf, x)
			gemvF32Generic(want, wf, x)
			near(t, fmt.Sprintf("GemvF32 k=%d", k), got, want, mag, 1e-6)
			if kn.GemvBF16Fast != nil {
				kn.GemvBF16Fast(got, wb, xb)
				gemvBF16FastGeneric(want, wb, xb)
				near(t, fmt.Sprintf("GemvBF16Fast k=%d", k), got, want, mag, 1e-6)
			}
		}
	})
}

// TestCPUFeatures checks the features the levels are chosen from (klauspost/cpuid) against
// a second reading, golang.org/x/sys/cpu's: both check the CPU's bits and the operating
// system's register state.
func TestCPUFeatures(t *testing.T) {
	f, x := hostCPU().Features, cpu.X86
	for _, c := range []struct {
		name        string
		cpuid, xsys bool
	}{
		{"AVX2", f.AVX2, x.HasAVX2}, {"FMA", f.FMA, x.HasFMA}, {"F16C", f.F16C, x.HasF16C},
		{"AVX512F", f.AVX512F, x.HasAVX512F}, {"AVX512BW", f.AVX512BW, x.HasAVX512BW},
		{"AVX512DQ", f.AVX512DQ, x.HasAVX512DQ}, {"AVX512VL", f.AVX512VL, x.HasAVX512VL},
		{"AVX512BF16", f.AVX512BF16, x.HasAVX512BF16}, {"AVX512VNNI", f.AVX512VNNI, x.HasAVX512VNNI},
		{"AVXVNNI", f.AVXVNNI, x.HasAVXVNNI}, {"AMXTile", f.AMXTile, x.HasAMXTile}, {"AMXBF16", f.AMXBF16, x.HasAMXBF16},
	} {
		if c.cpuid != c.xsys {
			t.Errorf("%s: cpuid says %v, x/sys/cpu %v", c.name, c.cpuid, c.xsys)
		}
	}
}

// The decode kernels come in two builds, with software prefetch and without; TestGemv runs
// the one this CPU chose, this runs both.
func TestGemvBothPrefetchBuilds(t *testing.T) {
	saved := GemvPrefetch
	defer func() { GemvPrefetch = saved }()
	for _, pf := range []bool{true, false} {
		GemvPrefetch = pf
		t.Run(fmt.Sprintf("prefetch=%v", pf), TestGemv)
	}
}

// Every level this CPU supports is built: a kernel table fixed before the init functions
// registered the levels would leave only the generic one, and every test above would then
// run the generic kernels alone.
func TestEveryLevelBuilt(t *testing.T) {
	n := 0
	for l := Generic; l < numLevels && supported(l); l++ {
		n++
	}
	impls := Implementations()
	if len(impls) != n {
		t.Fatalf("%d implementations built, this CPU supports %d levels", len(impls), n)
	}
	for i, k := range impls {
		if k.Level != Level(i) {
			t.Errorf("implementation %d is level %s", i, k.Level)
		}
	}
}
