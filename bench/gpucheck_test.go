package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The stand-ins for the carried binaries. STUB_MODE chooses how they behave: "silent" prints
// nothing and succeeds, "fail" fails, "emulated" passes on the CPU emulation, "gpu" passes as a
// GPU would, "hang" has the bench print progress and then stall. Outside "silent" and "fail"
// the test binary passes only under MINITRON_CUDA_REQUIRE=1 (it skips otherwise, as the real one
// does without a GPU), and records the library directories it was given.
const stubCUDATest = `#!/usr/bin/env bash
echo "${MINITRON_CUDA_LIB_DIR:-}" >"$OUT/libdir-seen"
case $STUB_MODE in
silent) exit 0 ;;
fail) echo "--- FAIL: TestConformance (0.01s)"; echo FAIL; exit 1 ;;
esac
if [ "${MINITRON_CUDA_REQUIRE:-}" != 1 ]; then
	echo "--- SKIP: TestLibraries (0.00s)"; echo PASS; exit 0
fi
dev="NVIDIA H200"
[ "$STUB_MODE" = emulated ] && dev="Emulated GPU"
case "$*" in
*TestLibraries*)
	echo "=== RUN   TestLibraries"
	echo "    shim_test.go:1: cuda libraries: driver 13.0 (libcuda.so.1), cuBLAS libcublas.so.13, NVRTC 13.0 (libnvrtc.so.13)"
	echo "    shim_test.go:2: cuda device: $dev, compute capability 9.0, 132 multiprocessors, kernels for sm_90"
	echo "--- PASS: TestLibraries (0.50s)" ;;
*)
	for t in TestConformance TestGoldenLogits TestGoldenGreedy TestAttentionSplitsMatchCPU TestAttentionBF16Cache TestGoldenKVCacheBF16 TestExactGEMMSplitsX TestGraphReplay; do
		echo "    x_test.go:1: cuda/$dev sm_90 exact"
		echo "--- PASS: $t (0.10s)"
	done ;;
esac
echo PASS
`

const stubMinitron = `#!/usr/bin/env bash
case $STUB_MODE in
silent) exit 0 ;;
fail) echo "cuda: no CUDA device found" >&2; exit 1 ;;
hang)
	echo "minitron-4b on cuda/NVIDIA H200 sm_90 exact, ready in 9.0 s" >&2
	echo "prefill  128 tokens:  12345.6 tok/s" >&2
	exec sleep 30 ;;
esac
dev="NVIDIA H200"
[ "$STUB_MODE" = emulated ] && dev="Emulated GPU"
echo "minitron-4b, cuda/$dev sm_90 $7"
echo "  prefill  128:  40000.0 tok/s   512:  60000.0 tok/s"
`

// runGPUCheck runs bench/gpu-check.sh from a copy of the tree holding only the script and, when
// stubs is set, the stand-ins for its binaries; roots is where it looks for Python installs.
func runGPUCheck(t *testing.T, mode string, stubs bool, roots string, extraEnv ...string) (string, string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, err := os.ReadFile("gpu-check.sh")
	if err != nil {
		t.Fatal(err)
	}
	tree, out := t.TempDir(), t.TempDir()
	for _, d := range []string{"bench", "backend/cuda"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("bench/gpu-check.sh", string(script))
	if stubs {
		write("bench/cuda.test", stubCUDATest)
		write("bench/minitron", stubMinitron)
	}
	if roots == "" {
		roots = t.TempDir()
	}
	cmd := exec.Command(bash, filepath.Join(tree, "bench/gpu-check.sh"))
	var env []string
	for _, kv := range os.Environ() {
		// The check must not lean on the caller's settings.
		if !strings.HasPrefix(kv, "MINITRON_CUDA_") && !strings.HasPrefix(kv, "VIRTUAL_ENV=") && !strings.HasPrefix(kv, "CONDA_PREFIX=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "OUT="+out, "STUB_MODE="+mode, "GPU_CHECK_ROOTS="+roots,
		"GPU_CHECK_TEST_TIMEOUT=10", "GPU_CHECK_BENCH_TIMEOUT=10")
	cmd.Env = append(cmd.Env, extraEnv...)
	b, err := cmd.CombinedOutput()
	return string(b), out, err
}

// Without a GPU the check fails, whatever the binaries do: missing, silent, failing, or passing
// on the emulation; and nvidia-smi's absence does not matter either way.
func TestGPUCheckCannotPassWithoutGPU(t *testing.T) {
	if _, err := exec.LookPath("nvidia-smi"); err == nil {
		t.Skip("nvidia-smi is here: this test wants a machine without one")
	}
	for _, tc := range []struct {
		mode  string
		stubs bool
		want  string
	}{
		{"missing", false, "bench/cuda.test missing"},
		{"silent", true, "the library check opened no device"},
		{"fail", true, "the CUDA backend did not open"},
		{"emulated", true, "the backend opened the CPU emulation"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			out, _, err := runGPUCheck(t, tc.mode, tc.stubs, "")
			if err == nil || !strings.Contains(out, "gpu-check: FAILED") || strings.Contains(out, "all passed") {
				t.Fatalf("err %v; output:\n%s", err, out)
			}
			for _, want := range []string{tc.want, "nvidia-smi not found"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// With binaries that behave as on a GPU (under MINITRON_CUDA_REQUIRE=1 only) the check passes:
// it is not a check that always fails.
func TestGPUCheckPassesOnGPU(t *testing.T) {
	out, _, err := runGPUCheck(t, "gpu", true, "")
	if err != nil || !strings.Contains(out, "gpu-check: all passed") {
		t.Fatalf("err %v; output:\n%s", err, out)
	}
	for _, want := range []string{"cuda libraries: driver 13.0", "cuda device: NVIDIA H200", "prefill  128:  40000.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A bench that stalls is cut at its timeout, what it measured is printed, and the check fails.
func TestGPUCheckPrintsPartialFigures(t *testing.T) {
	out, _, err := runGPUCheck(t, "hang", true, "", "GPU_CHECK_BENCH_TIMEOUT=1", "GPU_CHECK_DEADLINE=200")
	if err == nil || !strings.Contains(out, "gpu-check: FAILED") {
		t.Fatalf("err %v; output:\n%s", err, out)
	}
	for _, want := range []string{"timed out after 1 s", "prefill  128 tokens:  12345.6 tok/s", "FAILED: bench exact"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The lib directories of NVIDIA's wheels in a virtual environment and in the user's site are
// found without PATH and handed to the backend as a list.
func TestGPUCheckFindsWheels(t *testing.T) {
	root := t.TempDir()
	mk := func(dir string, libs ...string) string {
		d := filepath.Join(root, dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, l := range libs {
			if err := os.WriteFile(filepath.Join(d, l), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	mk("work/venv")
	if err := os.WriteFile(filepath.Join(root, "work/venv/pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cublas := mk("work/venv/lib/python3.12/site-packages/nvidia/cublas/lib", "libcublas.so.12", "libcublasLt.so.12")
	nvrtc := mk("work/venv/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib", "libnvrtc.so.12", "libnvrtc-builtins.so.12.4")
	mk("work/venv/lib/python3.12/site-packages/nvidia/cudnn/lib", "libcudnn.so.9") // neither: left out
	cu13 := mk("home/u/.local/lib/python3.11/site-packages/nvidia/cu13/lib", "libcublas.so.13", "libnvrtc.so.13")
	out, dir, err := runGPUCheck(t, "gpu", true, root, "PATH="+os.Getenv("PATH"))
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	seen, err := os.ReadFile(filepath.Join(dir, "libdir-seen"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(seen)), ":")
	for _, want := range []string{cublas, nvrtc, cu13} {
		want, _ = filepath.EvalSymlinks(want)
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("MINITRON_CUDA_LIB_DIR %q lacks %s; output:\n%s", seen, want, out)
		}
	}
	if strings.Contains(string(seen), "cudnn") {
		t.Errorf("MINITRON_CUDA_LIB_DIR %q has the cuDNN directory", seen)
	}
	// A directory set by the user is kept as it is.
	out, dir, err = runGPUCheck(t, "gpu", true, root, "MINITRON_CUDA_LIB_DIR=/mine")
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if seen, _ := os.ReadFile(filepath.Join(dir, "libdir-seen")); strings.TrimSpace(string(seen)) != "/mine" {
		t.Errorf("MINITRON_CUDA_LIB_DIR %q, want the user's /mine", seen)
	}
}
