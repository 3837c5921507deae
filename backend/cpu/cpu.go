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

// Tensor is a CPU tensor. Exactly one of f32, u16 and q holds its elements.
type Tensor struct {
	dt    tensor.DType
	shape []int
	f32   []float32
	u16   []uint16 // BF16 or F16 weights, often a view of a memory-mapped file
	// packed: u16 holds a bf16 matrix packed (packed.go), its rows padded to whole groups.
	packed bool
	q      []byte // weights in a block dtype (Q8_0, Q4_K, …): whole rows of blocks, often a view
	// parts: a stack of matrices of several dtypes (Upload), each multiplied by its kernels.
	parts  []*Tensor
	copied bool // Upload copied the host data (stacked it, or packed it)
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
	packing bool // bf16 matrices are packed as they are uploaded
	// bf16Gemm: fast precision's prefill rounds x to bf16 for the bf16 GEMM, where that
	// multiplies faster than widening w for the float32 one (tensor.BF16GemmFaster).
	bf16Gemm bool
	kblock   int // packedKBlock for this CPU's L2
	pool     *pool
	// mu makes each operation whole: States on several goroutines share the scratch below.
	mu      sync.Mutex
	workers []workerScratch
	xp      []float32 // x packed into panels
	xb      []uint16  // x rounded to bf16 (fast mode), plain or packed
	q8      q8Scratch // x quantized to int8 blocks (fast mode, block-dtype weights)
	prod    []float32 // a product on its way to dst (MatMulAdd)
	partOut []float32 // one part's product, for a stack of several dtypes
	tasks   struct {  // the work of the operation under way, for the pool
		norm  normTask
		rope  ropeTask
		elem  elemTask
		gemv  gemvTask
		pack  packTask
		gemm  gemmTask
		rows  attnRowsTask
		vt    vtTask
		panel attnPanelTask

		packedGemv packedGemvTask
		packedGemm packedGemmTask
	}
	vt     []float32 // the value cache transposed, for attention on panels
	kvw    []float32 // a BF16 or F16 cache widened, for attention on panels
	ropeMu sync.Mutex
	rope   map[ropeKey][]float32
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
	b.packing = packingWanted(b.kernels, opts.Precision)
	b.kblock = packedKBlock(tensor.HostCPU().L2)
	b.bf16Gemm = opts.Precision == backend.Fast && tensor.BF16GemmFaster(b.kernels)
	return b, nil
}

func (b *Backend) Name() string {
	gemm := ""
	if b.opts.Precision == backend.Fast && b.kernels.GemmBF16 != nil && !b.bf16Gemm {
		gemm = " (float32 GEMM)"
	}
	return fmt.Sprintf("cpu/%s %s%s, %d threads", b.kernels.Level, b.opts.Precision, gemm, b.opts.Threads)
}

func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

func (b *Backend) Sync() error { return nil }

// Upload keeps 2-D weights as views of the host data, in their dtype: F32, F16, a block dtype
// (Q8_0, Q4_K, Q5_K, Q6_K), which MatMul multiplies by and Embed dequantizes as it reads, or
// BF16, whose matrices it packs (packed.go), a copy. Vectors (norm weights and biases) are
// small and used in float32 arithmetic, so they are widened (or dequantized) once here.
//
// Matrices of one dtype stacked are copied into one; of several dtypes (a quantization mix
// that keeps Wv at more bits than Wq), each keeps its own kernels and the product runs part
// by part.
func (b *Backend) Upload(parts ...tensor.Host) (backend.Tensor, error) {
	if len(parts) == 1 {
		return b.upload(parts[0])
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("cpu upload: no tensor")
	}
	if h, err := tensor.StackRows(parts...); err == nil {
		t, err := b.upload(h)
		if err != nil {
			return nil, err
		}
		t.copied = true
		return t, nil
	}
	s := &Tensor{dt: parts[0].DType, copied: true}
	rows := 0
	for _, h := range parts {
		if len(h.Shape) != 2 || h.Shape[1] != parts[0].Shape[1] {
			return nil, fmt.Errorf("cpu upload: stacking %s%s under %s%s: matrices of one width are stacked",
				h.DType, tensor.ShapeString(h.Shape), parts[0].DType, tensor.ShapeString(parts[0].Shape))
		}
		t, err := b.upload(h)
		if err != nil {
			return nil, err
		}
		s.parts = append(s.parts, t)
		s.copied = s.copied && t.copied
		rows += h.Shape[0]
	}
	s.shape = []int{rows, parts[0].Shape[1]}
	return s, nil
}

func (b *Backend) upload(h tensor.Host) (*Tensor, error) {
	if !h.DType.IsFloat() && !h.DType.Quantized() {
		return nil, fmt.Errorf("cpu upload: %s tensors are not supported (want F32, F16, BF16 or a block format)", h.DType)
	}
	if h.DType.Quantized() && (len(h.Shape) == 0 || h.Shape[len(h.Shape)-1]%h.DType.BlockSize() != 0) {
		return nil, fmt.Errorf("cpu upload: %s%s: rows must be whole blocks of %d", h.DType, tensor.ShapeString(h.Shape), h.DType.BlockSize())
	}
	if len(h.Data) != h.DType.Bytes(h.Len()) {
		return nil, fmt.Errorf("cpu upload: %d bytes for %s%s", len(h.Data), h.DType, tensor.ShapeString(h.Shape))
	}
	t := &Tensor{dt: h.DType, shape: append([]int(nil), h.Shape...)}
	switch {
	case h.DType == tensor.F32:
		t.f32 = h.F32()
	case len(h.Shape) <= 1:
		t.dt, t.f32 = tensor.F32, h.ToF32()
	case b.packing && h.DType == tensor.BF16 && len(h.Shape) == 2 && h.Shape[1]%2 == 0 && h.Len() > 0:
		if err := packBF16(t, h.U16(), h.Shape[0], h.Shape[1], b.opts.Threads); err != nil {
			return nil, err
		}
		t.copied = true
	case h.DType.Quantized():
		t.q = h.Data
	default:
		t.u16 = h.U16()
	}
	return t, nil
}

// Copied reports whether Upload copied t's data, as it does a packed matrix or a stack
// (backend.Copies).
func (b *Backend) Copied(t backend.Tensor) bool { return t.(*Tensor).copied }

// KeepsQuantized reports that Upload keeps a block dtype's bytes and MatMul multiplies by
// them (backend.QuantizedWeights).
func (b *Backend) KeepsQuantized(dt tensor.DType) bool { return dt.Quantized() }

// Alloc allocates F32 activations; weights in other dtypes (a block dtype included) come
// only through Upload.
func (b *Backend) Alloc(dt tensor.DType, shape ...int) (backend.Tensor, error) {
	if dt != tensor.F32 && dt != tensor.BF16 && dt != tensor.F16 {
		return nil, fmt.Errorf("cpu backend: cannot allocate %s activations", dt)
	}
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("cpu backend: negative shape %v", shape)
		}
	}
	t := &Tensor{dt: dt, shape: append([]int(nil), shape...)}
	if dt == tensor.F32 {
		t.f32 = make([]float32, tensor.NumElements(shape))
	} else { // a KV cache (KVCacheTypes)
		t.u16 = make([]uint16, tensor.NumElements(shape))
	}
	return t, nil
}

func (b *Backend) Free(backend.Tensor) {}

func (b *Backend) Rows(bt backend.Tensor, lo, hi int) backend.Tensor {
	t := bt.(*Tensor)
	if t.packed || t.parts != nil {
		panic("cpu: rows of a packed or stacked matrix")
	}
	if lo < 0 || hi < lo || hi > t.rows() {
		panic(fmt.Sprintf("cpu: rows [%d, %d) of a %s tensor", lo, hi, tensor.ShapeString(t.shape)))
	}
	c := t.cols()
	v := &Tensor{dt: t.dt, shape: append([]int{hi - lo}, t.shape[1:]...)}
	switch {
	case t.f32 != nil:
		v.f32 = t.f32[lo*c : hi*c : hi*c]
	case t.q != nil:
		rb := t.dt.Bytes(c) // whole rows of blocks
		v.q = t.q[lo*rb : hi*rb : hi*rb]
	default:
		v.u16 = t.u16[lo*c : hi*c : hi*c]
	}
	return v
}

// Argmax is tensor.Argmax of each row of t (backend.Argmaxer).
func (b *Backend) Argmax(dst []int32, bt backend.Tensor) error {
	t := bt.(*Tensor)
	rows := 1
	if len(t.shape) > 1 {
		rows = t.rows()
	}
	if t.f32 == nil || len(t.f32) == 0 || rows != len(dst) {
		return fmt.Errorf("cpu: argmax of the %d rows of %s%s into %d", rows, t.dt, tensor.ShapeString(t.shape), len(dst))
	}
	c := len(t.f32) / rows
	for i := range dst {
		dst[i] = int32(tensor.Argmax(t.f32[i*c : (i+1)*c]))
	}
	return nil
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

func (b *Backend) Copy(dst backend.Tensor, row0 int, src backend.Tensor) {
	d, s := dst.(*Tensor), src.(*Tensor)
	c := d.cols()
	if s.cols() != c || row0 < 0 || row0+s.rows() > d.rows() || !(s.dt == tensor.F32 || s.dt == d.dt) {
		panic(fmt.Sprintf("cpu: copy of %s %s into rows %d… of %s %s", s.dt, tensor.ShapeString(s.shape), row0, d.dt, tensor.ShapeString(d.shape)))
	}
	copyRows(b.kernels, d, row0*c, s)
}

// KVCacheTypes: the CPU backend stores KV caches in F32, BF16 or F16.
func (b *Backend) KVCacheTypes() []tensor.DType {
	return []tensor.DType{tensor.F32, tensor.BF16, tensor.F16}
}

// scratchFor returns a worker's attention scratch of n floats, kept between calls.
func (b *Backend) scratchFor(worker, n int) []float32 { return growF32(&b.workers[worker].attn, n) }

func (b *Backend) LayerNorm1P(dst, x, weight, bias backend.Tensor, eps float32) {
	d, xt, w, bs := dst.(*Tensor), x.(*Tensor), weight.(*Tensor), bias.(*Tensor)
	c := xt.cols()
	if len(w.f32) != c || len(bs.f32) != c || len(d.f32) != len(xt.f32) {
		panic("cpu: layernorm shapes")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tasks.norm = normTask{kn: b.kernels, dst: d.f32, x: xt.f32, w: w.f32, b: bs.f32, eps: eps, c: c}
	b.pool.Run(xt.rows(), 4, &b.tasks.norm)
}

type normTask struct {
	kn           *tensor.Kernels
	dst, x, w, b []float32
	eps          float32
	c            int
}

func (t *normTask) run(_, lo, hi int) {
	for r := lo; r < hi; r++ {
		t.kn.LayerNorm1P(t.dst[r*t.c:(r+1)*t.c], t.x[r*t.c:(r+1)*t.c], t.w, t.b, t.eps)
	}
}

func (b *Backend) RotaryKV(q, k, v, qkv backend.Tensor, pos0 int, r backend.Rope) {
	qt, kc, vc, src := q.(*Tensor), k.(*Tensor), v.(*Tensor), qkv.(*Tensor)
	qd, kvd := r.Heads*r.HeadDim, r.KVHeads*r.HeadDim
	n := src.rows()
	if src.cols() != qd+2*kvd || qt.cols() != qd || qt.rows() != n || kc.cols() != kvd || vc.cols() != kvd ||
		kc.dt != vc.dt || pos0 < 0 || pos0+n > kc.rows() || pos0+n > vc.rows() || r.Dims > r.HeadDim || r.Dims%2 != 0 {
		panic(fmt.Sprintf("cpu: rotary of %s into %s and rows %d… of %s %s caches", tensor.ShapeString(src.shape), tensor.ShapeString(qt.shape), pos0, kc.dt, tensor.ShapeString(kc.shape)))
	}
	inv := b.invFreq(r.Dims, r.Theta)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tasks.rope = ropeTask{b: b, q: qt.f32, qkv: src.f32, k: kc, v: vc, inv: inv, r: r, pos0: pos0}
	b.pool.Run(n, 1, &b.tasks.rope)
}

type ropeTask struct {
	b      *Backend
	q, qkv []float32
	k, v   *Tensor
	inv    []float32
	r      backend.Rope
	pos0   int
}

func (t *ropeTask) run(worker, lo, hi int) {
	kn, hd, half := t.b.kernels, t.r.HeadDim, len(t.inv)
	qd, kvd := t.r.Heads*hd, t.r.KVHeads*hd
	cs := t.b.scratchFor(worker, 2*half+kvd)
	cos, sin, keys := cs[:half], cs[half:2*half], cs[2*half:]
	for r := lo; r < hi; r++ {
		tensor.RopeAngles(cos, sin, t.inv, t.pos0+r)
		row := t.qkv[r*(qd+2*kvd) : (r+1)*(qd+2*kvd)]
		q := t.q[r*qd : (r+1)*qd]
		copy(q, row[:qd])
		for h := range t.r.Heads {
			kn.RotateHalf(q[h*hd:(h+1)*hd], cos, sin)
		}
		copy(keys, row[qd:qd+kvd])
		for h := range t.r.KVHeads {
			kn.RotateHalf(keys[h*hd:(h+1)*hd], cos, sin)
		}
		at := (t.pos0 + r) * kvd
		storeRow(kn, t.k, at, keys)
		storeRow(kn, t.v, at, row[qd+kvd:])
	}
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

// relu2 squares the positive part of x in place. Callers hold b.mu.
func (b *Backend) relu2(x []float32) {
	b.tasks.elem = elemTask{kn: b.kernels, x: x}
	b.pool.Run(len(x), 1<<14, &b.tasks.elem)
}

// add computes dst += x. Callers hold b.mu.
func (b *Backend) add(dst, x []float32) {
	b.tasks.elem = elemTask{kn: b.kernels, dst: dst, x: x}
	b.pool.Run(len(x), 1<<14, &b.tasks.elem)
}

// elemTask is an element-wise op: dst += x when dst is set, x = relu(x)² otherwise.
type elemTask struct {
	kn     *tensor.Kernels
	dst, x []float32
}

func (t *elemTask) run(_, lo, hi int) {
	if t.dst != nil {
		t.kn.Add(t.dst[lo:hi], t.x[lo:hi])
	} else {
		t.kn.ReLU2(t.x[lo:hi])
	}
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
		if t.packed {
			embedPacked(out, t, int(id))
			continue
		}
		switch t.dt {
		case tensor.F32:
			copy(out, t.f32[lo:hi])
		case tensor.BF16:
			tensor.BF16ToF32(out, t.u16[lo:hi])
		case tensor.F16:
			tensor.F16ToF32(out, t.u16[lo:hi])
		default: // a block dtype: the row's blocks, dequantized
			rb := t.dt.Bytes(c)
			tensor.Dequantize(out, t.dt, t.q[int(id)*rb:int(id+1)*rb])
		}
	}
}
