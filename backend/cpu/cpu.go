// Package cpu is the CPU backend: weights used in place (a memory-mapped bf16 checkpoint stays
// bf16), float32 activations, and work split across cores by a persistent worker pool.
package cpu

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

func init() {
	backend.Register("cpu", func(o backend.Options) (backend.Backend, error) { return New(o) })
}

// Tensor is a CPU tensor. Exactly one of f32 and u16 holds its elements.
type Tensor struct {
	dt    tensor.DType
	shape []int
	f32   []float32
	u16   []uint16 // BF16 or F16 weights, often a view of a memory-mapped file
}

func (t *Tensor) DType() tensor.DType { return t.dt }
func (t *Tensor) Shape() []int        { return t.shape }

// F32 exposes the elements of an F32 tensor (no copy); tests and tools use it.
func (t *Tensor) F32() []float32 { return t.f32 }

func (t *Tensor) rows() int { return t.shape[0] }
func (t *Tensor) cols() int {
	if len(t.shape) < 2 {
		return 1
	}
	return tensor.NumElements(t.shape[1:])
}

// Backend is the CPU backend.
type Backend struct {
	opts    backend.Options
	kernels *tensor.Kernels
	pool    *pool
	// mu makes each operation whole: States on several goroutines share the scratch below.
	mu      sync.Mutex
	workers []workerScratch
	xp      []float32 // x packed into panels
	xb      []uint16  // x rounded to bf16 (fast mode), plain or packed
	vt      []float32 // the value cache transposed, for attention on panels
	ropeMu  sync.Mutex
	rope    map[ropeKey][]float32
}

type ropeKey struct {
	rotDims int
	theta   float64
}

// New creates a CPU backend with opts.Threads workers (one per core when 0).
func New(opts backend.Options) (*Backend, error) {
	if opts.Threads < 0 {
		return nil, fmt.Errorf("cpu backend: %d threads", opts.Threads)
	}
	if opts.Threads == 0 {
		opts.Threads = runtime.NumCPU()
	}
	b := &Backend{
		opts:    opts,
		kernels: tensor.Active(),
		pool:    newPool(opts.Threads),
		workers: make([]workerScratch, opts.Threads),
		rope:    map[ropeKey][]float32{},
	}
	return b, nil
}

func (b *Backend) Name() string {
	return fmt.Sprintf("cpu/%s %s, %d threads", b.kernels.Level, b.opts.Precision, b.opts.Threads)
}

func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

func (b *Backend) Sync() error { return nil }

// Upload keeps 2-D weights as views of the host data. Vectors (norm weights and biases) are
// small and used in float32 arithmetic, so they are widened once here.
func (b *Backend) Upload(h tensor.Host) (backend.Tensor, error) {
	if !h.DType.IsFloat() {
		return nil, fmt.Errorf("cpu upload: %s tensors are not supported (want F32, F16 or BF16)", h.DType)
	}
	if len(h.Data) != h.Len()*h.DType.Size() {
		return nil, fmt.Errorf("cpu upload: %d bytes for %s%s", len(h.Data), h.DType, tensor.ShapeString(h.Shape))
	}
	t := &Tensor{dt: h.DType, shape: append([]int(nil), h.Shape...)}
	switch {
	case h.DType == tensor.F32:
		t.f32 = h.F32()
	case len(h.Shape) <= 1:
		t.dt, t.f32 = tensor.F32, h.ToF32()
	default:
		t.u16 = h.U16()
	}
	return t, nil
}

func (b *Backend) Alloc(dt tensor.DType, shape ...int) (backend.Tensor, error) {
	if dt != tensor.F32 {
		return nil, fmt.Errorf("cpu backend: cannot allocate %s activations", dt)
	}
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("cpu backend: negative shape %v", shape)
		}
	}
	return &Tensor{dt: dt, shape: append([]int(nil), shape...), f32: make([]float32, tensor.NumElements(shape))}, nil
}

func (b *Backend) Free(backend.Tensor) {}

func (b *Backend) Rows(bt backend.Tensor, lo, hi int) backend.Tensor {
	t := bt.(*Tensor)
	if lo < 0 || hi < lo || hi > t.rows() {
		panic(fmt.Sprintf("cpu: rows [%d, %d) of a %s tensor", lo, hi, tensor.ShapeString(t.shape)))
	}
	c := t.cols()
	v := &Tensor{dt: t.dt, shape: append([]int{hi - lo}, t.shape[1:]...)}
	if t.f32 != nil {
		v.f32 = t.f32[lo*c : hi*c : hi*c]
	} else {
		v.u16 = t.u16[lo*c : hi*c : hi*c]
	}
	return v
}

func (b *Backend) Read(dst []float32, bt backend.Tensor) error {
	t := bt.(*Tensor)
	if t.f32 == nil {
		return fmt.Errorf("cpu: read of a %s tensor", t.dt)
	}
	if len(dst) != len(t.f32) {
		return fmt.Errorf("cpu: read of %d values into %d", len(t.f32), len(dst))
	}
	copy(dst, t.f32)
	return nil
}

func (b *Backend) Copy(dst, src backend.Tensor) {
	d, s := dst.(*Tensor), src.(*Tensor)
	if len(d.f32) != len(s.f32) || s.f32 == nil {
		panic("cpu: copy between mismatched tensors")
	}
	copy(d.f32, s.f32)
}

// scratchFor returns a worker's attention scratch of n floats, kept between calls.
func (b *Backend) scratchFor(worker, n int) []float32 { return growF32(&b.workers[worker].attn, n) }

func (b *Backend) LayerNorm1P(dst, x, weight, bias backend.Tensor, eps float32) {
	d, xt, w, bs := dst.(*Tensor), x.(*Tensor), weight.(*Tensor), bias.(*Tensor)
	c := xt.cols()
	if len(w.f32) != c || len(bs.f32) != c || len(d.f32) != len(xt.f32) {
		panic("cpu: layernorm shapes")
	}
	b.pool.Run(xt.rows(), 4, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			tensor.LayerNorm1P(d.f32[r*c:(r+1)*c], xt.f32[r*c:(r+1)*c], w.f32, bs.f32, eps)
		}
	})
}

func (b *Backend) Rotary(x backend.Tensor, heads, headDim, rotDims, pos0 int, theta float64) {
	xt := x.(*Tensor)
	c := xt.cols()
	if c != heads*headDim || rotDims > headDim || rotDims%2 != 0 {
		panic("cpu: rotary shapes")
	}
	inv := b.invFreq(rotDims, theta)
	half := rotDims / 2
	b.pool.Run(xt.rows(), 1, func(worker, lo, hi int) {
		cs := b.scratchFor(worker, 2*half)
		cos, sin := cs[:half], cs[half:]
		for r := lo; r < hi; r++ {
			tensor.RopeAngles(cos, sin, inv, pos0+r)
			row := xt.f32[r*c : (r+1)*c]
			for h := range heads {
				tensor.RotateHalf(row[h*headDim:(h+1)*headDim], cos, sin)
			}
		}
	})
}

// invFreq caches the rotary inverse frequencies; sessions on other goroutines share them.
func (b *Backend) invFreq(rotDims int, theta float64) []float32 {
	b.ropeMu.Lock()
	defer b.ropeMu.Unlock()
	key := ropeKey{rotDims, theta}
	inv, ok := b.rope[key]
	if !ok {
		inv = tensor.RopeInvFreq(rotDims, theta)
		b.rope[key] = inv
	}
	return inv
}

func (b *Backend) ReLU2(x backend.Tensor) {
	xs := x.(*Tensor).f32
	b.pool.Run(len(xs), 1<<14, func(_, lo, hi int) { tensor.ReLU2(xs[lo:hi]) })
}

func (b *Backend) Add(dst, x backend.Tensor) {
	ds, xs := dst.(*Tensor).f32, x.(*Tensor).f32
	if len(ds) != len(xs) {
		panic("cpu: add shapes")
	}
	b.pool.Run(len(xs), 1<<14, func(_, lo, hi int) { tensor.Add(ds[lo:hi], xs[lo:hi]) })
}

func (b *Backend) Embed(dst, table backend.Tensor, ids []int32) {
	d, t := dst.(*Tensor), table.(*Tensor)
	c := t.cols()
	if d.rows() != len(ids) || d.cols() != c {
		panic("cpu: embed shapes")
	}
	for i, id := range ids {
		out := d.f32[i*c : (i+1)*c]
		lo, hi := int(id)*c, int(id+1)*c
		switch t.dt {
		case tensor.F32:
			copy(out, t.f32[lo:hi])
		case tensor.BF16:
			tensor.BF16ToF32(out, t.u16[lo:hi])
		case tensor.F16:
			tensor.F16ToF32(out, t.u16[lo:hi])
		}
	}
}
