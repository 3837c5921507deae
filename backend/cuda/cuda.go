//go:build linux && cgo

package cuda

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
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

// cuBLAS and CUDA enum values (cublasOperation_t, cudaDataType, cublasComputeType_t).
const (
	opN        = 0
	opT        = 1
	cudaR32F   = 0
	cudaR16BF  = 14
	computeF32 = 68 // CUBLAS_COMPUTE_32F: float32 arithmetic, no TF32
)

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

// Tensor is a tensor in device memory.
type Tensor struct {
	dt    tensor.DType
	shape []int
	ptr   C.mt_ptr // 0 for an empty tensor
	view  bool     // a Rows view of another tensor: not freed
}

func (t *Tensor) DType() tensor.DType { return t.dt }
func (t *Tensor) Shape() []int        { return t.shape }

func (t *Tensor) len() int { return tensor.NumElements(t.shape) }
func (t *Tensor) rows() int {
	if len(t.shape) == 0 {
		return 1
	}
	return t.shape[0]
}
func (t *Tensor) cols() int {
	if len(t.shape) < 2 {
		return 1
	}
	return tensor.NumElements(t.shape[1:])
}

// at is the address of element i.
func (t *Tensor) at(i int) C.mt_ptr { return t.ptr + C.mt_ptr(i*t.dt.Size()) }

// scratch is device memory reused across operations; the stream orders its uses.
type scratch struct {
	ptr  C.mt_ptr
	size int
}

type ropeKey struct {
	rotDims int
	theta   float64
}

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
	module         unsafe.Pointer
	fns            [numKernels]unsafe.Pointer

	mu     sync.Mutex
	err    error // sticky: the first failure since the last Read or Sync
	closed bool
	live   map[C.mt_ptr]int // owned allocations and their sizes
	args   argBuffer
	xb     scratch // activations rounded to bf16
	wf     scratch // a block of weights widened to f32
	part   scratch // attention partial results
	pinned unsafe.Pointer
	pinLen int
	rope   map[ropeKey]C.mt_ptr

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
	}
	b.bf16GEMM = b.cc >= 80
	b.singleRounding = os.Getenv(FastRoundingEnv) == "single"
	var dev *C.mt_dev
	if r := C.mt_open(C.int(opts.Device), &dev); r != 0 {
		return nil, fmt.Errorf("cuda: opening device %d (%s): %w", opts.Device, b.devName, statusError("context, stream and cuBLAS handle", r))
	}
	b.dev = dev
	b.args = newArgBuffer()
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

// ---- memory ------------------------------------------------------------------------------

func (b *Backend) memInfo() string {
	var free, total C.size_t
	if C.mt_mem_info(b.dev, &free, &total) != 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f GB free of %.2f GB)", float64(free)/1e9, float64(total)/1e9)
}

// alloc allocates device memory without clearing it. Callers hold b.mu.
func (b *Backend) alloc(bytes int, what string) (C.mt_ptr, error) {
	if bytes == 0 {
		return 0, nil
	}
	var p C.mt_ptr
	if r := C.mt_alloc(b.dev, &p, C.size_t(bytes)); r != 0 {
		if r == cudaErrorOutOfMemory {
			return 0, fmt.Errorf("cuda: out of device memory allocating %.1f MB for %s on %s%s", float64(bytes)/1e6, what, b.devName, b.memInfo())
		}
		return 0, fmt.Errorf("allocating %d bytes for %s: %w", bytes, what, statusError("cuMemAlloc_v2", r))
	}
	b.live[p] = bytes
	return p, nil
}

// free releases device memory once the queued work is done with it. Callers hold b.mu.
func (b *Backend) free(p C.mt_ptr) {
	if p == 0 {
		return
	}
	if _, ok := b.live[p]; !ok {
		return
	}
	b.note("cuStreamSynchronize", C.mt_sync(b.dev))
	b.note("cuMemFree_v2", C.mt_free(b.dev, p))
	delete(b.live, p)
}

// grow makes s hold at least bytes, reporting failure as the sticky error.
func (b *Backend) grow(s *scratch, bytes int, what string) bool {
	if s.size >= bytes {
		return true
	}
	b.free(s.ptr)
	s.ptr, s.size = 0, 0
	size := (bytes + (1<<20 - 1)) &^ (1<<20 - 1)
	p, err := b.alloc(size, what)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return false
	}
	s.ptr, s.size = p, size
	return true
}

func checkShape(shape []int) error {
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("cuda: negative shape %v", shape)
		}
	}
	return nil
}

// Upload copies a host tensor to the device. Matrices keep their dtype; vectors (norm
// weights and biases, used in float32 arithmetic) are widened once here.
func (b *Backend) Upload(h tensor.Host) (backend.Tensor, error) {
	if !h.DType.IsFloat() {
		return nil, fmt.Errorf("cuda upload: %s tensors are not supported (want F32, F16 or BF16)", h.DType)
	}
	if err := checkShape(h.Shape); err != nil {
		return nil, err
	}
	if len(h.Data) != h.Len()*h.DType.Size() {
		return nil, fmt.Errorf("cuda upload: %d bytes for %s%s", len(h.Data), h.DType, tensor.ShapeString(h.Shape))
	}
	if len(h.Shape) <= 1 && h.DType != tensor.F32 {
		h = tensor.FromF32(h.ToF32(), h.Shape...)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("cuda upload: backend closed")
	}
	t := &Tensor{dt: h.DType, shape: append([]int(nil), h.Shape...)}
	p, err := b.alloc(len(h.Data), h.DType.String()+tensor.ShapeString(h.Shape))
	if err != nil {
		return nil, err
	}
	t.ptr = p
	if len(h.Data) > 0 {
		if r := C.mt_htod(b.dev, p, unsafe.Pointer(&h.Data[0]), C.size_t(len(h.Data))); r != 0 {
			b.free(p)
			return nil, fmt.Errorf("cuda upload of %s%s: %w", h.DType, tensor.ShapeString(h.Shape), statusError("cuMemcpyHtoD_v2", r))
		}
	}
	return t, nil
}

// Alloc returns a zeroed F32 tensor (activations, scratch, the KV cache).
func (b *Backend) Alloc(dt tensor.DType, shape ...int) (backend.Tensor, error) {
	if dt != tensor.F32 {
		return nil, fmt.Errorf("cuda backend: cannot allocate %s activations", dt)
	}
	if err := checkShape(shape); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("cuda alloc: backend closed")
	}
	t := &Tensor{dt: dt, shape: append([]int(nil), shape...)}
	bytes := t.len() * dt.Size()
	p, err := b.alloc(bytes, "an F32"+tensor.ShapeString(shape)+" tensor")
	if err != nil {
		return nil, err
	}
	t.ptr = p
	if bytes > 0 {
		if r := C.mt_zero(b.dev, p, C.size_t(bytes)); r != 0 {
			b.free(p)
			return nil, statusError("cuMemsetD8Async", r)
		}
	}
	return t, nil
}

func (b *Backend) Free(bt backend.Tensor) {
	t, ok := bt.(*Tensor)
	if !ok || t.view || t.ptr == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.free(t.ptr)
	t.ptr = 0
}

func (b *Backend) Rows(bt backend.Tensor, lo, hi int) backend.Tensor {
	t := b.tensor(bt)
	if lo < 0 || hi < lo || hi > t.rows() {
		panic(fmt.Sprintf("cuda: rows [%d, %d) of a %s tensor", lo, hi, tensor.ShapeString(t.shape)))
	}
	shape := append([]int{hi - lo}, t.shape[1:]...)
	return &Tensor{dt: t.dt, shape: shape, ptr: t.at(lo * t.cols()), view: true}
}

func (b *Backend) tensor(bt backend.Tensor) *Tensor {
	t, ok := bt.(*Tensor)
	if !ok {
		panic(fmt.Sprintf("cuda: a %T is not a CUDA tensor", bt))
	}
	return t
}

// f32 asserts an F32 tensor.
func (b *Backend) f32(bt backend.Tensor, what string) *Tensor {
	t := b.tensor(bt)
	if t.dt != tensor.F32 {
		panic(fmt.Sprintf("cuda: %s is %s, want F32", what, t.dt))
	}
	return t
}

func (b *Backend) Read(dst []float32, bt backend.Tensor) error {
	t := b.tensor(bt)
	if t.dt != tensor.F32 {
		return fmt.Errorf("cuda: read of a %s tensor", t.dt)
	}
	if len(dst) != t.len() {
		return fmt.Errorf("cuda: read of %d values into %d", t.len(), len(dst))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cuda: read from a closed backend")
	}
	if b.err == nil {
		b.read(dst, t)
	}
	err := b.err
	b.err = nil
	return err
}

// read copies t into dst after the queued work, through page-locked memory when it is small
// enough: a pageable copy is staged by the driver anyway, more slowly.
func (b *Backend) read(dst []float32, t *Tensor) {
	bytes := 4 * len(dst)
	if bytes == 0 || t.ptr == 0 {
		b.note("cuStreamSynchronize", C.mt_sync(b.dev))
		return
	}
	if bytes <= pinnedMax && b.pinLen < bytes {
		if b.pinned != nil {
			C.mt_free_host(b.dev, b.pinned)
			b.pinned, b.pinLen = nil, 0
		}
		size := max(bytes, 1<<20)
		var p unsafe.Pointer
		if C.mt_alloc_host(b.dev, &p, C.size_t(size)) == 0 {
			b.pinned, b.pinLen = p, size
		}
	}
	if bytes <= b.pinLen {
		if b.note("cuMemcpyDtoHAsync_v2", C.mt_dtoh(b.dev, b.pinned, t.ptr, C.size_t(bytes))) {
			copy(dst, unsafe.Slice((*float32)(b.pinned), len(dst)))
		}
		return
	}
	b.note("cuMemcpyDtoHAsync_v2", C.mt_dtoh(b.dev, unsafe.Pointer(&dst[0]), t.ptr, C.size_t(bytes)))
}

func (b *Backend) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cuda: sync of a closed backend")
	}
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
		b.note("cuStreamSynchronize", C.mt_sync(b.dev))
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
	b.closed = true
	err := b.err
	b.err = nil
	return err
}

// ---- launches ----------------------------------------------------------------------------

// argBuffer holds a launch's parameters in C memory, each at its natural alignment; the
// driver copies them when the kernel is queued, so one buffer serves every launch.
type argBuffer struct {
	mem  unsafe.Pointer
	buf  []byte
	offs []C.int
	n    int
	pos  int
}

const argBytes = 4096

func newArgBuffer() argBuffer {
	mem := C.malloc(C.size_t(argBytes + 4*C.MT_MAX_ARGS))
	return argBuffer{
		mem:  mem,
		buf:  unsafe.Slice((*byte)(mem), argBytes),
		offs: unsafe.Slice((*C.int)(unsafe.Add(mem, argBytes)), C.MT_MAX_ARGS),
	}
}

func (a *argBuffer) free() {
	if a.mem != nil {
		C.free(a.mem)
		*a = argBuffer{}
	}
}

func (a *argBuffer) reset() *argBuffer {
	a.n, a.pos = 0, 0
	return a
}

// slot reserves size bytes at the given alignment for the next parameter.
func (a *argBuffer) slot(size, align int) []byte {
	pos := (a.pos + align - 1) &^ (align - 1)
	if a.n == len(a.offs) || pos+size > len(a.buf) {
		panic("cuda: too many kernel parameters")
	}
	a.offs[a.n] = C.int(pos)
	a.n++
	a.pos = pos + size
	return a.buf[pos : pos+size]
}

func (a *argBuffer) ptr(p C.mt_ptr) *argBuffer {
	binary.LittleEndian.PutUint64(a.slot(8, 8), uint64(p))
	return a
}

func (a *argBuffer) i64(v int) *argBuffer {
	binary.LittleEndian.PutUint64(a.slot(8, 8), uint64(int64(v)))
	return a
}

func (a *argBuffer) i32(v int) *argBuffer {
	if v != int(int32(v)) {
		panic(fmt.Sprintf("cuda: kernel parameter %d overflows int", v))
	}
	binary.LittleEndian.PutUint32(a.slot(4, 4), uint32(int32(v)))
	return a
}

func (a *argBuffer) f32(v float32) *argBuffer {
	binary.LittleEndian.PutUint32(a.slot(4, 4), math.Float32bits(v))
	return a
}

// ids writes kernels.cu's EmbedIds: embedIDs int32s, unused ones zero.
func (a *argBuffer) ids(ids []int32) *argBuffer {
	s := a.slot(4*embedIDs, 4)
	clear(s)
	for i, id := range ids {
		binary.LittleEndian.PutUint32(s[4*i:], uint32(id))
	}
	return a
}

// launch queues kernel k on gx×gy blocks of threads threads with the parameters in b.args.
func (b *Backend) launch(k kernel, gx, gy, threads int) {
	if gx < 1 || gx > math.MaxInt32 || gy < 1 || gy > 65535 || threads < 1 || threads > 1024 {
		panic(fmt.Sprintf("cuda: %s launch of %d×%d blocks of %d threads", kernelNames[k], gx, gy, threads))
	}
	if r := C.mt_launch(b.dev, b.fns[k], C.uint(gx), C.uint(gy), 1, C.uint(threads), 0, b.args.mem, &b.args.offs[0], C.int(b.args.n)); r != 0 {
		b.note("cuLaunchKernel "+kernelNames[k], r)
	}
}

// gridFor sizes a grid-stride launch over n elements: enough blocks to fill the device.
func (b *Backend) gridFor(n int) int {
	return max(1, min((n+blockThreads-1)/blockThreads, b.sms*16))
}

// dtypeIndex is a weight's dtype as the kernels number it.
func dtypeIndex(dt tensor.DType) int {
	switch dt {
	case tensor.F32:
		return 0
	case tensor.F16:
		return 1
	case tensor.BF16:
		return 2
	}
	panic("cuda: weights of dtype " + dt.String())
}

// ---- operations --------------------------------------------------------------------------

// MatMul computes dst[n,m] = x[n,k]·w[m,k]ᵀ.
func (b *Backend) MatMul(dst, x, w backend.Tensor) {
	d, xt, wt := b.f32(dst, "matmul dst"), b.f32(x, "matmul x"), b.tensor(w)
	n, k, m := xt.rows(), xt.cols(), wt.rows()
	if len(wt.shape) != 2 || wt.cols() != k || d.rows() != n || d.cols() != m {
		panic(fmt.Sprintf("cuda: matmul %s · %sᵀ → %s", tensor.ShapeString(xt.shape), tensor.ShapeString(wt.shape), tensor.ShapeString(d.shape)))
	}
	dtypeIndex(wt.dt)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || n == 0 || m == 0 {
		return
	}
	if k == 0 {
		b.note("cuMemsetD8Async", C.mt_zero(b.dev, d.ptr, C.size_t(4*n*m)))
		return
	}
	fast := b.opts.Precision == backend.Fast
	switch {
	case n <= gemvMaxRows || (!fast && n <= exactGemvRows):
		b.gemv(d, xt, wt, n, k, m)
	case wt.dt == tensor.F32:
		b.gemm(m, n, k, wt.ptr, cudaR32F, xt.ptr, cudaR32F, d.ptr, m, 0)
	case fast && wt.dt == tensor.BF16 && b.bf16GEMM && b.singleRounding:
		// Tensor cores multiply bf16 pairs: round the activations, accumulate in f32.
		if !b.grow(&b.xb, 2*n*k, "bf16 activations") {
			return
		}
		b.args.reset().ptr(b.xb.ptr).ptr(xt.ptr).i64(n * k)
		b.launch(kRoundBF16, b.gridFor(n*k), 1, blockThreads)
		b.gemm(m, n, k, wt.ptr, cudaR16BF, b.xb.ptr, cudaR16BF, d.ptr, m, 0)
	case fast && wt.dt == tensor.BF16 && b.bf16GEMM:
		// Tensor cores multiply bf16 pairs exactly into f32: with the activations split as
		// hi + lo, two GEMMs give W·x to about 2⁻¹⁶ relative, for twice the arithmetic of one.
		if !b.grow(&b.xb, 4*n*k, "bf16 activations") {
			return
		}
		hi, lo := b.xb.ptr, b.xb.ptr+C.mt_ptr(2*n*k)
		b.args.reset().ptr(hi).ptr(lo).ptr(xt.ptr).i64(n * k)
		b.launch(kSplitBF16, b.gridFor(n*k), 1, blockThreads)
		b.gemm(m, n, k, wt.ptr, cudaR16BF, hi, cudaR16BF, d.ptr, m, 0)
		b.gemm(m, n, k, wt.ptr, cudaR16BF, lo, cudaR16BF, d.ptr, m, 1)
	default:
		// Exact: widen blocks of w to f32 and multiply in f32. The stream orders a block's
		// GEMM before the next block overwrites the scratch.
		per := max(1, min(m, widenBlockElems/k))
		if !b.grow(&b.wf, 4*per*k, "widened weights") {
			return
		}
		widen := kWidenBF16
		if wt.dt == tensor.F16 {
			widen = kWidenF16
		}
		for j0 := 0; j0 < m; j0 += per {
			rows := min(per, m-j0)
			b.args.reset().ptr(b.wf.ptr).ptr(wt.at(j0 * k)).i64(rows * k)
			b.launch(widen, b.gridFor(rows*k), 1, blockThreads)
			b.gemm(rows, n, k, b.wf.ptr, cudaR32F, xt.ptr, cudaR32F, d.at(j0), m, 0)
		}
	}
}

// gemv runs the matrix-vector kernel over rows of x, gemvMaxRows at a time.
func (b *Backend) gemv(d, x, w *Tensor, n, k, m int) {
	vec := 0
	if k%8 == 0 && w.ptr%16 == 0 && x.ptr%16 == 0 {
		vec = 1
	}
	for r0 := 0; r0 < n; r0 += gemvMaxRows {
		rows := min(gemvMaxRows, n-r0)
		lg := 0
		for 1<<lg < rows {
			lg++
		}
		b.args.reset().ptr(d.at(r0 * m)).ptr(x.at(r0 * k)).ptr(w.ptr).i32(rows).i32(k).i32(m).i32(vec)
		b.launch(kGemvF32+kernel(4*dtypeIndex(w.dt)+lg), ceilDiv(m, gemvWarps), 1, gemvWarps*32)
	}
}

// gemm computes, in cuBLAS's column-major terms, C[m×n] = Aᵀ·B + beta·C with A [k×m] (the
// weights, row after row of k) and B [k×n] (the activations): row-major dst[n, m] = x·wᵀ,
// ldc = the row length of dst.
func (b *Backend) gemm(m, n, k int, a C.mt_ptr, atype int, bp C.mt_ptr, btype int, c C.mt_ptr, ldc int, beta float32) {
	r := C.mt_gemm(b.dev, opT, opN, C.int(m), C.int(n), C.int(k), 1, a, C.int(atype), C.int(k),
		bp, C.int(btype), C.int(k), C.float(beta), c, cudaR32F, C.int(ldc), computeF32)
	if r != 0 {
		b.note(fmt.Sprintf("cublasGemmEx (m=%d n=%d k=%d, A type %d, B type %d)", m, n, k, atype, btype), r)
	}
}

func (b *Backend) LayerNorm1P(dst, x, weight, bias backend.Tensor, eps float32) {
	d, xt := b.f32(dst, "layernorm dst"), b.f32(x, "layernorm x")
	w, bs := b.f32(weight, "layernorm weight"), b.f32(bias, "layernorm bias")
	c := xt.cols()
	if w.len() != c || bs.len() != c || d.len() != xt.len() {
		panic("cuda: layernorm shapes")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || xt.len() == 0 {
		return
	}
	b.args.reset().ptr(d.ptr).ptr(xt.ptr).ptr(w.ptr).ptr(bs.ptr).i32(c).f32(eps)
	b.launch(kLayerNorm, xt.rows(), 1, blockThreads)
}

func (b *Backend) Rotary(x backend.Tensor, heads, headDim, rotDims, pos0 int, theta float64) {
	xt := b.f32(x, "rotary x")
	if heads < 0 || headDim < 0 || xt.cols() != heads*headDim || rotDims > headDim || rotDims < 0 || rotDims%2 != 0 || pos0 < 0 {
		panic("cuda: rotary shapes")
	}
	half := rotDims / 2
	total := xt.rows() * heads * half
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || total == 0 {
		return
	}
	inv := b.invFreq(rotDims, theta)
	if inv == 0 {
		return
	}
	b.args.reset().ptr(xt.ptr).ptr(inv).i32(xt.rows()).i32(heads).i32(headDim).i32(half).i32(pos0)
	b.launch(kRotary, b.gridFor(total), 1, blockThreads)
}

// invFreq returns the device copy of the rotary inverse frequencies, the CPU's own values
// (tensor.RopeInvFreq), uploaded on first use.
func (b *Backend) invFreq(rotDims int, theta float64) C.mt_ptr {
	key := ropeKey{rotDims, theta}
	if p, ok := b.rope[key]; ok {
		return p
	}
	inv := tensor.RopeInvFreq(rotDims, theta)
	p, err := b.alloc(4*len(inv), "rotary frequencies")
	if err != nil {
		b.err = err
		return 0
	}
	if !b.note("cuMemcpyHtoD_v2", C.mt_htod(b.dev, p, unsafe.Pointer(&inv[0]), C.size_t(4*len(inv)))) {
		b.free(p)
		return 0
	}
	b.rope[key] = p
	return p
}

func (b *Backend) Attention(dst, q, k, v backend.Tensor, heads, kvHeads, pos0 int) {
	d, qt := b.f32(dst, "attention dst"), b.f32(q, "attention q")
	kt, vt := b.f32(k, "attention k"), b.f32(v, "attention v")
	n, qc := qt.rows(), qt.cols()
	if heads <= 0 || kvHeads <= 0 || heads%kvHeads != 0 || qc%heads != 0 || pos0 < 0 {
		panic("cuda: attention heads")
	}
	headDim := qc / heads
	kvc := kvHeads * headDim
	if kt.cols() != kvc || vt.cols() != kvc || kt.rows() < pos0+n || vt.rows() < pos0+n || d.len() != qt.len() {
		panic("cuda: attention shapes")
	}
	if headDim > attMaxHeadDim {
		panic(fmt.Sprintf("cuda: attention over heads of %d dimensions (at most %d)", headDim, attMaxHeadDim))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || n == 0 || headDim == 0 {
		return
	}
	scale := float32(1 / math.Sqrt(float64(headDim)))
	tiled, perBlock := attentionTiled(n, heads, kvHeads, headDim, b.sms)
	if b.forceTiled != 0 {
		tiled = b.forceTiled > 0 && perBlock > 0
	}
	if tiled {
		b.args.reset().ptr(d.ptr).ptr(qt.ptr).ptr(kt.ptr).ptr(vt.ptr).
			i32(n).i32(heads).i32(kvHeads).i32(headDim).i32(pos0).i32(perBlock).f32(scale)
		b.launch(kAttentionTiled, ceilDiv(n, perBlock), kvHeads, attThreads)
		return
	}
	splits, chunk := attentionSplits(n, heads, pos0, b.sms)
	if b.forceSplits > 0 {
		chunk = ceilDiv(pos0+n, b.forceSplits)
		splits = ceilDiv(pos0+n, chunk)
	}
	if splits > 1 && !b.grow(&b.part, 4*n*heads*splits*(headDim+2), "attention partials") {
		return
	}
	b.args.reset().ptr(d.ptr).ptr(b.part.ptr).ptr(qt.ptr).ptr(kt.ptr).ptr(vt.ptr).
		i32(heads).i32(kvHeads).i32(headDim).i32(pos0).i32(chunk).f32(scale)
	b.launch(kAttention, n*heads, splits, attThreads)
	if splits > 1 {
		b.args.reset().ptr(d.ptr).ptr(b.part.ptr).i32(heads).i32(headDim).i32(splits)
		b.launch(kAttentionCombine, n*heads, 1, ceilDiv(headDim, 32)*32)
	}
}

func (b *Backend) ReLU2(x backend.Tensor) {
	xt := b.f32(x, "relu2 x")
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || xt.len() == 0 {
		return
	}
	b.args.reset().ptr(xt.ptr).i64(xt.len())
	b.launch(kReLU2, b.gridFor(xt.len()), 1, blockThreads)
}

func (b *Backend) Add(dst, x backend.Tensor) {
	d, xt := b.f32(dst, "add dst"), b.f32(x, "add x")
	if d.len() != xt.len() {
		panic("cuda: add shapes")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || d.len() == 0 {
		return
	}
	b.args.reset().ptr(d.ptr).ptr(xt.ptr).i64(d.len())
	b.launch(kAdd, b.gridFor(d.len()), 1, blockThreads)
}

func (b *Backend) Embed(dst, table backend.Tensor, ids []int32) {
	d, t := b.f32(dst, "embed dst"), b.tensor(table)
	width, vocab := t.cols(), t.rows()
	if d.rows() != len(ids) || d.cols() != width {
		panic("cuda: embed shapes")
	}
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			panic(fmt.Sprintf("cuda: embed of token %d at %d, outside the table of %d", id, i, vocab))
		}
	}
	k := kEmbedF32 + kernel(dtypeIndex(t.dt))
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || len(ids) == 0 || width == 0 {
		return
	}
	for r0 := 0; r0 < len(ids); r0 += embedIDs {
		chunk := ids[r0:min(r0+embedIDs, len(ids))]
		b.args.reset().ptr(d.at(r0 * width)).ptr(t.ptr).i32(width).i32(vocab).ids(chunk)
		b.launch(k, len(chunk), ceilDiv(width, blockThreads), blockThreads)
	}
}

func (b *Backend) Copy(dst backend.Tensor, row0 int, src backend.Tensor) {
	d, s := b.f32(dst, "copy dst"), b.f32(src, "copy src")
	c := d.cols()
	if s.cols() != c || row0 < 0 || row0+s.rows() > d.rows() {
		panic(fmt.Sprintf("cuda: copy of %s into rows %d… of %s", tensor.ShapeString(s.shape), row0, tensor.ShapeString(d.shape)))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || s.len() == 0 {
		return
	}
	b.note("cuMemcpyDtoDAsync_v2", C.mt_dtod(b.dev, d.at(row0*c), s.ptr, C.size_t(4*s.len())))
}
