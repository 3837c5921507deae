//go:build linux && cgo

package cuda

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/minitron-go/minitron/backend"
)

func init() {
	backend.Register("cuda", func(o backend.Options) (backend.Backend, error) {
		b, err := New(o)
		if err != nil {
			return nil, err // not a nil *Backend in a non-nil interface
		}
		return b, nil
	})
}

const (
	// exactGemvRows is where exact precision leaves the gemv kernel for a widened-weight
	// GEMM: up to it, re-reading the weights once per 8 rows costs less than widening them
	// (read 2 bytes, write 4, read 4 per element).
	exactGemvRows = 32
	// widenBlockElems bounds the block of weights widened to float32 at once (128 MB).
	widenBlockElems = 32 << 20
	// pinnedMax is the largest Read staged through page-locked memory.
	pinnedMax = 64 << 20
)

// Backend is the CUDA backend. Its operations queue work on one stream; a mutex makes each
// whole, since States on several goroutines share its scratch.
type Backend struct {
	opts     backend.Options
	libs     *libs
	dev      *C.mt_dev
	devName  string
	cc       int // compute capability, 90 for 9.0
	sms      int
	target   string
	bf16GEMM bool // tensor-core bf16 GEMMs (compute capability 8.0 on)
	// singleRounding makes fast precision round activations to bf16 once per GEMM instead of
	// splitting them in two terms (FastRoundingEnv=single): half the GEMM arithmetic, about
	// 0.08 of error on the golden models' logits instead of 1e-5.
	singleRounding bool
	// exactF32GEMM makes exact precision widen bf16 weights to float32 for an SGEMM
	// (ExactGEMMEnv=f32) instead of three bf16 GEMMs over x split in three terms.
	exactF32GEMM bool
	module       unsafe.Pointer
	fns          [numKernels]unsafe.Pointer

	mu        sync.Mutex
	err       error // sticky: the first failure since the last Read or Sync
	closed    bool
	live      map[C.mt_ptr]int // owned allocations and their sizes
	args      argBuffer
	xb        scratch   // activations rounded to bf16
	wf        scratch   // a block of weights widened to f32
	part      scratch   // attention partial results
	prod      scratch   // a product on its way to dst (MatMulAdd of a GEMM)
	index     scratch   // argmax's results
	indexHost []float32 // and their bits, read back
	pinned    unsafe.Pointer
	pinLen    int
	rope      map[ropeKey]C.mt_ptr

	tape       tape              // launches not yet queued (graph.go)
	graphs     bool              // tapes that repeat replay as CUDA graphs
	graphCache map[uint64]*graph // by kernel sequence
	lastTape   uint64            // the last tape's kernel sequence
	stats      GraphStats

	// forceSplits, when > 0, fixes the number of attention splits; forceTiled, when not 0,
	// forces attention_tiled on (> 0, where the shapes allow it) or off (< 0). For tests.
	forceSplits int
	forceTiled  int
}

// New opens the GPU opts.Device. It fails with a message naming what is missing when the
// libraries, a device or memory cannot be had.
func New(opts backend.Options) (*Backend, error) {
	if opts.Precision != backend.Exact && opts.Precision != backend.Fast {
		return nil, fmt.Errorf("cuda: unknown precision %d", opts.Precision)
	}
	l, err := loadLibs()
	if err != nil {
		return nil, err
	}
	var count C.int
	if r := C.mt_device_count(&count); r != 0 {
		if r == cudaErrorNoDevice {
			return nil, fmt.Errorf("cuda: no CUDA device found (%s)", l.describe())
		}
		return nil, fmt.Errorf("%w (%s)", statusError("cuInit", r), l.describe())
	}
	if opts.Device < 0 || opts.Device >= int(count) {
		return nil, fmt.Errorf("cuda: device %d requested, %d present", opts.Device, count)
	}
	var name [256]C.char
	var major, minor, sms C.int
	var total C.size_t
	if r := C.mt_device_info(C.int(opts.Device), &name[0], C.int(len(name)), &major, &minor, &sms, &total); r != 0 {
		return nil, statusError("cuDeviceGetAttribute", r)
	}
	b := &Backend{
		opts:    opts,
		libs:    l,
		devName: C.GoString(&name[0]),
		cc:      int(major)*10 + int(minor),
		sms:     max(1, int(sms)),
		live:    map[C.mt_ptr]int{},
		rope:    map[ropeKey]C.mt_ptr{},

		graphCache: map[uint64]*graph{},
	}
	b.bf16GEMM = b.cc >= 80
	b.singleRounding = os.Getenv(FastRoundingEnv) == "single"
	b.exactF32GEMM = os.Getenv(ExactGEMMEnv) == "f32"
	var dev *C.mt_dev
	if r := C.mt_open(C.int(opts.Device), &dev); r != 0 {
		return nil, fmt.Errorf("cuda: opening device %d (%s): %w", opts.Device, b.devName, statusError("context, stream and cuBLAS handle", r))
	}
	b.dev = dev
	b.args = newArgBuffer()
	b.graphs = graphsWanted()
	if err := b.loadKernels(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// loadKernels loads the compiled kernels into the context and finds every function.
func (b *Backend) loadKernels() error {
	image, target, fromCache, err := b.libs.kernelImage(b.cc, false)
	if err != nil {
		return err
	}
	r := b.loadModule(image)
	if r != 0 && fromCache {
		// A stale or damaged cache entry: compile afresh, which also rewrites it.
		if image, target, _, err = b.libs.kernelImage(b.cc, true); err != nil {
			return err
		}
		r = b.loadModule(image)
	}
	if r != 0 {
		return fmt.Errorf("loading kernels compiled for %s on %s: %w", target, b.devName, statusError("cuModuleLoadData", r))
	}
	b.target = target
	for k, name := range kernelNames {
		cname := C.CString(name)
		var fn unsafe.Pointer
		r := C.mt_module_function(b.dev, b.module, cname, &fn)
		C.free(unsafe.Pointer(cname))
		if r != 0 {
			return fmt.Errorf("kernel %s: %w", name, statusError("cuModuleGetFunction", r))
		}
		b.fns[k] = fn
	}
	return nil
}

func (b *Backend) loadModule(image []byte) C.int {
	// PTX must end with a NUL; a CUBIN does not mind one.
	cimg := C.CBytes(append(append([]byte(nil), image...), 0))
	defer C.free(cimg)
	if b.module != nil {
		C.mt_module_unload(b.dev, b.module)
		b.module = nil
	}
	var mod unsafe.Pointer
	r := C.mt_module_load(b.dev, cimg, &mod)
	b.module = mod
	return r
}

func (b *Backend) Name() string {
	name := fmt.Sprintf("cuda/%s %s %s", b.devName, b.target, b.opts.Precision)
	if b.opts.Precision == backend.Fast && b.singleRounding {
		name += " (single bf16 rounding)"
	}
	if b.opts.Precision == backend.Exact && b.exactF32GEMM {
		name += " (float32 GEMM)"
	}
	return name
}

// note records a failed call as the sticky error; it reports whether the call succeeded.
func (b *Backend) note(op string, r C.int) bool {
	if r != 0 && b.err == nil {
		b.err = statusError(op, r)
	}
	return r == 0
}

// ready reports whether an operation should be queued: not after Close, nor after a failure
// that has not been reported yet (its results would be garbage anyway).
func (b *Backend) ready() bool {
	if b.closed {
		if b.err == nil {
			b.err = fmt.Errorf("cuda: operation on a closed backend")
		}
		return false
	}
	return b.err == nil
}

func (b *Backend) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cuda: sync of a closed backend")
	}
	b.flush()
	b.note("cuStreamSynchronize", C.mt_sync(b.dev))
	err := b.err
	b.err = nil
	return err
}

// Close waits for queued work and releases every allocation, the kernels, the stream, the
// cuBLAS handle and the context.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	if b.dev != nil {
		b.flush()
		b.note("cuStreamSynchronize", C.mt_sync(b.dev))
		b.freeGraphs()
		for p := range b.live {
			b.note("cuMemFree_v2", C.mt_free(b.dev, p))
		}
		b.live = nil
		if b.pinned != nil {
			C.mt_free_host(b.dev, b.pinned)
			b.pinned = nil
		}
		if b.module != nil {
			C.mt_module_unload(b.dev, b.module)
			b.module = nil
		}
		C.mt_close(b.dev)
		b.dev = nil
	}
	b.args.free()
	b.tape.free()
	b.closed = true
	err := b.err
	b.err = nil
	return err
}
