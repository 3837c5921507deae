//go:build linux && cgo

package cuda

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
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
	b.flush()
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

// Copied reports that an uploaded tensor lives in device memory, a copy (backend.Copies).
func (b *Backend) Copied(backend.Tensor) bool { return true }

// Upload copies a host tensor to the device. Matrices keep their dtype; vectors (norm
// weights and biases, used in float32 arithmetic) are widened once here. Stacked matrices
// become one in device memory, widened to F32 when their dtypes differ, so that one gemv
// launch multiplies by all of them.
//
// This backend has no kernels for block dtypes (Q8_0, Q4_K, Q5_K, Q6_K): a tensor in one is
// dequantized on the host to F32 and uploaded as that, so a quantized model runs here with
// its quantized weights' values exactly (what the conformance references multiply), but with
// the memory and the speed of an F32 one. It does not implement backend.QuantizedWeights.
func (b *Backend) Upload(parts ...tensor.Host) (backend.Tensor, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("cuda upload: no tensor")
	}
	hs := make([]tensor.Host, len(parts))
	for i, h := range parts {
		if h.DType.Quantized() {
			if len(h.Shape) == 0 || h.Shape[len(h.Shape)-1]%h.DType.BlockSize() != 0 || len(h.Data) != h.DType.Bytes(h.Len()) {
				return nil, fmt.Errorf("cuda upload: %d bytes for %s%s (rows must be whole blocks of %d)", len(h.Data), h.DType, tensor.ShapeString(h.Shape), h.DType.BlockSize())
			}
			h = tensor.FromF32(h.ToF32(), h.Shape...)
		}
		hs[i] = h
	}
	if len(hs) == 1 {
		return b.upload(hs[0])
	}
	mixed := false
	for _, h := range hs {
		if !h.DType.IsFloat() || len(h.Data) != h.DType.Bytes(h.Len()) {
			return nil, fmt.Errorf("cuda upload: stacking %d bytes of %s%s", len(h.Data), h.DType, tensor.ShapeString(h.Shape))
		}
		mixed = mixed || h.DType != hs[0].DType
	}
	if mixed {
		for i, h := range hs {
			hs[i] = tensor.FromF32(h.ToF32(), h.Shape...)
		}
	}
	h, err := tensor.StackRows(hs...)
	if err != nil {
		return nil, fmt.Errorf("cuda upload: %w", err)
	}
	return b.upload(h)
}

func (b *Backend) upload(h tensor.Host) (backend.Tensor, error) {
	if !h.DType.IsFloat() {
		return nil, fmt.Errorf("cuda upload: %s tensors are not supported (want F32, F16, BF16 or a block format)", h.DType)
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
		b.flush()
		if r := C.mt_htod(b.dev, p, unsafe.Pointer(&h.Data[0]), C.size_t(len(h.Data))); r != 0 {
			b.free(p)
			return nil, fmt.Errorf("cuda upload of %s%s: %w", h.DType, tensor.ShapeString(h.Shape), statusError("cuMemcpyHtoD_v2", r))
		}
	}
	return t, nil
}

// Alloc returns a zeroed F32 tensor (activations, scratch, the KV cache).
func (b *Backend) Alloc(dt tensor.DType, shape ...int) (backend.Tensor, error) {
	if dt != tensor.F32 && dt != tensor.BF16 {
		return nil, fmt.Errorf("cuda backend: cannot allocate %s tensors (F32 activations, F32 or BF16 KV caches)", dt)
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
	p, err := b.alloc(bytes, "a "+dt.String()+tensor.ShapeString(shape)+" tensor")
	if err != nil {
		return nil, err
	}
	t.ptr = p
	if bytes > 0 {
		b.flush()
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

// kv is b.tensor(bt) checked to be a KV cache's dtype: F32 or BF16.
func (b *Backend) kv(bt backend.Tensor, what string) *Tensor {
	t := b.tensor(bt)
	if t.dt != tensor.F32 && t.dt != tensor.BF16 {
		panic(fmt.Sprintf("cuda: %s is %s, want F32 or BF16", what, t.dt))
	}
	return t
}

// KVCacheTypes: a BF16 cache is rounded to nearest even as rows enter it (Copy) and widened
// exactly as attention reads it, with the F32 cache's arithmetic.
func (b *Backend) KVCacheTypes() []tensor.DType { return []tensor.DType{tensor.BF16} }

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
	b.flush()
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
