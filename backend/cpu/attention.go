package cpu

import (
	"fmt"
	"math"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// gemmAttentionRows is the prompt length from which attention runs on the matrix kernels.
const gemmAttentionRows = 16

// Attention computes causal attention of q over the cache (see backend.Backend). A few new
// positions (decoding) take one dot product per cached key; a prompt runs on the panel
// kernels, which multiply a block of queries by eight keys at a time.
func (b *Backend) Attention(dst, q, k, v backend.Tensor, heads, kvHeads, pos0 int) {
	d, qt, kt, vt := dst.(*Tensor), q.(*Tensor), k.(*Tensor), v.(*Tensor)
	n, qc := qt.rows(), qt.cols()
	headDim := qc / heads
	kvc := kvHeads * headDim
	if qc != heads*headDim || heads%kvHeads != 0 || kt.cols() != kvc || vt.cols() != kvc || kt.rows() < pos0+n || vt.rows() < pos0+n || len(d.f32) != len(qt.f32) || kt.dt != vt.dt {
		panic(fmt.Sprintf("cpu: attention of %s over %s with %d/%d heads", tensor.ShapeString(qt.shape), tensor.ShapeString(kt.shape), heads, kvHeads))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a := attention{
		q: qt.f32, k: kt.f32, v: vt.f32, out: d.f32,
		n: n, pos0: pos0, heads: heads, group: heads / kvHeads, headDim: headDim, qc: qc, kvc: kvc,
		scale: float32(1 / math.Sqrt(float64(headDim))),
	}
	switch {
	case n < gemmAttentionRows:
		if kt.dt != tensor.F32 { // each key and value widened as it is read
			a.kb, a.vb, a.kvdt = kt.u16, vt.u16, kt.dt
		}
		b.attendRows(&a)
	default:
		if kt.dt != tensor.F32 { // a prompt's attention is bound by arithmetic: widen it all
			seen := (pos0 + n) * kvc
			w := growF32(&b.kvw, 2*seen)
			a.k, a.v = w[:seen], w[seen:]
			widen(b.kernels, a.k, kt, seen)
			widen(b.kernels, a.v, vt, seen)
		}
		b.attendPanels(&a)
	}
}

type attention struct {
	q, k, v, out []float32
	kb, vb       []uint16     // the caches instead of k and v, when BF16 or F16 (rows only)
	kvdt         tensor.DType // theirs
	n, pos0      int
	heads, group int // query heads, and how many share a KV head
	headDim      int
	qc, kvc      int // row widths of q and of the caches
	scale        float32
}

// attendRows gives each (query row, head) a task: scores by dot products with every key it
// sees, softmax, then the weighted sum of values.
func (b *Backend) attendRows(a *attention) {
	b.tasks.rows = attnRowsTask{b: b, a: *a}
	b.pool.Run(a.n*a.heads, 1, &b.tasks.rows)
}

type attnRowsTask struct {
	b *Backend
	a attention
}

func (t *attnRowsTask) run(worker, lo, hi int) {
	a, kn, hd := &t.a, t.b.kernels, t.a.headDim
	if a.kb != nil {
		t.runHalf(worker, lo, hi)
		return
	}
	for task := lo; task < hi; task++ {
		i, h := task/a.heads, task%a.heads
		seen := a.pos0 + i + 1
		scores := t.b.scratchFor(worker, seen)
		qh := a.q[i*a.qc+h*hd : i*a.qc+(h+1)*hd]
		off := (h / a.group) * hd
		kn.Dots(scores, qh, a.k[off:], a.kvc, a.scale)
		kn.Softmax(scores)
		out := a.out[i*a.qc+h*hd : i*a.qc+(h+1)*hd]
		clear(out)
		for j, p := range scores {
			kn.Axpy(p, a.v[j*a.kvc+off:j*a.kvc+off+hd], out)
		}
	}
}

// runHalf is run over BF16 or F16 caches: each key and value is widened into scratch before
// it is used, the arithmetic of attendPanels over a cache widened whole.
func (t *attnRowsTask) runHalf(worker, lo, hi int) {
	a, kn, hd := &t.a, t.b.kernels, t.a.headDim
	wide := kn.BF16ToF32
	if a.kvdt == tensor.F16 {
		wide = kn.F16ToF32
	}
	for task := lo; task < hi; task++ {
		i, h := task/a.heads, task%a.heads
		seen := a.pos0 + i + 1
		buf := t.b.scratchFor(worker, seen+hd)
		scores, row := buf[:seen], buf[seen:]
		qh := a.q[i*a.qc+h*hd : i*a.qc+(h+1)*hd]
		off := (h / a.group) * hd
		for j := range seen {
			wide(row, a.kb[j*a.kvc+off:j*a.kvc+off+hd])
			scores[j] = kn.Dot(qh, row) * a.scale
		}
		kn.Softmax(scores)
		out := a.out[i*a.qc+h*hd : i*a.qc+(h+1)*hd]
		clear(out)
		for j, p := range scores {
			wide(row, a.vb[j*a.kvc+off:j*a.kvc+off+hd])
			kn.Axpy(p, row, out)
		}
	}
}

// attendPanels computes attention for blocks of GemmRows queries of one head at a time.
// The probabilities, transposed (st[j·R+i] for key j and query i), are the packed panel
// that the GEMM multiplies by the values, first transposed per KV head (vt[d][j]) so that
// they can play the weights' part.
func (b *Backend) attendPanels(a *attention) {
	hd, seenAll := a.headDim, a.pos0+a.n
	vt := &b.tasks.vt
	*vt = vtTask{kn: b.kernels, a: *a, vt: growF32(&b.vt, (a.heads/a.group)*hd*seenAll)}
	b.pool.Run(a.heads/a.group, 1, vt)

	pt := &b.tasks.panel
	*pt = attnPanelTask{b: b, a: *a, vt: vt.vt}
	R := b.kernels.GemmRows
	b.pool.Run((a.n+R-1)/R*a.heads, 1, pt)
}

// vtTask transposes the value cache of each KV head.
type vtTask struct {
	kn *tensor.Kernels
	a  attention
	vt []float32
}

func (t *vtTask) run(_, lo, hi int) {
	a, hd, seenAll := &t.a, t.a.headDim, t.a.pos0+t.a.n
	for g := lo; g < hi; g++ {
		t.kn.Transpose(t.vt[g*hd*seenAll:], seenAll, a.v[g*hd:], a.kvc, hd, seenAll)
	}
}

type attnPanelTask struct {
	b  *Backend
	a  attention
	vt []float32
}

func (t *attnPanelTask) run(worker, lo, hi int) {
	a, kn, hd := &t.a, t.b.kernels, t.a.headDim
	R, C := kn.GemmRows, kn.GemmCols
	seenAll := a.pos0 + a.n
	ws := &t.b.workers[worker]
	for task := lo; task < hi; task++ {
		blk, h := task/a.heads, task%a.heads
		i0 := blk * R
		rows := min(R, a.n-i0)
		seen := a.pos0 + i0 + rows // keys the last query of the block sees
		g := h / a.group

		// Scores by the dot products decoding takes (attendRows), so that a query's
		// probabilities do not depend on how many rows share its pass: four queries at a time
		// where the kernels can (each key read once for the four), over the keys the last of
		// them sees. Then the softmax of each query's scores over the keys it may see, the
		// rest zero (a score past them is dropped).
		rowsT := growF32(&ws.attn, R*seen)
		query := func(i int) []float32 { return a.q[(i0+i)*a.qc+h*hd:][:hd] }
		visible := func(i int) int { return a.pos0 + i0 + i + 1 }
		keys := a.k[g*hd:]
		i := 0
		if kn.Dots4 != nil {
			for ; i+4 <= rows; i += 4 {
				v := visible(i + 3)
				kn.Dots4([4][]float32{rowsT[i*seen:][:v], rowsT[(i+1)*seen:][:v], rowsT[(i+2)*seen:][:v], rowsT[(i+3)*seen:][:v]},
					[4][]float32{query(i), query(i + 1), query(i + 2), query(i + 3)}, keys, a.kvc, a.scale)
			}
		}
		for ; i < rows; i++ {
			kn.Dots(rowsT[i*seen:][:visible(i)], query(i), keys, a.kvc, a.scale)
		}
		for i := range R {
			row, v := rowsT[i*seen:(i+1)*seen], 0
			if i < rows {
				v = visible(i)
			}
			kn.Softmax(row[:v])
			clear(row[v:])
		}
		st := growF32(&ws.scores, seen*R)
		kn.Transpose(st, R, rowsT, seen, seen, R)

		// out[i][d] = Σ_j P[i][j]·V[j][d], with st as the panel and vt's rows as weights: each
		// output the chain of fused multiply-adds over j that attendRows's Axpy runs (a key a
		// query may not see adds P = 0 exactly).
		tile := growF32(&ws.tile, hd*R)
		vg := t.vt[g*hd*seenAll:]
		for d0 := 0; d0 < hd; d0 += C {
			kn.GemmF32(tile[d0*R:], st, vg[d0*seenAll:], seenAll, seen, min(C, hd-d0), false)
		}
		kn.Transpose(a.out[i0*a.qc+h*hd:], a.qc, tile, R, rows, hd)
	}
}

// copyRows writes the rows of s into d from element at on: as they are when the dtypes
// match, else F32 rounded to d's BF16 or F16 (nearest even), as a KV cache takes new rows.
func copyRows(kn *tensor.Kernels, d *Tensor, at int, s *Tensor) {
	if s.dt == d.dt && d.dt != tensor.F32 {
		copy(d.u16[at:], s.u16)
		return
	}
	storeRow(kn, d, at, s.f32)
}

// storeRow writes float32 values into d from element at on, rounded to nearest even for a
// BF16 or F16 d.
func storeRow(kn *tensor.Kernels, d *Tensor, at int, s []float32) {
	switch d.dt {
	case tensor.F32:
		copy(d.f32[at:at+len(s)], s)
	case tensor.BF16:
		kn.F32ToBF16(d.u16[at:at+len(s)], s)
	default:
		dst := d.u16[at : at+len(s)]
		for i, v := range s {
			dst[i] = tensor.Float32ToF16(v)
		}
	}
}

// widen writes the first n values of a BF16 or F16 cache into dst as F32.
func widen(kn *tensor.Kernels, dst []float32, t *Tensor, n int) {
	if t.dt == tensor.BF16 {
		kn.BF16ToF32(dst[:n], t.u16[:n])
	} else {
		kn.F16ToF32(dst[:n], t.u16[:n])
	}
}
