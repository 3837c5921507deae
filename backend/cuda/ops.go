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

type ropeKey struct {
	rotDims int
	theta   float64
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

func (b *Backend) RotaryKV(q, k, v, qkv backend.Tensor, pos0 int, r backend.Rope) {
	qt, src := b.f32(q, "rotary q"), b.f32(qkv, "rotary qkv")
	kc, vc := b.kv(k, "rotary k cache"), b.kv(v, "rotary v cache")
	hd, qd, kvd := r.HeadDim, r.Heads*r.HeadDim, r.KVHeads*r.HeadDim
	n := src.rows()
	if r.Heads < 0 || r.KVHeads < 0 || hd < 0 || src.cols() != qd+2*kvd || qt.cols() != qd || qt.rows() != n ||
		kc.cols() != kvd || vc.cols() != kvd || kc.dt != vc.dt || r.Dims > hd || r.Dims < 0 || r.Dims%2 != 0 ||
		pos0 < 0 || pos0+n > kc.rows() || pos0+n > vc.rows() {
		panic(fmt.Sprintf("cuda: rotary of %s into %s and rows %d… of %s %s caches", tensor.ShapeString(src.shape), tensor.ShapeString(qt.shape), pos0, kc.dt, tensor.ShapeString(kc.shape)))
	}
	half := r.Dims / 2
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || n == 0 || src.cols() == 0 {
		return
	}
	var inv C.mt_ptr
	if half > 0 {
		if inv = b.invFreq(r.Dims, r.Theta); inv == 0 {
			return
		}
	}
	kern := kRotaryKV
	if kc.dt == tensor.BF16 {
		kern = kRotaryKVBF16
	}
	b.args.reset().ptr(qt.ptr).ptr(kc.at(pos0 * kvd)).ptr(vc.at(pos0 * kvd)).ptr(src.ptr).ptr(inv).
		i32(n).i32(r.Heads).i32(r.KVHeads).i32(hd).i32(half).i32(pos0)
	b.launch(kern, b.gridFor(n*(r.Heads+2*r.KVHeads)*hd), 1, blockThreads)
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
	b.flush()
	if !b.note("cuMemcpyHtoD_v2", C.mt_htod(b.dev, p, unsafe.Pointer(&inv[0]), C.size_t(4*len(inv)))) {
		b.free(p)
		return 0
	}
	b.rope[key] = p
	return p
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
	d, s := b.kv(dst, "copy dst"), b.kv(src, "copy src")
	c := d.cols()
	if s.cols() != c || row0 < 0 || row0+s.rows() > d.rows() || s.dt != d.dt && s.dt != tensor.F32 {
		panic(fmt.Sprintf("cuda: copy of %s %s into rows %d… of %s %s", s.dt, tensor.ShapeString(s.shape), row0, d.dt, tensor.ShapeString(d.shape)))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ready() || s.len() == 0 {
		return
	}
	if s.dt != d.dt { // F32 rows into a BF16 cache, rounded to nearest even
		b.args.reset().ptr(d.at(row0 * c)).ptr(s.ptr).i64(s.len())
		b.launch(kRoundBF16, b.gridFor(s.len()), 1, blockThreads)
		return
	}
	if s.dt == tensor.F32 { // a kernel, not a copy: it stays on the tape, in a decode step's graph
		b.args.reset().ptr(d.at(row0 * c)).ptr(s.ptr).i64(s.len())
		b.launch(kCopyF32, b.gridFor(s.len()), 1, blockThreads)
		return
	}
	b.flush()
	b.note("cuMemcpyDtoDAsync_v2", C.mt_dtod(b.dev, d.at(row0*c), s.ptr, C.size_t(s.len()*s.dt.Size())))
}
