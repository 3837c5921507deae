//go:build !purego

package tensor

import "os"

// Assembly matrix-vector products for decoding. Decoding streams every weight once per
// token, so these kernels are bound by memory bandwidth: each walks four rows of w at a time
// against one load of x, one row from each quarter of the rows so that each quarter is read
// as one long sequential stream, widens the weights to float32 in registers, keeps two
// accumulators per row, and prefetches the four streams ahead of its reads (gemv_amd64.s
// says how).
// The AVX-512 bf16 kernel widens bf16 pairs in place, x split into even and odd elements,
// which takes fewer vector operations than VPMOVZXWD.
//
// The AVX-512 kernels handle any k (the last partial vector with a K-register mask, whose
// masked-out lanes neither load nor fault). The AVX2 ones run over k rounded down to a
// multiple of 8 and leave the remaining columns to the plain-Go twin.
//
// Each kernel comes in two builds, with software prefetch and without (NoPF), and
// GemvPrefetch chooses between them once, from the CPU.

// GemvPrefetch reports whether the decode kernels prefetch their four streams in software.
// On the Intel Xeon the project first ran on, prefetching 2 KiB ahead streamed 5–15% faster
// than not; on the AMD EPYC Zen 4 it streamed slower in every run of minitron bench's read
// patterns (four streams per thread: 33 GB/s with it, 47 without, in one run), where the
// hardware prefetchers keep up with four sequential streams on their own. AMD CPUs run
// without it. MINITRON_GEMV_PREFETCH=0 or 1 overrides the choice, for measuring.
var GemvPrefetch = gemvPrefetchDefault()

func gemvPrefetchDefault() bool {
	switch os.Getenv("MINITRON_GEMV_PREFETCH") {
	case "0":
		return false
	case "1":
		return true
	}
	// hostCPU, not HostCPU: this runs while package variables are initialised, before the
	// init functions register the kernel levels that HostCPU would fix for good.
	return hostCPU().Vendor != "AMD"
}

func init() {
	override(AVX2, func(k *Kernels) {
		k.GemvBF16 = gemvBF16AVX2Checked
		k.GemvF16 = gemvF16AVX2Checked
		k.GemvF32 = gemvF32AVX2Checked
	})
	override(AVX512, func(k *Kernels) {
		k.GemvBF16 = gemvBF16AVX512Checked
		k.GemvF16 = gemvF16AVX512Checked
		k.GemvF32 = gemvF32AVX512Checked
	})
	override(AVX512BF16, func(k *Kernels) {
		k.GemvBF16Fast = gemvBF16FastAVX512Checked
	})
}

// checkGemv panics unless w holds rows×k weights, so that the assembly can trust the lengths.
func checkGemv(rows, k, nw int) {
	if nw < rows*k {
		panic("tensor: gemv weights shorter than len(dst)·len(x)")
	}
}

// gemvTail adds the columns c ≥ k8 that an AVX2 kernel left: dst[r] += Σ_{c≥k8} w[r·k+c]·x[c].
func gemvTail[W any](dst []float32, w []W, x []float32, k8 int, dot func([]W, []float32) float32) {
	k := len(x)
	if k8 == k {
		return
	}
	for r := range dst {
		dst[r] += dot(w[r*k+k8:(r+1)*k], x[k8:])
	}
}

func gemvBF16AVX512Checked(dst []float32, w []uint16, x []float32) {
	checkGemv(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvBF16AVX512(dst, w, x)
	} else {
		gemvBF16AVX512NoPF(dst, w, x)
	}
}

func gemvF16AVX512Checked(dst []float32, w []uint16, x []float32) {
	checkGemv(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvF16AVX512(dst, w, x)
	} else {
		gemvF16AVX512NoPF(dst, w, x)
	}
}

func gemvF32AVX512Checked(dst []float32, w []float32, x []float32) {
	checkGemv(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvF32AVX512(dst, w, x)
	} else {
		gemvF32AVX512NoPF(dst, w, x)
	}
}

func gemvBF16FastAVX512Checked(dst []float32, w []uint16, xb []uint16) {
	checkGemv(len(dst), len(xb), len(w))
	if GemvPrefetch {
		gemvBF16FastAVX512(dst, w, xb)
	} else {
		gemvBF16FastAVX512NoPF(dst, w, xb)
	}
}

func gemvBF16AVX2Checked(dst []float32, w []uint16, x []float32) {
	checkGemv(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvBF16AVX2(dst, w, x)
	} else {
		gemvBF16AVX2NoPF(dst, w, x)
	}
	gemvTail(dst, w, x, len(x)&^7, dotBF16Generic)
}

func gemvF16AVX2Checked(dst []float32, w []uint16, x []float32) {
	checkGemv(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvF16AVX2(dst, w, x)
	} else {
		gemvF16AVX2NoPF(dst, w, x)
	}
	gemvTail(dst, w, x, len(x)&^7, dotF16Generic)
}

func gemvF32AVX2Checked(dst []float32, w []float32, x []float32) {
	checkGemv(len(dst), len(x), len(w))
	if GemvPrefetch {
		gemvF32AVX2(dst, w, x)
	} else {
		gemvF32AVX2NoPF(dst, w, x)
	}
	gemvTail(dst, w, x, len(x)&^7, dotGeneric)
}

// gemvBF16AVX512 computes, with k = len(x) and w holding at least len(dst)·k weights,
//
//	for r := range dst {
//		dst[r] = dotBF16Generic(w[r*k:(r+1)*k], x)
//	}
//
// summing in another order (the twin is gemvBF16Generic).
//
//go:noescape
func gemvBF16AVX512(dst []float32, w []uint16, x []float32)

// gemvF16AVX512 computes, with k = len(x) and w holding at least len(dst)·k weights,
//
//	for r := range dst {
//		dst[r] = dotF16Generic(w[r*k:(r+1)*k], x)
//	}
//
// summing in another order (the twin is gemvF16Generic).
//
//go:noescape
func gemvF16AVX512(dst []float32, w []uint16, x []float32)

// gemvF32AVX512 computes, with k = len(x) and w holding at least len(dst)·k weights,
//
//	for r := range dst {
//		dst[r] = dotGeneric(w[r*k:(r+1)*k], x)
//	}
//
// summing in another order (the twin is gemvF32Generic).
//
//go:noescape
func gemvF32AVX512(dst []float32, w []float32, x []float32)

// gemvBF16FastAVX512 computes, with k = len(xb) and w holding at least len(dst)·k weights,
//
//	for r := range dst {
//		var s float32
//		for p, x := range xb {
//			s += BF16ToFloat32(w[r*k+p]) * BF16ToFloat32(x)
//		}
//		dst[r] = s
//	}
//
// with VDPBF16PS, 32 products per instruction, summed in another order (the twin is
// gemvBF16FastGeneric). VDPBF16PS treats bf16 subnormals as zero.
//
//go:noescape
func gemvBF16FastAVX512(dst []float32, w []uint16, xb []uint16)

// gemvBF16AVX2 computes, with k = len(x), k8 = k &^ 7 and w holding at least len(dst)·k
// weights,
//
//	for r := range dst {
//		dst[r] = dotBF16Generic(w[r*k:r*k+k8], x)
//	}
//
// summing in another order: the columns from k8 on are left to the caller.
//
//go:noescape
func gemvBF16AVX2(dst []float32, w []uint16, x []float32)

// gemvF16AVX2 computes, with k = len(x), k8 = k &^ 7 and w holding at least len(dst)·k
// weights,
//
//	for r := range dst {
//		dst[r] = dotF16Generic(w[r*k:r*k+k8], x)
//	}
//
// summing in another order: the columns from k8 on are left to the caller.
//
//go:noescape
func gemvF16AVX2(dst []float32, w []uint16, x []float32)

// gemvF32AVX2 computes, with k = len(x), k8 = k &^ 7 and w holding at least len(dst)·k
// weights,
//
//	for r := range dst {
//		dst[r] = dotGeneric(w[r*k:r*k+k8], x)
//	}
//
// summing in another order: the columns from k8 on are left to the caller.
//
//go:noescape
func gemvF32AVX2(dst []float32, w []float32, x []float32)

// The NoPF builds compute what the kernels above compute, without software prefetch.

//go:noescape
func gemvBF16AVX512NoPF(dst []float32, w []uint16, x []float32)

//go:noescape
func gemvF16AVX512NoPF(dst []float32, w []uint16, x []float32)

//go:noescape
func gemvF32AVX512NoPF(dst []float32, w []float32, x []float32)

//go:noescape
func gemvBF16FastAVX512NoPF(dst []float32, w []uint16, xb []uint16)

//go:noescape
func gemvBF16AVX2NoPF(dst []float32, w []uint16, x []float32)

//go:noescape
func gemvF16AVX2NoPF(dst []float32, w []uint16, x []float32)

//go:noescape
func gemvF32AVX2NoPF(dst []float32, w []float32, x []float32)
