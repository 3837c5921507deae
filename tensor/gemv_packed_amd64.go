//go:build !purego

package tensor

import "os"

// Assembly matrix-vector products over packed bf16 matrices (see packed.go and
// gemv_packed_amd64.s). They read a group of 128 rows as one stream: on the Zen 4 one core
// streamed 22.8–25.2 GB/s with them, without software prefetch, against 17.3–18.3 for the
// row-major kernels (in one run of the same 2 GB of weights, next to a plain sequential read
// at 25). Where one stream reads slower, the AVX-512 ones read two groups at a time, each
// prefetched (packedTwoStreams), and the AVX2 one four groups, a step of each in turn
// (packedFourStreams).

func init() {
	override(AVX2, func(k *Kernels) {
		k.GemvBF16Packed = gemvPackedAVX2Checked
		if packedFourStreams {
			k.GemvBF16Packed2 = gemvPacked2AVX2Checked
			k.PackedGroups = 4
		}
		k.GemvBF16Packed4 = gemvPacked4AVX2Checked
	})
	override(AVX512, func(k *Kernels) {
		k.GemvBF16Packed4 = nil // not measured at 512 bits
		k.GemvBF16Packed = gemvPackedAVX512Checked
		k.GemvBF16Packed2 = gemvPacked2AVX512Checked
		k.PackedGroups = 1
		if packedTwoStreams {
			k.PackedGroups = 2
		}
	})
	override(AVX512BF16, func(k *Kernels) {
		k.GemvBF16PackedFast = gemvPackedFastAVX512Checked
		k.GemvBF16Packed2Fast = gemvPacked2FastAVX512Checked
	})
}

// checkPacked panics unless dst is whole groups and w holds them, so that the assembly can
// trust the lengths.
func checkPacked(rows, k, nw, ldg int) {
	if g := rows / PackedRows; rows%PackedRows != 0 || k%2 != 0 || ldg < PackedRows*k || g > 0 && nw < (g-1)*ldg+PackedRows*k {
		panic("tensor: packed gemv needs whole groups of rows, an even k, ldg ≥ 128·k and the weights of every group")
	}
}

func gemvPackedAVX512Checked(dst []float32, w []uint16, x []float32, ldg int, acc bool) {
	checkPacked(len(dst), len(x), len(w), ldg)
	if packedTwoStreams {
		inTwoStreams(dst, w, x, ldg, acc, gemvPackedG2AVX512, gemvPackedAVX512)
		return
	}
	gemvPackedAVX512(dst, w, x, ldg, acc)
}

func gemvPackedAVX2Checked(dst []float32, w []uint16, x []float32, ldg int, acc bool) {
	checkPacked(len(dst), len(x), len(w), ldg)
	if packedFourStreams {
		quads := len(dst) / (4 * PackedRows)
		gemvPackedS4AVX2(dst[:quads*4*PackedRows], w, x, ldg, acc)
		if rest := dst[quads*4*PackedRows:]; len(rest) > 0 {
			gemvPackedAVX2(rest, w[quads*4*ldg:], x, ldg, acc)
		}
		return
	}
	gemvPackedAVX2(dst, w, x, ldg, acc)
}

// packedFourStreams says whether the AVX2 packed kernel reads four groups at a time, a step
// of each in turn, as four streams. On an AMD EPYC Zen 3 (2 vCPUs, one core, go test
// ./tensor -bench 'GemvBF16Packed$/avx2', 2026-12-02) four streams read 17.8–19.4 GB/s from
// memory against 9.6–13.3 for one group's stream, as fast as the row-major kernel's four
// rows (17.0–19.2); whole exact decode steps, 2 threads, 3.22 and 3.54 tokens/s against 2.65
// and 3.08 (alternated). From L2 one stream is no slower. MINITRON_PACKED_S4=0 reads one
// group at a time, for measuring.
var packedFourStreams = os.Getenv("MINITRON_PACKED_S4") != "0"

func gemvPackedFastAVX512Checked(dst []float32, w []uint16, xb []uint16, ldg int, acc bool) {
	checkPacked(len(dst), len(xb), len(w), ldg)
	if packedTwoStreams {
		inTwoStreams(dst, w, xb, ldg, acc, gemvPackedFastG2AVX512, gemvPackedFastAVX512)
		return
	}
	gemvPackedFastAVX512(dst, w, xb, ldg, acc)
}

// packedTwoStreams says whether the AVX-512 packed kernels read two groups at a time, each
// stream prefetched 1 KiB ahead, rather than one group without prefetch. The best choice
// differs between the CPUs measured (go test -bench 'GemvBF16PackedStreams', one core,
// 3072×3072, 9216×3072 and 3072×9216 matrices from memory):
//
//   - Intel Xeon, family 6 model 207 (2 vCPUs, 2026-12-02): exact 11.0–11.9 GB/s with two
//     prefetched streams against 8.6–9.3 with one (8.0–8.2 with one stream prefetched),
//     fast 10.3–11.4 against 7.5–8.5, beside a plain read of 11.0–11.1;
//   - AMD EPYC Zen 4: one stream read 22.8–25.2 GB/s, and software prefetch was slower or
//     equal at every distance from 256 B to 8 KiB.
//
// It follows GemvPrefetch: CPUs whose row-major kernels prefetch (all but AMD's) read two
// prefetched streams, and MINITRON_GEMV_PREFETCH=0|1 overrides both, for measuring.
var packedTwoStreams = GemvPrefetch

// inTwoStreams runs two over the matrix's groups in pairs and one over an odd last group.
func inTwoStreams[X any](dst []float32, w []uint16, x []X, ldg int, acc bool, two, one func([]float32, []uint16, []X, int, bool)) {
	g := len(dst) / PackedRows &^ 1
	if g > 0 {
		two(dst[:g*PackedRows], w, x, ldg, acc)
	}
	if g*PackedRows < len(dst) {
		one(dst[g*PackedRows:], w[g*ldg:], x, ldg, acc)
	}
}

func gemvPacked2AVX512Checked(dst0, dst1 []float32, w []uint16, x0, x1 []float32, ldg int, acc bool) {
	checkPacked(len(dst0), len(x0), len(w), ldg)
	if len(dst1) != len(dst0) || len(x1) != len(x0) {
		panic("tensor: packed gemv of two rows of different lengths")
	}
	gemvPacked2AVX512(dst0, dst1, w, x0, x1, ldg, acc)
}

func gemvPacked2FastAVX512Checked(dst0, dst1 []float32, w []uint16, x0, x1 []uint16, ldg int, acc bool) {
	checkPacked(len(dst0), len(x0), len(w), ldg)
	if len(dst1) != len(dst0) || len(x1) != len(x0) {
		panic("tensor: packed gemv of two rows of different lengths")
	}
	gemvPacked2FastAVX512(dst0, dst1, w, x0, x1, ldg, acc)
}

// gemvPacked2FastAVX512 is two calls of gemvPackedFastAVX512 in one pass over w.
//
//go:noescape
func gemvPacked2FastAVX512(dst0, dst1 []float32, w []uint16, x0, x1 []uint16, ldg int, acc bool)

// gemvPacked2AVX512 is two calls of gemvPackedAVX512, (dst0, x0) and (dst1, x1), in one pass
// over w.
//
//go:noescape
func gemvPacked2AVX512(dst0, dst1 []float32, w []uint16, x0, x1 []float32, ldg int, acc bool)

// gemvPackedAVX512 is gemvPackedGeneric with each chain's multiply-adds fused (VFMADD231PS):
// the chain GemmF32Cols runs at this level.
//
//go:noescape
func gemvPackedAVX512(dst []float32, w []uint16, x []float32, ldg int, acc bool)

// gemvPackedAVX2 is gemvPackedAVX512 in 256-bit registers, each block of 8 steps of a group
// read in two halves of 64 rows.
//
//go:noescape
func gemvPackedAVX2(dst []float32, w []uint16, x []float32, ldg int, acc bool)

// gemvPackedFastAVX512 is gemvPackedFastGeneric with VDPBF16PS, which treats bf16
// subnormals as zero.
//
//go:noescape
func gemvPackedFastAVX512(dst []float32, w []uint16, xb []uint16, ldg int, acc bool)

// gemvPackedG2AVX512 is gemvPackedAVX512 over two groups at a time, read as two streams;
// len(dst) is a multiple of 2·PackedRows.
//
//go:noescape
func gemvPackedG2AVX512(dst []float32, w []uint16, x []float32, ldg int, acc bool)

// gemvPackedFastG2AVX512 is gemvPackedFastAVX512 over two groups at a time.
//
//go:noescape
func gemvPackedFastG2AVX512(dst []float32, w []uint16, xb []uint16, ldg int, acc bool)

// gemvPacked2AVX2Checked is GemvBF16Packed2 at the AVX2 level: quads of groups two rows of x
// at a time, the groups left one row at a time.
func gemvPacked2AVX2Checked(dst0, dst1 []float32, w []uint16, x0, x1 []float32, ldg int, acc bool) {
	checkPacked(len(dst0), len(x0), len(w), ldg)
	if len(dst1) != len(dst0) || len(x1) != len(x0) {
		panic("tensor: packed gemv of two rows of different lengths")
	}
	q := len(dst0) / (4 * PackedRows) * 4 * PackedRows
	gemvPacked2S4AVX2(dst0[:q], dst1[:q], w, x0, x1, ldg, acc)
	if q < len(dst0) {
		gemvPackedAVX2(dst0[q:], w[q/PackedRows*ldg:], x0, ldg, acc)
		gemvPackedAVX2(dst1[q:], w[q/PackedRows*ldg:], x1, ldg, acc)
	}
}

// gemvPacked2S4AVX2 is gemvPackedS4AVX2 for two rows of x at once (gemv_packed4_amd64.s).
//
//go:noescape
func gemvPacked2S4AVX2(dst0, dst1 []float32, w []uint16, x0, x1 []float32, ldg int, acc bool)

// gemvPackedS4AVX2 is gemvPackedAVX2 over whole quads of groups (gemv_packed4_amd64.s).
//
//go:noescape
func gemvPackedS4AVX2(dst []float32, w []uint16, x []float32, ldg int, acc bool)

// gemvPacked4AVX2Checked is GemvBF16Packed4 at the AVX2 level, a group at a time.
func gemvPacked4AVX2Checked(dst [4][]float32, w []uint16, x [4][]float32, ldg int, acc bool) {
	k := len(x[0])
	checkPacked(len(dst[0]), k, len(w), ldg)
	for i := range 4 {
		if len(dst[i]) != len(dst[0]) || len(x[i]) != k {
			panic("tensor: packed gemv of four rows of different lengths")
		}
		if !acc {
			clear(dst[i])
		}
	}
	if k == 0 {
		return
	}
	for g := range len(dst[0]) / PackedRows {
		var d, xs [4]*float32
		for i := range 4 {
			d[i], xs[i] = &dst[i][g*PackedRows], &x[i][0]
		}
		gemvPackedR4AVX2(&d, &xs, &w[g*ldg], k/2)
	}
}

// gemvPackedR4AVX2 is one group of gemvPacked4AVX2Checked, the chains carried on from dst
// (gemv_packed4_amd64.s).
//
//go:noescape
func gemvPackedR4AVX2(dst *[4]*float32, x *[4]*float32, w *uint16, steps int)
