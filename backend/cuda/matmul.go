//go:build linux && cgo

package cuda

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

// cuBLAS and CUDA enum values (cublasOperation_t, cudaDataType, cublasComputeType_t).
const (
	opN        = 0
	opT        = 1
	cudaR32F   = 0
	cudaR16BF  = 14
	computeF32 = 68 // CUBLAS_COMPUTE_32F: float32 arithmetic, no TF32
)

// epilogue is what a product does with each result before it is stored (GEMV_STORE… in
// kernels.cu).
type epilogue int

const (
	store epilogue = iota
	accumulate
	squaredReLU
)

// MatMul computes dst[n,m] = x[n,k]·w[m,k]ᵀ.
func (b *Backend) MatMul(dst, x, w backend.Tensor) { b.product(dst, x, w, store) }

// MatMulAdd computes dst += x·wᵀ: in the gemv kernel as it stores (decoding), after the GEMM
// into scratch otherwise.
func (b *Backend) MatMulAdd(dst, x, w backend.Tensor) { b.product(dst, x, w, accumulate) }

// MatMulReLU2 computes dst = relu(x·wᵀ)²: in the gemv kernel, or after the GEMM.
func (b *Backend) MatMulReLU2(dst, x, w backend.Tensor) { b.product(dst, x, w, squaredReLU) }

func (b *Backend) product(dst, x, w backend.Tensor, ep epilogue) {
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
	fast := b.opts.Precision == backend.Fast
	if k > 0 && (n <= gemvMaxRows || (!fast && n <= exactGemvRows)) {
		b.gemv(d, xt, wt, n, k, m, ep)
		return
	}
	out := d
	if ep == accumulate {
		if !b.grow(&b.prod, 4*n*m, "a product") {
			return
		}
		out = &Tensor{dt: tensor.F32, shape: d.shape, ptr: b.prod.ptr, view: true}
	}
	b.matmul(out, xt, wt, n, k, m)
	switch ep {
	case accumulate:
		b.args.reset().ptr(d.ptr).ptr(out.ptr).i64(n * m)
		b.launch(kAdd, b.gridFor(n*m), 1, blockThreads)
	case squaredReLU:
		b.args.reset().ptr(d.ptr).i64(n * m)
		b.launch(kReLU2, b.gridFor(n*m), 1, blockThreads)
	}
}

// matmul stores d = x·wᵀ through cuBLAS. Callers hold b.mu.
func (b *Backend) matmul(d, xt, wt *Tensor, n, k, m int) {
	if k == 0 {
		b.flush()
		b.note("cuMemsetD8Async", C.mt_zero(b.dev, d.ptr, C.size_t(4*n*m)))
		return
	}
	fast := b.opts.Precision == backend.Fast
	switch {
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
	case !fast && wt.dt == tensor.BF16 && b.bf16GEMM && !b.exactF32GEMM:
		// Exact: x is hi + mid + lo exactly, and tensor cores multiply bf16 pairs exactly into
		// f32, so three GEMMs give W·x in f32 arithmetic, the smallest term first, without
		// widening w (as the CPU's AMX path does).
		if !b.grow(&b.xb, 6*n*k, "bf16 activations") {
			return
		}
		hi, mid, lo := b.xb.ptr, b.xb.ptr+C.mt_ptr(2*n*k), b.xb.ptr+C.mt_ptr(4*n*k)
		b.args.reset().ptr(hi).ptr(mid).ptr(lo).ptr(xt.ptr).i64(n * k)
		b.launch(kSplit3BF16, b.gridFor(n*k), 1, blockThreads)
		b.gemm(m, n, k, wt.ptr, cudaR16BF, lo, cudaR16BF, d.ptr, m, 0)
		b.gemm(m, n, k, wt.ptr, cudaR16BF, mid, cudaR16BF, d.ptr, m, 1)
		b.gemm(m, n, k, wt.ptr, cudaR16BF, hi, cudaR16BF, d.ptr, m, 1)
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
func (b *Backend) gemv(d, x, w *Tensor, n, k, m int, ep epilogue) {
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
		b.args.reset().ptr(d.at(r0 * m)).ptr(x.at(r0 * k)).ptr(w.ptr).i32(rows).i32(k).i32(m).i32(vec).i32(int(ep))
		b.launch(kGemvF32+kernel(4*dtypeIndex(w.dt)+lg), ceilDiv(m, gemvWarps), 1, gemvWarps*32)
	}
}

// gemm computes, in cuBLAS's column-major terms, C[m×n] = Aᵀ·B + beta·C with A [k×m] (the
// weights, row after row of k) and B [k×n] (the activations): row-major dst[n, m] = x·wᵀ,
// ldc = the row length of dst.
func (b *Backend) gemm(m, n, k int, a C.mt_ptr, atype int, bp C.mt_ptr, btype int, c C.mt_ptr, ldc int, beta float32) {
	b.flush()
	r := C.mt_gemm(b.dev, opT, opN, C.int(m), C.int(n), C.int(k), 1, a, C.int(atype), C.int(k),
		bp, C.int(btype), C.int(k), C.float(beta), c, cudaR32F, C.int(ldc), computeF32)
	if r != 0 {
		b.note(fmt.Sprintf("cublasGemmEx (m=%d n=%d k=%d, A type %d, B type %d)", m, n, k, atype, btype), r)
	}
}
