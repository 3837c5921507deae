//go:build linux && cgo

package cuda

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"
)

// CUresult values the Go side tells apart.
const (
	cudaErrorOutOfMemory = 2
	cudaErrorNoDevice    = 100
)

// libs are the CUDA libraries of the process, loaded once and never unloaded.
type libs struct {
	driverVersion int // CUDA version the driver supports, e.g. 13000 for 13.0
	driverPath    string
	blasPath      string
	nvrtcPath     string
	nvrtcMajor    int
	nvrtcMinor    int

	mu     sync.Mutex // guards the compiled kernels
	image  []byte     // compiled kernels, shared by the backends of the process
	target string     // what image is: sm_90 (CUBIN) or compute_90 (PTX)
}

var (
	libsMu sync.Mutex
	loaded *libs
)

// loadLibs finds and binds the driver, cuBLAS and NVRTC. A failure is not remembered: the
// next call searches again (after the user has set MINITRON_CUDA_LIB_DIR, say).
func loadLibs() (*libs, error) {
	return loadLibsFrom(osSearchEnv())
}

func loadLibsFrom(env searchEnv) (*libs, error) {
	libsMu.Lock()
	defer libsMu.Unlock()
	if loaded != nil {
		return loaded, nil
	}
	l := &libs{}
	var err error
	if _, l.driverPath, err = env.loadLibrary(libDriver, 0, dlopener(bindDriver)); err != nil {
		return nil, err
	}
	var v C.int
	if r := C.mt_driver_version(&v); r != 0 {
		return nil, statusError("cuDriverGetVersion", r)
	}
	l.driverVersion = int(v)
	if _, l.blasPath, err = env.loadLibrary(libCUBLAS, l.driverVersion/1000, dlopener(bindBLAS)); err != nil {
		return nil, err
	}
	if _, l.nvrtcPath, err = env.loadLibrary(libNVRTC, l.driverVersion/1000, dlopener(bindNVRTC)); err != nil {
		return nil, err
	}
	var major, minor C.int
	if r := C.mt_nvrtc_version(&major, &minor); r != 0 {
		return nil, statusError("nvrtcVersion", r)
	}
	l.nvrtcMajor, l.nvrtcMinor = int(major), int(minor)
	loaded = l
	return l, nil
}

func bindDriver(h unsafe.Pointer) *C.char { return C.mt_bind_driver(h) }
func bindBLAS(h unsafe.Pointer) *C.char   { return C.mt_bind_blas(h) }
func bindNVRTC(h unsafe.Pointer) *C.char  { return C.mt_bind_nvrtc(h) }

// dlopener loads a library with dlopen and binds its entry points with bind; a library that
// lacks one is reported and the search goes on. Dependencies are only loaded.
func dlopener(bind func(unsafe.Pointer) *C.char) opener {
	return func(path string, dep bool) (uintptr, error) {
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		var msg [1024]C.char
		h := C.mt_dlopen(cpath, &msg[0], C.size_t(len(msg)))
		if h == nil {
			return 0, errors.New(C.GoString(&msg[0]))
		}
		if !dep {
			if missing := bind(h); missing != nil {
				return 0, fmt.Errorf("lacks %s (too old a version?)", C.GoString(missing))
			}
		}
		return uintptr(h), nil
	}
}

// statusError describes a failed call by the function's name and the status's name.
func statusError(op string, r C.int) error {
	var buf [160]C.char
	C.mt_status_name(r, &buf[0], C.int(len(buf)))
	return &Error{Op: op, Code: int(r), Status: C.GoString(&buf[0])}
}

// Error is a failed CUDA driver, cuBLAS or NVRTC call.
type Error struct {
	Op     string // the function, e.g. "cuMemAlloc_v2"
	Code   int    // CUresult; cuBLAS statuses plus 100000, NVRTC results plus 200000
	Status string // the status's name
}

func (e *Error) Error() string { return "cuda: " + e.Op + ": " + e.Status }

// describe is a line on the libraries in use, for messages.
func (l *libs) describe() string {
	return fmt.Sprintf("driver %d.%d (%s), cuBLAS %s, NVRTC %d.%d (%s)",
		l.driverVersion/1000, l.driverVersion%1000/10, l.driverPath, l.blasPath, l.nvrtcMajor, l.nvrtcMinor, l.nvrtcPath)
}

// nvrtcArchs lists the architectures NVRTC compiles for (e.g. 90 for sm_90), or nil when it
// cannot say (before CUDA 11.2).
func nvrtcArchs() []int {
	var archs [128]C.int
	var n C.int
	if C.mt_nvrtc_archs(&archs[0], C.int(len(archs)), &n) != 0 {
		return nil
	}
	out := make([]int, int(n))
	for i := range out {
		out[i] = int(archs[i])
	}
	return out
}

// nvrtcCompile compiles src for target (sm_XY: a CUBIN; compute_XY: PTX).
func nvrtcCompile(src []byte, target string, options []string) ([]byte, error) {
	csrc := C.CString(string(src))
	defer C.free(unsafe.Pointer(csrc))
	cname := C.CString("minitron_kernels.cu")
	defer C.free(unsafe.Pointer(cname))
	opts := append(append([]string(nil), options...), "--gpu-architecture="+target)
	copts := make([]*C.char, len(opts))
	for i, o := range opts {
		copts[i] = C.CString(o)
	}
	defer func() {
		for _, p := range copts {
			C.free(unsafe.Pointer(p))
		}
	}()
	// The array of option pointers lives in C memory: cgo forbids passing Go memory that
	// holds pointers.
	carr := (**C.char)(C.malloc(C.size_t(len(copts)) * C.size_t(unsafe.Sizeof(copts[0]))))
	defer C.free(unsafe.Pointer(carr))
	copy(unsafe.Slice(carr, len(copts)), copts)

	cubin := C.int(0)
	if strings.HasPrefix(target, "sm_") {
		cubin = 1
	}
	var image, log *C.char
	var size C.size_t
	r := C.mt_nvrtc_compile(csrc, cname, carr, C.int(len(copts)), cubin, &image, &size, &log)
	var logText string
	if log != nil {
		logText = strings.TrimSpace(C.GoString(log))
		C.free(unsafe.Pointer(log))
	}
	if r != 0 {
		err := statusError("nvrtcCompileProgram for "+target, r)
		if logText != "" {
			err = fmt.Errorf("%w:\n%s", err, logText)
		}
		return nil, err
	}
	defer C.free(unsafe.Pointer(image))
	return C.GoBytes(unsafe.Pointer(image), C.int(size)), nil
}

// kernelImage returns the compiled kernels for a device of compute capability cc (e.g. 90),
// from this process, the disk cache or NVRTC. fresh skips the disk cache (its image failed to
// load).
func (l *libs) kernelImage(cc int, fresh bool) (image []byte, target string, fromCache bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	target, err = chooseTarget(cc, nvrtcArchs(), C.mt_nvrtc_has_cubin() != 0)
	if err != nil {
		return nil, "", false, fmt.Errorf("cuda: %w (NVRTC %d.%d, %s)", err, l.nvrtcMajor, l.nvrtcMinor, l.nvrtcPath)
	}
	if !fresh && l.image != nil && l.target == target {
		return l.image, target, false, nil
	}
	key := cacheKey(kernelSource, target, l.nvrtcMajor, l.nvrtcMinor, nvrtcOptions)
	dir := cacheDir(os.Getenv)
	path := ""
	if dir != "" {
		path = cacheFile(dir, target, key)
		if !fresh {
			if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
				l.image, l.target = data, target
				return data, target, true, nil
			}
		}
	}
	image, err = nvrtcCompile(kernelSource, target, nvrtcOptions)
	if err != nil {
		return nil, "", false, err
	}
	if path != "" {
		writeCacheFile(path, image) // a cache that cannot be written costs a compilation per run
	}
	l.image, l.target = image, target
	return image, target, false, nil
}
