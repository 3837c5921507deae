//go:build linux && cgo

package cuda

import (
	"fmt"
	"math"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

func (b *Backend) Attention(dst, q, k, v backend.Tensor, heads, kvHeads, pos0 int) {
	d, qt := b.f32(dst, "attention dst"), b.f32(q, "attention q")
	kt, vt := b.kv(k, "attention k"), b.kv(v, "attention v")
	if kt.dt != vt.dt {
		panic(fmt.Sprintf("cuda: attention over %s keys and %s values", kt.dt, vt.dt))
	}
	plain, tiledK := kAttention, kAttentionTiled
	if kt.dt == tensor.BF16 {
		plain, tiledK = kAttentionBF16, kAttentionTiledBF16
	}
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
		b.launch(tiledK, ceilDiv(n, perBlock), kvHeads, attThreads)
		return
	}
	splits, chunk := attentionSplits(n, heads, kvHeads, pos0, b.sms)
	if b.forceSplits > 0 {
		chunk = ceilDiv(pos0+n, b.forceSplits)
		splits = ceilDiv(pos0+n, chunk)
	}
	if splits > 1 && !b.grow(&b.part, 4*n*heads*splits*(headDim+2), "attention partials") {
		return
	}
	b.args.reset().ptr(d.ptr).ptr(b.part.ptr).ptr(qt.ptr).ptr(kt.ptr).ptr(vt.ptr).
		i32(heads).i32(kvHeads).i32(headDim).i32(pos0).i32(chunk).f32(scale)
	b.launch(plain, attentionBlocks(n, heads, kvHeads), splits, attThreads)
	if splits > 1 {
		b.args.reset().ptr(d.ptr).ptr(b.part.ptr).i32(heads).i32(headDim).i32(splits)
		b.launch(kAttentionCombine, n*heads, 1, ceilDiv(headDim, 32)*32)
	}
}
