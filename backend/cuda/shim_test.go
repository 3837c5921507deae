//go:build linux && cgo

package cuda

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/tensor"
)

// An override directory without the libraries fails with a message that names the
// directory, the variable and the sonames looked for.
func TestMissingLibrariesMessage(t *testing.T) {
	dir := t.TempDir()
	env := osSearchEnv()
	get := env.getenv
	env.getenv = func(k string) string {
		if k == LibDirEnv {
			return dir
		}
		return get(k)
	}
	for _, l := range []library{libCUBLAS, libNVRTC} {
		_, _, err := env.loadLibrary(l, 13, dlopener(bindBLAS))
		if err == nil {
			t.Fatalf("%s loaded from an empty directory", l.what)
		}
		msg := err.Error()
		for _, want := range append([]string{dir, LibDirEnv, l.what}, l.sonames...) {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
	}
}

// A file that is not a library is reported with the loader's reason, and the search goes on.
func TestBrokenLibraryMessage(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/libnvrtc.so.12", "not an ELF file")
	env := osSearchEnv()
	get := env.getenv
	env.getenv = func(k string) string {
		if k == LibDirEnv {
			return dir
		}
		return get(k)
	}
	_, _, err := env.loadLibrary(libNVRTC, 12, dlopener(bindNVRTC))
	if err == nil || !strings.Contains(err.Error(), dir+"/libnvrtc.so.12: ") {
		t.Fatalf("got %v, want the broken file named with the loader's reason", err)
	}
}

// TestLibraries reports the libraries the backend loaded and the device it opens, in lines
// bench/gpu-check.sh prints ("cuda libraries: ...", "cuda device: ..."): on a GPU machine
// they say which libcuda, cuBLAS and NVRTC were found.
func TestLibraries(t *testing.T) {
	l, err := loadLibs()
	if err != nil {
		skipOrRequire(t, "%v", err)
	}
	t.Logf("cuda libraries: %s", l.describe())
	b, err := New(backend.Options{})
	if err != nil {
		skipOrRequire(t, "no CUDA backend: %v", err)
	}
	defer b.Close()
	t.Logf("cuda device: %s, compute capability %d.%d, %d multiprocessors, kernels for %s", b.devName, b.cc/10, b.cc%10, b.sms, b.target)
}

// nvrtcForTest loads NVRTC alone (no driver or GPU needed), or skips.
func nvrtcForTest(t *testing.T) {
	t.Helper()
	if _, _, err := osSearchEnv().loadLibrary(libNVRTC, 0, dlopener(bindNVRTC)); err != nil {
		skipOrRequire(t, "no NVRTC: %v", err)
	}
}

// The kernels compile for the architectures the backend meets (no GPU needed, only NVRTC).
func TestKernelsCompile(t *testing.T) {
	nvrtcForTest(t)
	archs := nvrtcArchs()
	t.Logf("NVRTC supports %v", archs)
	for _, cc := range []int{80, 90} {
		target, err := chooseTarget(cc, archs, true)
		if err != nil {
			t.Logf("skipping %d: %v", cc, err)
			continue
		}
		image, err := nvrtcCompile(kernelSource, target, nvrtcOptions)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		t.Logf("%s: %d bytes", target, len(image))
	}
	// PTX lists every kernel by name.
	target, _ := chooseTarget(80, nil, false)
	ptx, err := nvrtcCompile(kernelSource, target, nvrtcOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range kernelNames {
		if !strings.Contains(string(ptx), ".entry "+name+"(") {
			t.Errorf("PTX lacks kernel %s", name)
		}
	}
}

// A compilation error comes back with NVRTC's log.
func TestCompileErrorHasLog(t *testing.T) {
	nvrtcForTest(t)
	_, err := nvrtcCompile([]byte("extern \"C\" __global__ void broken() { undeclared_thing(); }\n"), "compute_80", nil)
	if err == nil || !strings.Contains(err.Error(), "undeclared_thing") {
		t.Fatalf("got %v, want the log naming the error", err)
	}
}

// openForTest opens the GPU backend, or skips.
func openForTest(t *testing.T, p backend.Precision) *Backend {
	t.Helper()
	b, err := New(backend.Options{Precision: p})
	if err != nil {
		skipOrRequire(t, "no CUDA backend: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// randn returns n values of N(0, 1) from rng.
func randn(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// Attention matches the CPU whichever kernel computes it: split among blocks in any number of
// splits, a block per row and head, or a block per tile of rows and KV head, over contexts
// longer than a tile.
func TestAttentionSplitsMatchCPU(t *testing.T) {
	b := openForTest(t, backend.Exact)
	c, err := cpu.New(backend.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var worst float32
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ n, pos0, heads, kvHeads, headDim int }{
		{1, 1200, 24, 8, 128}, {3, 700, 4, 2, 64}, {20, 1030, 2, 1, 80},
		{45, 0, 24, 8, 128}, {37, 70, 6, 3, 32}, {70, 5, 8, 2, 16}, {9, 3, 4, 4, 4},
		// Groups wider than a block's attGroup query heads: two blocks per KV head, the second
		// partly filled; exactly two full blocks; the widest head dimension.
		{1, 2000, 24, 2, 64}, {2, 300, 16, 1, 32}, {1, 40, 8, 8, 256},
	} {
		rows := tc.pos0 + tc.n
		qc, kvc := tc.heads*tc.headDim, tc.kvHeads*tc.headDim
		q, k, v := randn(rng, tc.n*qc), randn(rng, rows*kvc), randn(rng, rows*kvc)
		var want []float32
		for i, be := range []backend.Backend{c, b, b, b, b} {
			switch i {
			case 1:
				b.forceTiled = -1
			case 2:
				b.forceSplits = 1
			case 3:
				b.forceSplits = 7
			case 4:
				b.forceSplits, b.forceTiled = 0, 1
			}
			up := func(x []float32, shape ...int) backend.Tensor {
				tt, err := be.Upload(tensor.FromF32(x, shape...))
				if err != nil {
					t.Fatal(err)
				}
				return tt
			}
			dst, _ := be.Alloc(tensor.F32, tc.n, qc)
			be.Attention(dst, up(q, tc.n, qc), up(k, rows, kvc), up(v, rows, kvc), tc.heads, tc.kvHeads, tc.pos0)
			got := make([]float32, tc.n*qc)
			if err := be.Read(got, dst); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				want = got
				continue
			}
			for j := range got {
				d := got[j] - want[j]
				if d > 1e-4 || d < -1e-4 || d != d {
					t.Fatalf("%+v splits=%d tiled=%d: element %d is %v, CPU %v", tc, b.forceSplits, b.forceTiled, j, got[j], want[j])
				}
				worst = max(worst, d, -d)
			}
		}
		b.forceSplits, b.forceTiled = 0, 0
	}
	t.Logf("attention: max |diff| from the CPU %.3g (tolerance 1e-4)", worst)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A BF16 KV cache: Copy rounds new F32 rows to nearest even and copies a BF16 cache's rows as
// they are, and every attention kernel over it gives the bits it gives over an F32 cache
// holding the widened values (the kernels widen each value exactly as they read it).
func TestAttentionBF16Cache(t *testing.T) {
	b := openForTest(t, backend.Exact)
	if got := b.KVCacheTypes(); len(got) != 1 || got[0] != tensor.BF16 {
		t.Fatalf("KVCacheTypes = %v, want [BF16]", got)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	up := func(x []float32, shape ...int) backend.Tensor {
		tt, err := b.Upload(tensor.FromF32(x, shape...))
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	for _, tc := range []struct{ n, pos0, heads, kvHeads, headDim int }{
		{1, 1200, 24, 8, 128}, {45, 0, 24, 8, 128}, {37, 70, 6, 3, 32}, {1, 40, 8, 8, 256},
	} {
		rows := tc.pos0 + tc.n
		qc, kvc := tc.heads*tc.headDim, tc.kvHeads*tc.headDim
		q, k, v := randn(rng, tc.n*qc), randn(rng, rows*kvc), randn(rng, rows*kvc)
		kw, vw := make([]float32, len(k)), make([]float32, len(v))
		for i := range k {
			kw[i] = tensor.BF16ToFloat32(tensor.Float32ToBF16(k[i]))
			vw[i] = tensor.BF16ToFloat32(tensor.Float32ToBF16(v[i]))
		}
		// The cache's rows enter in two parts, the second through another BF16 cache.
		half := rows / 2
		cache := func(x []float32) backend.Tensor {
			c, err := b.Alloc(tensor.BF16, rows, kvc)
			if err != nil {
				t.Fatal(err)
			}
			other, err := b.Alloc(tensor.BF16, rows-half, kvc)
			if err != nil {
				t.Fatal(err)
			}
			b.Copy(c, 0, up(x[:half*kvc], half, kvc))
			b.Copy(other, 0, up(x[half*kvc:], rows-half, kvc))
			b.Copy(c, half, other)
			return c
		}
		kb, vb := cache(k), cache(v)
		kf, vf, qt := up(kw, rows, kvc), up(vw, rows, kvc), up(q, tc.n, qc)
		for _, mode := range []struct{ tiled, splits int }{{-1, 0}, {-1, 1}, {-1, 7}, {1, 0}} {
			b.forceTiled, b.forceSplits = mode.tiled, mode.splits
			var out [2][]float32
			for i, kv := range [2][2]backend.Tensor{{kf, vf}, {kb, vb}} {
				dst, _ := b.Alloc(tensor.F32, tc.n, qc)
				b.Attention(dst, qt, kv[0], kv[1], tc.heads, tc.kvHeads, tc.pos0)
				out[i] = make([]float32, tc.n*qc)
				if err := b.Read(out[i], dst); err != nil {
					t.Fatal(err)
				}
			}
			for j := range out[0] {
				if math.Float32bits(out[1][j]) != math.Float32bits(out[0][j]) {
					t.Fatalf("%+v tiled=%d splits=%d: element %d over the BF16 cache is %v, over its F32 widening %v", tc, mode.tiled, mode.splits, j, out[1][j], out[0][j])
				}
			}
		}
		b.forceTiled, b.forceSplits = 0, 0
	}
}

// Exact precision's prefill GEMMs over bf16 weights split x into three bf16 terms whose sum
// is x exactly: multiplied by the identity, every row comes back with x's bits (two terms
// would lose the last 8 of its 24 significant bits), and the float32 GEMM (ExactGEMMEnv=f32)
// agrees.
func TestExactGEMMSplitsX(t *testing.T) {
	b := openForTest(t, backend.Exact)
	const n, k = 40, 64 // over exactGemvRows: the GEMM, not the gemv kernel
	rng := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, n*k)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * float32(math.Exp(rng.NormFloat64()))
	}
	eye := tensor.Zeros(tensor.BF16, k, k)
	for i := range k {
		eye.U16()[i*k+i] = tensor.Float32ToBF16(1)
	}
	for _, f32 := range []bool{false, true} {
		b.exactF32GEMM = f32
		w, err := b.Upload(eye)
		if err != nil {
			t.Fatal(err)
		}
		xt, err := b.Upload(tensor.FromF32(x, n, k))
		if err != nil {
			t.Fatal(err)
		}
		dst, _ := b.Alloc(tensor.F32, n, k)
		b.MatMul(dst, xt, w)
		got := make([]float32, n*k)
		if err := b.Read(got, dst); err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if math.Float32bits(got[i]) != math.Float32bits(x[i]) {
				t.Fatalf("float32 GEMM %v: x·I at %d is %v, x %v", f32, i, got[i], x[i])
			}
		}
	}
	b.exactF32GEMM = false
}
