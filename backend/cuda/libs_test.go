package cuda

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeFS is a search environment over a set of files, for testing the search order.
type fakeFS struct {
	env   map[string]string
	files []string
}

func (f fakeFS) searchEnv() searchEnv {
	isDir := func(p string) bool {
		for _, file := range f.files {
			if strings.HasPrefix(file, p+"/") {
				return true
			}
		}
		return false
	}
	return searchEnv{
		getenv: func(k string) string { return f.env[k] },
		glob: func(pattern string) ([]string, error) {
			var out []string
			seen := map[string]bool{}
			for _, file := range f.files {
				// Match the pattern against the file and each of its parent directories.
				for p := file; p != "/" && p != "."; p = path.Dir(p) {
					if ok, _ := path.Match(pattern, p); ok && !seen[p] {
						seen[p] = true
						out = append(out, p)
					}
				}
			}
			slices.Sort(out)
			return out, nil
		},
		isDir:  isDir,
		isFile: func(p string) bool { return slices.Contains(f.files, p) },
	}
}

func paths(cands []candidate) []string {
	var out []string
	for _, c := range cands {
		s := c.path
		if len(c.deps) > 0 {
			s += " (after " + strings.Join(c.deps, ", ") + ")"
		}
		out = append(out, s)
	}
	return out
}

func TestToolkitSearchOrder(t *testing.T) {
	fs := fakeFS{
		env: map[string]string{
			"CUDA_HOME": "/opt/cuda-home",
			"PATH":      "/venv/bin:/usr/local/bin:/usr/bin:relative/bin",
			"HOME":      "/home/u",
		},
		files: []string{
			"/opt/cuda-home/lib64/libcublas.so.12",
			"/opt/cuda-home/lib64/libcublasLt.so.12",
			"/usr/local/cuda/lib64/libcublas.so.13",
			"/usr/local/cuda-12.4/lib64/libcublas.so.12",
			"/usr/local/cuda-12.10/lib64/libcublas.so.12",
			"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
			"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublasLt.so.13",
			"/home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12",
			"/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12", // Debian's system Python
		},
	}
	cands, dirs := fs.searchEnv().candidates(libCUBLAS, 13)
	want := []string{
		"libcublas.so.13",
		"/usr/local/cuda/lib64/libcublas.so.13",
		"/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13 (after /venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublasLt.so.13)",
		"libcublas.so.12",
		"/opt/cuda-home/lib64/libcublas.so.12 (after /opt/cuda-home/lib64/libcublasLt.so.12)",
		"/usr/local/cuda-12.10/lib64/libcublas.so.12",
		"/usr/local/cuda-12.4/lib64/libcublas.so.12",
		"/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.12", // /usr/bin is on PATH
		"/home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib/libcublas.so.12",
		"libcublas.so.11",
	}
	if got := paths(cands); !slices.Equal(got, want) {
		t.Errorf("candidates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantDirs := []string{
		"/opt/cuda-home/lib64", "/usr/local/cuda/lib64", "/usr/local/cuda-12.10/lib64", "/usr/local/cuda-12.4/lib64",
		"/venv/lib/python3.12/site-packages/nvidia/cu13/lib", "/usr/lib/python3/dist-packages/nvidia/cublas/lib",
		"/home/u/.local/lib/python3.11/site-packages/nvidia/cublas/lib",
	}
	if !slices.Equal(dirs, wantDirs) {
		t.Errorf("directories %v, want %v", dirs, wantDirs)
	}

	// A CUDA 12 driver prefers cuBLAS 12 and tries 13 last.
	cands, _ = fs.searchEnv().candidates(libCUBLAS, 12)
	if got := paths(cands); got[0] != "libcublas.so.12" || !strings.HasPrefix(got[len(got)-1], "/venv/") {
		t.Errorf("with a CUDA 12 driver: %v", got)
	}
}

func TestNVRTCSearchFindsBuiltins(t *testing.T) {
	fs := fakeFS{files: []string{
		"/usr/local/cuda/lib64/libnvrtc.so.12",
		"/usr/local/cuda/lib64/libnvrtc-builtins.so.12.4",
		"/usr/local/cuda/lib64/libnvrtc-builtins.so.11.8",
		"/usr/local/cuda-11.8/lib64/libnvrtc.so.11.2",
		"/usr/local/cuda-11.8/lib64/libnvrtc-builtins.so.11.8",
	}}
	cands, _ := fs.searchEnv().candidates(libNVRTC, 12)
	want := []string{
		"libnvrtc.so.12",
		"/usr/local/cuda/lib64/libnvrtc.so.12 (after /usr/local/cuda/lib64/libnvrtc-builtins.so.12.4)",
		"libnvrtc.so.11.2",
		"/usr/local/cuda-11.8/lib64/libnvrtc.so.11.2 (after /usr/local/cuda-11.8/lib64/libnvrtc-builtins.so.11.8)",
		"libnvrtc.so.11",
		"libnvrtc.so.13",
	}
	if got := paths(cands); !slices.Equal(got, want) {
		t.Errorf("candidates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOverrideIsExclusiveForToolkit(t *testing.T) {
	fs := fakeFS{
		env: map[string]string{LibDirEnv: "/a:/b"},
		files: []string{
			"/b/libnvrtc.so.13",
			"/usr/local/cuda/lib64/libnvrtc.so.13",
			"/a/libcuda.so.1",
		},
	}
	cands, dirs := fs.searchEnv().candidates(libNVRTC, 13)
	if got := paths(cands); !slices.Equal(got, []string{"/b/libnvrtc.so.13"}) || !slices.Equal(dirs, []string{"/a", "/b"}) {
		t.Errorf("nvrtc with an override: %v in %v", got, dirs)
	}
	// The driver is looked for there first, then where the system keeps it.
	cands, _ = fs.searchEnv().candidates(libDriver, 0)
	if got := paths(cands); !slices.Equal(got, []string{"/a/libcuda.so.1", "libcuda.so.1"}) {
		t.Errorf("driver with an override: %v", got)
	}
}

func TestLoadLibraryMessages(t *testing.T) {
	fs := fakeFS{files: []string{"/usr/local/cuda/lib64/libcublas.so.12"}}
	var tried []string
	open := func(p string, dep bool) (uintptr, error) {
		tried = append(tried, p)
		if filepath.IsAbs(p) {
			return 0, errors.New(p + ": wrong ELF class: ELFCLASS32")
		}
		return 0, errors.New(p + ": cannot open shared object file: No such file or directory")
	}
	_, _, err := fs.searchEnv().loadLibrary(libCUBLAS, 12, open)
	if err == nil {
		t.Fatal("loaded nothing without error")
	}
	msg := err.Error()
	for _, want := range []string{
		"cuBLAS not found", "libcublas.so.12, libcublas.so.11, libcublas.so.13", "on the loader path",
		"/usr/local/cuda/lib64", LibDirEnv, "/usr/local/cuda/lib64/libcublas.so.12: /usr/local/cuda/lib64/libcublas.so.12: wrong ELF class",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "No such file") {
		t.Errorf("message repeats the loader's not-found lines:\n%s", msg)
	}
	if want := []string{"libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.12", "libcublas.so.11", "libcublas.so.13"}; !slices.Equal(tried, want) {
		t.Errorf("tried %v, want %v", tried, want)
	}

	// The first that loads wins.
	h, p, err := fs.searchEnv().loadLibrary(libCUBLAS, 12, func(p string, dep bool) (uintptr, error) {
		if p == "libcublas.so.11" {
			return 7, nil
		}
		return 0, errors.New("no")
	})
	if err != nil || h != 7 || p != "libcublas.so.11" {
		t.Errorf("got %d %q %v", h, p, err)
	}

	// The driver's message points at the driver, not at the override variable.
	_, _, err = fakeFS{}.searchEnv().loadLibrary(libDriver, 0, open)
	if err == nil || !strings.Contains(err.Error(), "libcuda.so.1") || !strings.Contains(err.Error(), "NVIDIA driver") {
		t.Errorf("driver message: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	in := []string{"/usr/local/cuda-12.4", "/usr/local/cuda-12.10", "/usr/local/cuda-11.8", "/usr/local/cuda-12"}
	sortNewestFirst(in)
	want := []string{"/usr/local/cuda-12.10", "/usr/local/cuda-12.4", "/usr/local/cuda-12", "/usr/local/cuda-11.8"}
	if !slices.Equal(in, want) {
		t.Errorf("got %v, want %v", in, want)
	}
	for _, tc := range []struct {
		soname string
		major  int
	}{{"libcuda.so.1", 1}, {"libnvrtc.so.11.2", 11}, {"libcublas.so.13", 13}, {"libfoo.so", 0}} {
		if got := sonameMajor(tc.soname); got != tc.major {
			t.Errorf("sonameMajor(%q) = %d, want %d", tc.soname, got, tc.major)
		}
	}
}

func TestCacheKey(t *testing.T) {
	src := []byte("extern \"C\" __global__ void k() {}")
	base := cacheKey(src, "sm_90", 13, 0, []string{"--fmad=true"})
	if len(base) != 32 {
		t.Fatalf("key %q", base)
	}
	if cacheKey(src, "sm_90", 13, 0, []string{"--fmad=true"}) != base {
		t.Error("the key is not deterministic")
	}
	for what, k := range map[string]string{
		"source":  cacheKey(append(src, ' '), "sm_90", 13, 0, []string{"--fmad=true"}),
		"arch":    cacheKey(src, "sm_89", 13, 0, []string{"--fmad=true"}),
		"version": cacheKey(src, "sm_90", 12, 9, []string{"--fmad=true"}),
		"minor":   cacheKey(src, "sm_90", 13, 1, []string{"--fmad=true"}),
		"options": cacheKey(src, "sm_90", 13, 0, nil),
	} {
		if k == base {
			t.Errorf("changing the %s keeps the key", what)
		}
	}
	if got := cacheFile("/c", "sm_90", base); got != "/c/kernels-sm_90-"+base+".cubin" {
		t.Errorf("cache file %s", got)
	}
	if got := cacheFile("/c", "compute_90", base); !strings.HasSuffix(got, ".ptx") {
		t.Errorf("cache file %s", got)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == CacheDirEnv {
				return v
			}
			return ""
		}
	}
	if d := cacheDir(env("off")); d != "" {
		t.Errorf("cache off gives %q", d)
	}
	if d := cacheDir(env("/x/y")); d != "/x/y" {
		t.Errorf("override gives %q", d)
	}
}

func TestWriteCacheFileAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	p := filepath.Join(dir, "kernels-sm_90-k.cubin")
	for _, data := range []string{"first", "second image"} {
		if err := writeCacheFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != data {
			t.Fatalf("read back %q, %v", got, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestChooseTarget(t *testing.T) {
	all := []int{75, 80, 86, 89, 90}
	for _, tc := range []struct {
		cc    int
		archs []int
		cubin bool
		want  string
	}{
		{90, all, true, "sm_90"},
		{90, nil, true, "sm_90"},       // NVRTC before 11.2 cannot list its targets
		{90, all, false, "compute_90"}, // no nvrtcGetCUBIN: PTX for the driver to compile
		{120, all, true, "compute_90"}, // a device newer than NVRTC: the newest PTX it makes
		{87, all, true, "compute_86"},
		{70, all, true, ""},
	} {
		got, err := chooseTarget(tc.cc, tc.archs, tc.cubin)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("chooseTarget(%d, %v, %v) = %q, %v; want %q", tc.cc, tc.archs, tc.cubin, got, err, tc.want)
		}
	}
}

func TestAttentionSplits(t *testing.T) {
	for _, tc := range []struct{ n, heads, kvHeads, pos0, sms, splits, chunk int }{
		{1, 24, 8, 15, 132, 1, 16},       // a short context: one block per KV head
		{1, 24, 8, 511, 132, 32, 16},     // decoding at 512: splits of attnMinKeys keys
		{1, 24, 8, 4095, 132, 66, 63},    // at 4096: four blocks per SM
		{512, 24, 8, 0, 132, 1, 512},     // prefill: rows and heads are enough
		{7, 6, 3, 60, 132, 5, 14},        // the conformance suite's largest case
		{1, 64, 2, 1000, 132, 63, 16},    // a group of 32 query heads takes 4 blocks per KV head
		{1, 1, 1, 100000, 132, 128, 782}, // attnMaxSplits
	} {
		splits, chunk := attentionSplits(tc.n, tc.heads, tc.kvHeads, tc.pos0, tc.sms)
		if splits != tc.splits || chunk != tc.chunk {
			t.Errorf("attentionSplits(%d, %d, %d, %d, %d) = %d, %d; want %d, %d", tc.n, tc.heads, tc.kvHeads, tc.pos0, tc.sms, splits, chunk, tc.splits, tc.chunk)
		}
		if (splits-1)*chunk >= tc.pos0+tc.n || splits*chunk < tc.pos0+tc.n {
			t.Errorf("%d splits of %d do not cover %d keys tightly", splits, chunk, tc.pos0+tc.n)
		}
	}
	if got := attentionBlocks(1, 24, 8); got != 8 {
		t.Errorf("Minitron decodes in %d attention blocks per split, want 8 (one per KV head)", got)
	}
}

func TestKernelSource(t *testing.T) {
	src := string(kernelSource)
	if strings.Contains(src, "#include") {
		t.Error("kernels.cu has an #include: NVRTC finds no CUDA headers without include paths")
	}
	for _, name := range kernelNames {
		if !regexp.MustCompile(`extern "C" __global__ void ` + name + `\(|GEMV_KERNEL\(` + name + `,`).MatchString(src) {
			t.Errorf("kernels.cu does not define kernel %s", name)
		}
	}
	// The launch shapes the Go side assumes are the ones the kernels are written for.
	for macro, want := range map[string]int{
		"GEMV_WARPS": gemvWarps, "EMBED_IDS": embedIDs, "ATT_THREADS": attThreads, "ATT_MAXD": attMaxHeadDim,
		"AT_QV": atQueryVecs, "AT_D": atMaxHeadDim, "ATT_G": attGroup, "ARGMAX_THREADS": argmaxThreads,
		"GEMV_STORE": int(store), "GEMV_ACCUMULATE": int(accumulate), "GEMV_SQUARED_RELU": int(squaredReLU),
	} {
		m := regexp.MustCompile(`#define ` + macro + ` (\d+)`).FindStringSubmatch(src)
		if m == nil {
			t.Errorf("kernels.cu lacks #define %s", macro)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want {
			t.Errorf("kernels.cu has %s %d, the Go side %d", macro, got, want)
		}
	}
	if got := fmt.Sprint(len(regexp.MustCompile(`GEMV_KERNEL\(gemv_`).FindAllString(src, -1))); got != "12" {
		t.Errorf("%s gemv kernels, want 12", got)
	}
}

func TestAttentionTiled(t *testing.T) {
	for _, tc := range []struct {
		n, heads, kvHeads, headDim, sms int
		ok                              bool
		perBlock                        int
	}{
		{512, 24, 8, 128, 132, true, 10}, // Minitron's prompt: 8 KV heads × 52 tiles of 10 rows
		{128, 24, 8, 128, 132, false, 10},
		{1, 24, 8, 128, 132, false, 10},
		{512, 8, 8, 256, 132, false, 0}, // heads too wide for the tile
		{512, 8, 8, 66, 132, false, 0},
		{512, 64, 1, 64, 132, false, 0}, // more query heads per KV head than a block holds
	} {
		ok, per := attentionTiled(tc.n, tc.heads, tc.kvHeads, tc.headDim, tc.sms)
		if ok != tc.ok || per != tc.perBlock {
			t.Errorf("attentionTiled(%d, %d, %d, %d, %d) = %v, %d; want %v, %d", tc.n, tc.heads, tc.kvHeads, tc.headDim, tc.sms, ok, per, tc.ok, tc.perBlock)
		}
	}
}
