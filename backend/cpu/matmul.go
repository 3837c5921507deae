package cpu

import (
	"fmt"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// gemmMinRows is where matrix-matrix products take over from repeated matrix-vector ones.
// The GEMM's panels are GemmRows (48) rows of x, so a product of a few rows costs as much
// arithmetic as one of 48; below gemmMinRows the matrix-vector kernels run once per row of
// x over a block of w that stays in L2 (gemvBlockBytes), which reads w from memory once and
// then costs about one pass over L2 a row. On the AMD Zen 4 (exact precision, Minitron-4B,
// 2 threads) decoding in batches of 4, 8 and 16 ran at 1.6, 3.5 and 7.1 tokens/s in all on
// the GEMM, against 4.3 for one sequence; on the matrix-vector kernels batches of 4 and 8
// ran at 7.9 and 12.8 (78 ms a row a step), where 16 rows of GEMM took 2.3 s a step: the
// two cost the same near 30 rows.
const gemmMinRows = 32

// gemvBlockBytes bounds the block of w that the rows of x take turns over: well inside a
// 1–2 MiB L2, so that w is read from memory once, then from L2.
const gemvBlockBytes = 256 << 10

// MatMul computes dst[n,m] = x[n,k]·w[m,k]ᵀ.
//
// Decoding (n < gemmMinRows) is bound by reading w: its rows are split across workers, each
// streaming its own block once for every row of x. Prefill packs x into panels and runs the
// register-blocked kernels over blocks of w rows, transposed tiles scattered into dst.
//
// Weights in a block dtype (Q8_0, Q4_K, …) take the same two paths. Decoding, exact precision
// multiplies float32 x by the dequantized weights (tensor.Kernels.GemvQ8_0, …), and fast
// precision quantizes each row of x once per product to int8 blocks (tensor.Q8Act) for the
// integer kernels (GemvQ8_0Q8, …), as llama.cpp does. Prefill dequantizes each k-block of a
// chunk's w rows once into scratch and runs the float kernels on it: float32 (GemmF32) in
// exact precision, rounded to bf16 for GemmBF16 (x rounded to bf16 too) in fast precision
// where the CPU multiplies bf16 faster (Backend.bf16Gemm). Prefill is compute-bound: a weight
// dequantized once per product meets every row of x, so the conversion costs little per
// multiply-add.
func (b *Backend) MatMul(dst, x, w backend.Tensor) {
	d, xt, wt := b.checkMatMul(dst, x, w)
	n, k, m := xt.rows(), xt.cols(), wt.rows()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.matmul(d.f32, xt.f32, wt, n, k, m)
}

// MatMulAdd computes dst += x·wᵀ: the product into scratch, then added.
func (b *Backend) MatMulAdd(dst, x, w backend.Tensor) {
	d, xt, wt := b.checkMatMul(dst, x, w)
	n, k, m := xt.rows(), xt.cols(), wt.rows()
	b.mu.Lock()
	defer b.mu.Unlock()
	p := growF32(&b.prod, n*m)
	b.matmul(p, xt.f32, wt, n, k, m)
	b.add(d.f32, p)
}

// MatMulReLU2 computes dst = relu(x·wᵀ)².
func (b *Backend) MatMulReLU2(dst, x, w backend.Tensor) {
	d, xt, wt := b.checkMatMul(dst, x, w)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.matmul(d.f32, xt.f32, wt, xt.rows(), xt.cols(), wt.rows())
	b.relu2(d.f32)
}

func (b *Backend) checkMatMul(dst, x, w backend.Tensor) (d, xt, wt *Tensor) {
	d, xt, wt = dst.(*Tensor), x.(*Tensor), w.(*Tensor)
	n, k, m := xt.rows(), xt.cols(), wt.rows()
	if wt.cols() != k || d.rows() != n || d.cols() != m || len(wt.shape) != 2 {
		panic(fmt.Sprintf("cpu: matmul %s · %sᵀ → %s", tensor.ShapeString(xt.shape), tensor.ShapeString(wt.shape), tensor.ShapeString(d.shape)))
	}
	return d, xt, wt
}

// matmul is MatMul on slices. Callers hold b.mu.
func (b *Backend) matmul(ds, xs []float32, wt *Tensor, n, k, m int) {
	switch {
	case wt.parts != nil:
		b.matmulParts(ds, xs, wt, n, k, m)
	case wt.packed:
		b.matmulPacked(ds, xs, wt, n, k, m)
	case n < gemmMinRows:
		b.gemv(ds, xs, wt, n, k, m)
	default:
		b.gemm(ds, xs, wt, n, k, m)
	}
}

// matmulParts multiplies by a stack of matrices of several dtypes, part by part: straight
// into a row of dst for one row of x, through scratch for more (a part's columns of dst are
// not contiguous then).
func (b *Backend) matmulParts(ds, xs []float32, wt *Tensor, n, k, m int) {
	off := 0
	for _, p := range wt.parts {
		mp := p.rows()
		if n == 1 {
			b.matmul(ds[off:off+mp], xs, p, 1, k, mp)
		} else {
			out := growF32(&b.partOut, n*mp)
			b.matmul(out, xs, p, n, k, mp)
			for i := range n {
				copy(ds[i*m+off:i*m+off+mp], out[i*mp:(i+1)*mp])
			}
		}
		off += mp
	}
}

func (b *Backend) gemv(ds, xs []float32, wt *Tensor, n, k, m int) {
	kn := b.kernels
	t := &b.tasks.gemv
	*t = gemvTask{kn: kn, ds: ds, xs: xs, w: wt, n: n, k: k, m: m}
	switch {
	case wt.dt.Quantized():
		t.exactQ, t.fastQ = kn.GemvQuant(wt.dt)
		if b.opts.Precision == backend.Fast {
			t.acts = b.q8Acts(n, k, tensor.ActBlock(wt.dt))
			for i := range t.acts {
				kn.QuantizeQ8Act(&t.acts[i], xs[i*k:(i+1)*k])
			}
		}
	case b.opts.Precision == backend.Fast && wt.dt == tensor.BF16 && kn.GemvBF16Fast != nil:
		t.xb = b.bf16Scratch(&b.xb, n*k)
		kn.F32ToBF16(t.xb, xs[:n*k])
	}
	// Blocks of rows small enough that workers finish together (a matmul waits for its
	// slowest worker, 224 times a token), large enough to amortise the hand-out.
	b.pool.Run(m, max(16, min(256, m/(b.opts.Threads*32))&^3), t)
}

type gemvTask struct {
	kn      *tensor.Kernels
	ds, xs  []float32
	xb      []uint16 // x rounded to bf16, in fast mode
	w       *Tensor
	n, k, m int
	// w in a block dtype: its kernels, and in fast mode the rows of x quantized
	exactQ func(dst []float32, w []byte, x []float32)
	fastQ  func(dst []float32, w []byte, a *tensor.Q8Act)
	acts   []tensor.Q8Act
}

func (t *gemvTask) run(_, lo, hi int) {
	// With several rows of x, each takes its turn over a block of w small enough to stay in
	// cache. A row's arithmetic does not depend on the blocks: each output is one kernel row.
	block := hi - lo
	if t.n > 1 {
		block = max(4, gemvBlockBytes/t.w.rowBytes()&^3)
	}
	for b0 := lo; b0 < hi; b0 += block {
		b1 := min(b0+block, hi)
		for i := range t.n {
			t.rows(i, b0, b1)
		}
	}
}

// rows computes dst[i, lo:hi] = x[i]·w[lo:hi]ᵀ.
func (t *gemvTask) rows(i, lo, hi int) {
	k, m, w := t.k, t.m, t.w
	out := t.ds[i*m+lo : i*m+hi]
	xi := t.xs[i*k : (i+1)*k]
	switch {
	case w.q != nil:
		rb := w.rowBytes()
		if t.acts != nil {
			t.fastQ(out, w.q[lo*rb:hi*rb], &t.acts[i])
		} else {
			t.exactQ(out, w.q[lo*rb:hi*rb], xi)
		}
	case t.xb != nil:
		t.kn.GemvBF16Fast(out, w.u16[lo*k:hi*k], t.xb[i*k:(i+1)*k])
	case w.dt == tensor.BF16:
		t.kn.GemvBF16(out, w.u16[lo*k:hi*k], xi)
	case w.dt == tensor.F16:
		t.kn.GemvF16(out, w.u16[lo*k:hi*k], xi)
	default:
		t.kn.GemvF32(out, w.f32[lo*k:hi*k], xi)
	}
}

// kBlock bounds the columns of one packed panel that a kernel call runs over, so that a
// panel block (GemmRows × kBlock floats) stays in L2 while blocks of w stream past it.
const kBlock = 2048

// roundsX says whether fast precision multiplies w by x rounded to bf16 in the float32 GEMM:
// for bf16 and block weights, where the bf16 GEMM would have rounded it, on a CPU where the
// float32 GEMM is the faster (Backend.bf16Gemm false).
func (b *Backend) roundsX(wt *Tensor, k int) bool {
	return b.opts.Precision == backend.Fast && b.kernels.GemmBF16 != nil && !b.bf16Gemm &&
		(wt.dt == tensor.BF16 && k%2 == 0 || wt.dt.Quantized())
}

func (b *Backend) gemm(ds, xs []float32, wt *Tensor, n, k, m int) {
	kn := b.kernels
	R, C := kn.GemmRows, kn.GemmCols
	panels := (n + R - 1) / R
	// x meets bf16 weights as bf16: rounded in fast mode; in exact mode on AMX, split into
	// three bf16 terms whose sum is x to float32 precision (8 significant bits each), every
	// product exact and summed in float32 by the tiles — float32 arithmetic, three tile
	// passes, still faster than float32 FMA. Elsewhere exact mode widens w to float32.
	terms := 0
	if wt.dt.Quantized() && b.bf16Gemm {
		terms = 1 // k is a whole number of blocks, so even
	}
	if wt.dt == tensor.BF16 && kn.GemmBF16 != nil && k%2 == 0 {
		switch {
		case b.bf16Gemm:
			terms = 1
		case kn.Level >= tensor.AMX:
			terms = 3
		}
	}

	// Pack x, a panel per task.
	pk := &b.tasks.pack
	*pk = packTask{kn: kn, xs: xs, n: n, k: k, terms: terms, round: terms == 0 && b.roundsX(wt, k)}
	if terms > 0 {
		pk.xpb = b.bf16Scratch(&b.xb, terms*panels*k*R)
		if terms > 1 {
			pk.rest = b.f32Scratch(&b.xp, 2*R*k*b.opts.Threads)
		}
	} else {
		pk.xp = b.f32Scratch(&b.xp, panels*k*R)
	}
	b.pool.Run(panels, 1, pk)

	// Each task takes a chunk of w's rows. For every k-block it widens that block of the chunk
	// once (exact mode) and multiplies it by every panel: each weight is read from memory and
	// converted once per matmul, while the transposed tiles of all panels accumulate.
	g := &b.tasks.gemm
	*g = gemmTask{b: b, ds: ds, xp: pk.xp, xpb: pk.xpb, w: wt, n: n, k: k, m: m, panels: panels, terms: terms}
	b.pool.Run(m, max(C, min(64, (m/(b.opts.Threads*4))/C*C)), g)
}

type packTask struct {
	kn     *tensor.Kernels
	xs, xp []float32
	xpb    []uint16
	rest   []float32 // per worker, two panels of residuals when x is split
	n, k   int
	terms  int // bf16 panels per panel of x: 0 (float32), 1 (rounded) or 3 (split)
	// round: float32 panels of x rounded to bf16 values, for fast precision where the
	// float32 GEMM multiplies faster than the bf16 one (the same products, exact in float32).
	round bool
}

func (t *packTask) run(worker, lo, hi int) {
	kn, R, k := t.kn, t.kn.GemmRows, t.k
	size := k * R
	for p := lo; p < hi; p++ {
		rows := min(R, t.n-p*R)
		x := t.xs[p*R*k:]
		switch t.terms {
		case 0:
			panel := t.xp[p*size : (p+1)*size]
			kn.PackF32(panel, x, k, rows, k)
			if t.round {
				var tmp [1024]uint16
				for i := 0; i < len(panel); i += len(tmp) {
					part := panel[i:min(len(panel), i+len(tmp))]
					kn.F32ToBF16(tmp[:len(part)], part)
					kn.BF16ToF32(part, tmp[:len(part)])
				}
			}
		case 1:
			kn.PackBF16(t.xpb[p*size:(p+1)*size], x, k, rows, k)
		default:
			// x = hi + mid + lo: each term is the bf16 rounding of what the ones before left.
			rest := t.rest[worker*2*size : (worker+1)*2*size]
			r1, r2 := rest[:size], rest[size:]
			panel := t.xpb[p*t.terms*size:]
			kn.PackBF16(panel[:size], x, k, rows, k)
			residual(kn, r1, x, rows, k, panel[size:2*size])
			kn.PackBF16(panel[size:2*size], r1, k, rows, k)
			residual(kn, r2, r1, rows, k, panel[2*size:3*size])
			kn.PackBF16(panel[2*size:3*size], r2, k, rows, k)
		}
	}
}

// residual writes x - widen(bf16(x)) for rows of k values into r, using tmp (k bf16 values,
// at least) as scratch.
func residual(kn *tensor.Kernels, r, x []float32, rows, k int, tmp []uint16) {
	for i := range rows {
		xi, ri := x[i*k:(i+1)*k], r[i*k:(i+1)*k]
		kn.F32ToBF16(tmp[:k], xi)
		kn.BF16ToF32(ri, tmp[:k])
		for j, v := range xi {
			ri[j] = v - ri[j] // exact: the rounding error of a float32 to bf16 is a float32
		}
	}
}

type gemmTask struct {
	b               *Backend
	ds, xp          []float32
	xpb             []uint16
	w               *Tensor
	n, k, m, panels int
	terms           int
}

func (t *gemmTask) run(worker, lo, hi int) {
	kn := t.b.kernels
	R, C := kn.GemmRows, kn.GemmCols
	k, w := t.k, t.w
	ws := &t.b.workers[worker]
	rowsW := hi - lo
	tiles := growF32(&ws.tile, t.panels*rowsW*R)
	kc := min(k, kBlock)
	convert := t.terms == 0 && w.dt != tensor.F32
	quant := w.dt.Quantized() // dequantized per k-block, for GemmF32 or (rounded) GemmBF16
	var wconv []float32
	var wbf []uint16
	if convert || quant {
		wconv = growF32(&ws.wconv, rowsW*kc)
	}
	if quant && t.terms > 0 {
		wbf = growU16(&ws.wbf, rowsW*kc)
	}
	size := k * R
	for k0 := 0; k0 < k; k0 += kc {
		kcur := min(kc, k-k0)
		switch {
		case quant:
			// kBlock is a whole number of blocks of every format, so each k-block is too.
			rb, b0, b1 := w.rowBytes(), w.dt.Bytes(k0), w.dt.Bytes(k0+kcur)
			for j := range rowsW {
				row := w.q[(lo+j)*rb:]
				kn.Dequantize(wconv[j*kcur:(j+1)*kcur], w.dt, row[b0:b1])
			}
			if wbf != nil {
				kn.F32ToBF16(wbf[:rowsW*kcur], wconv[:rowsW*kcur])
			}
		case convert:
			for j := range rowsW {
				src := w.u16[(lo+j)*k+k0 : (lo+j)*k+k0+kcur]
				if w.dt == tensor.BF16 {
					kn.BF16ToF32(wconv[j*kcur:], src)
				} else {
					kn.F16ToF32(wconv[j*kcur:], src)
				}
			}
		}
		for p := range t.panels {
			tile := tiles[p*rowsW*R:]
			for j0 := 0; j0 < rowsW; j0 += C {
				nw := min(C, rowsW-j0)
				tj := tile[j0*R:]
				switch {
				case wbf != nil:
					xp := t.xpb[p*size+k0*R:]
					kn.GemmBF16(tj, xp, wbf[j0*kcur:], kcur, kcur, nw, k0 > 0)
				case quant:
					kn.GemmF32(tj, t.xp[p*size+k0*R:], wconv[j0*kcur:], kcur, kcur, nw, k0 > 0)
				case t.terms > 0:
					for term := range t.terms {
						xp := t.xpb[(p*t.terms+term)*size+k0*R:]
						kn.GemmBF16(tj, xp, w.u16[(lo+j0)*k+k0:], k, kcur, nw, k0 > 0 || term > 0)
					}
				case convert:
					kn.GemmF32(tj, t.xp[p*size+k0*R:], wconv[j0*kcur:], kcur, kcur, nw, k0 > 0)
				default:
					kn.GemmF32(tj, t.xp[p*size+k0*R:], w.f32[(lo+j0)*k+k0:], k, kcur, nw, k0 > 0)
				}
			}
		}
	}
	// The tiles, transposed, are this chunk's columns of dst.
	for p := range t.panels {
		kn.Transpose(t.ds[p*R*t.m+lo:], t.m, tiles[p*rowsW*R:], R, min(R, t.n-p*R), rowsW)
	}
}

// workerScratch is memory one worker reuses from call to call.
type workerScratch struct {
	tile  []float32 // transposed output tiles of a block of w rows
	wconv []float32 // a block of w rows widened (or dequantized) to float32
	wbf   []uint16  // a block of w rows dequantized then rounded to bf16 (fast precision)
	attn  []float32 // attention scores, rotary tables
	// attention on panels
	qpanel []float32 // a block of queries, packed
	scores []float32 // their scores, then probabilities, transposed
}

func growF32(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

func growU16(buf *[]uint16, n int) []uint16 {
	if cap(*buf) < n {
		*buf = make([]uint16, n)
	}
	return (*buf)[:n]
}

// rowBytes is the bytes of one row of a weight matrix.
func (t *Tensor) rowBytes() int { return t.dt.Bytes(t.cols()) }

// q8Acts returns n quantized activation vectors of k values in blocks of block, views of
// one scratch buffer kept between calls.
func (b *Backend) q8Acts(n, k, block int) []tensor.Q8Act {
	s := &b.q8
	if cap(s.q) < n*k {
		s.q, s.d, s.sums = make([]int8, n*k), make([]float32, n*k/32), make([]int16, n*k/16)
	}
	if cap(s.acts) < n {
		s.acts = make([]tensor.Q8Act, n)
	}
	acts := s.acts[:n]
	for i := range acts {
		acts[i] = tensor.Q8Act{Block: block, Q: s.q[i*k : (i+1)*k], D: s.d[i*k/block : (i+1)*k/block], Sums: s.sums[i*k/16 : (i+1)*k/16]}
	}
	return acts
}

// q8Scratch backs the activations of q8Acts.
type q8Scratch struct {
	q    []int8
	d    []float32
	sums []int16
	acts []tensor.Q8Act
}

func (b *Backend) f32Scratch(buf *[]float32, n int) []float32 { return growF32(buf, n) }

func (b *Backend) bf16Scratch(buf *[]uint16, n int) []uint16 { return growU16(buf, n) }
