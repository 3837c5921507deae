//go:build linux && amd64 && cgo

package cuda

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
)

// emuChildEnv marks the child process that runs the GPU tests on the emulated driver.
const emuChildEnv = "MINITRON_CUDA_EMULATED"

// TestEmulatedGPU runs the GPU tests against testdata/emu, a CPU stand-in for the driver,
// cuBLAS and NVRTC that runs kernels.cu itself, so that machines without a GPU check the
// backend's code, its kernel parameters and its kernels. The tests run in a child process:
// the libraries a process loads are its own for good.
//
// It takes about a minute on two cores, so it runs once per CI pass: not in -short mode, not
// under the race detector, and not in the runs that set MINITRON_CPU (the CPU kernel levels do
// not touch this backend).
func TestEmulatedGPU(t *testing.T) {
	switch {
	case os.Getenv(emuChildEnv) != "":
		t.Skip("this is the emulation")
	case testing.Short():
		t.Skip("slow (-short)")
	case raceEnabled:
		t.Skip("slow under the race detector; the plain run covers it")
	case os.Getenv("MINITRON_CPU") != "":
		t.Skip("the CPU kernel level does not change this backend; the plain run covers it")
	}
	if os.Getenv("MINITRON_CUDA_REQUIRE") == "1" {
		// On the GPU machine a passing emulation must not stand in for the device.
		if b, err := New(backend.Options{}); err != nil {
			t.Fatalf("MINITRON_CUDA_REQUIRE=1 and no GPU: %v", err)
		} else {
			b.Close()
		}
		t.Skip("a GPU is here: the GPU tests ran on it")
	}
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ to build the emulated driver")
	}
	if b, err := New(backend.Options{}); err == nil {
		b.Close()
		t.Skip("a GPU is here: the GPU tests ran on it")
	}
	src, err := filepath.Abs("testdata/emu")
	if err != nil {
		t.Fatal(err)
	}
	kernels, err := filepath.Abs("kernels.cu")
	if err != nil {
		t.Fatal(err)
	}
	lib := t.TempDir()
	for _, args := range [][]string{
		{"-std=c++20", "-include", "prelude.h", `-DKERNELS="` + kernels + `"`, "-o", filepath.Join(lib, "libcuda.so.1"), "driver.cpp"},
		{"-o", filepath.Join(lib, "libcublas.so.13"), "cublas.cpp"},
		{"-o", filepath.Join(lib, "libnvrtc.so.13"), "nvrtc.cpp"},
	} {
		cmd := exec.Command(gxx, append([]string{"-O2", "-fPIC", "-shared", "-Wno-unknown-pragmas"}, args...)...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building the emulation: %v\n%s", err, out)
		}
	}
	for _, run := range []string{
		"^(TestConformance|TestAttentionSplitsMatchCPU|TestAttentionBF16Cache|TestExactGEMMSplitsX|TestGraphReplay|TestGraphFallback)$",
		"^TestGoldenLogits$/^fast$/^tiny-a$", // exact differs only in GEMMs the conformance run covers
		"^TestGoldenGreedy$/^fast$/^tiny-a$", // greedy ids asserted in fast precision
		"^TestGoldenKVCacheBF16$/^tiny-a$",   // the kernels' own check is TestAttentionBF16Cache
	} {
		cmd := exec.Command(os.Args[0], "-test.run", run, "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), emuChildEnv+"=1", LibDirEnv+"="+lib, CacheDirEnv+"=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s on the emulated GPU: %v\n%s", run, err, tail(out, 4000))
			continue
		}
		if !bytes.Contains(out, []byte("Emulated GPU")) || bytes.Contains(out, []byte("--- SKIP")) {
			t.Errorf("%s did not run on the emulated GPU:\n%s", run, tail(out, 2000))
		}
		for _, line := range regexp.MustCompile(`(?m)^.*(max \|diff\||a decode step).*$`).FindAll(out, -1) {
			t.Log(strings.TrimSpace(string(line)))
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
