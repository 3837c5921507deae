package cpu

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/internal/mmap"
	"github.com/minitron-go/minitron/tensor"
)

// bf16 matrices are kept packed (tensor/packed.go: groups of 128 rows, columns in pairs),
// copied from the checkpoint as they are uploaded. Decoding reads a group as one sequential
// stream, and every output of a matrix product, decode or prefill, is one multiply-add chain
// over k in order, so exact precision gives a sequence the same bits whatever it is batched
// or chunked with.
//
// The AMX level keeps row-major matrices: its exact GEMM (bf16 tiles over x in three terms)
// reads them, and is faster there than float32 FMA over packed columns. So does fast
// precision at the AVX2 level, which promises no bit-identity across batches and chunks:
// there the row-major kernel reads four rows at once, four streams. On an AMD EPYC Zen 3
// (2 threads, minitron bench, alternated) it decoded 3.0–3.2 tokens/s against 2.3–2.4 for
// packed groups read one stream at a time; against the packed kernel that reads four groups
// at once (tensor's packedFourStreams), 4.04 and 3.18 against 3.36 and 3.73, prefill 26.6
// and 26.6 against 24.2 and 28.3: no clear gain, and a peak RSS of 9.70 GB against 11.05.
// With four rows of x a pass over packed groups (GemvBF16Packed4), batches of 8 decode
// faster packed, 12.2–12.8 tokens/s in all against 8.4–8.8, single sequences slower,
// 3.67–4.17 against 4.45–4.54 (2026-12-03, alternated): row-major stays, for the one
// sequence most runs decode. EnvPack=0 keeps them row-major on any CPU, for measuring one
// layout against the other.

// EnvPack names the environment variable that turns packing off ("0").
const EnvPack = "MINITRON_PACK"

func packingWanted(kn *tensor.Kernels, p backend.Precision) bool {
	return kn.GemvBF16Packed != nil && kn.Level < tensor.AMX && os.Getenv(EnvPack) != "0" &&
		!(p == backend.Fast && kn.Level == tensor.AVX2)
}

// packBF16 returns the packed copy of a row-major bf16 matrix, its groups packed in parallel,
// in t. The copy lives in an anonymous mapping the kernel may back with huge pages (the Go
// heap's 4 KiB pages would cost a TLB miss, and stop the hardware prefetchers, every 4 KiB
// of the stream), unmapped once t is unreachable.
func packBF16(t *Tensor, w []uint16, m, k, threads int) error {
	n := tensor.PackedLen(m, k)
	mem, err := mmap.Anonymous(2 * n)
	if err != nil {
		return fmt.Errorf("cpu upload: packing a %d×%d matrix: %w", m, k, err)
	}
	p := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(mem.Bytes()))), n)
	runtime.AddCleanup(t, func(f *mmap.File) { f.Close() }, mem)
	groups := len(p) / (tensor.PackedRows * k)
	var wg sync.WaitGroup
	per := (groups + threads - 1) / threads
	for g0 := 0; g0 < groups; g0 += per {
		g1 := min(groups, g0+per)
		wg.Go(func() {
			r0, r1 := g0*tensor.PackedRows, min(m, g1*tensor.PackedRows)
			tensor.PackBF16(p[g0*tensor.PackedRows*k:g1*tensor.PackedRows*k], w[r0*k:r1*k], r1-r0, k)
		})
	}
	wg.Wait()
	t.u16, t.packed = p, true
	return nil
}

// packedKBlock bounds the columns of a group that the GEMM widens at a time, and that the
// rows of x take turns over when a few rows decode together (gemvBlockBytes of bf16): 1024
// columns, 512 KiB of float32 for 128 rows, where L2 holds twice that beside x's panel;
// fewer where it does not. On an AMD EPYC Zen 3 (L2 512 KiB) 1024 columns evicted the
// widened block while the GEMM read it; see bench/README.md.
func packedKBlock(l2 int) int {
	if l2 <= 0 {
		return 1024
	}
	return max(128, min(1024, l2/(2*tensor.PackedRows*4)&^63))
}

// matmulPacked is MatMul over a packed w, the matrix-vector kernels below gemmMinRows rows of
// x, the GEMM over widened columns from there.
func (b *Backend) matmulPacked(ds, xs []float32, wt *Tensor, n, k, m int) {
	groups := len(wt.u16) / (tensor.PackedRows * k)
	fast := b.opts.Precision == backend.Fast
	if n < gemmMinRows {
		t := &b.tasks.packedGemv
		*t = packedGemvTask{b: b, ds: ds, xs: xs, w: wt.u16, n: n, k: k, m: m}
		if fast && b.kernels.GemvBF16PackedFast != nil {
			t.xb = b.bf16Scratch(&b.xb, n*k)
			b.kernels.F32ToBF16(t.xb, xs[:n*k])
		}
		// Eight tasks a worker balance the workers (a matmul waits for its slowest); one
		// group a task or a half of the groups a worker measured the same on the Zen 4.
		// Kernels that read several groups at once get a multiple of that many.
		grain := max(1, groups/(b.opts.Threads*8))
		if at := b.kernels.PackedGroups; at > 1 {
			grain = (grain + at - 1) / at * at
		}
		b.pool.Run(groups, grain, t)
		return
	}
	kn := b.kernels
	R := kn.GemmRows
	panels := (n + R - 1) / R
	terms := 0
	if b.bf16Gemm && kn.GemmBF16Cols != nil { // every level with bf16 products has the packed GEMM
		terms = 1
	}
	pk := &b.tasks.pack
	*pk = packTask{kn: kn, xs: xs, n: n, k: k, terms: terms, round: terms == 0 && b.roundsX(wt, k)}
	if terms > 0 {
		pk.xpb = b.bf16Scratch(&b.xb, panels*k*R)
	} else {
		pk.xp = b.f32Scratch(&b.xp, panels*k*R)
	}
	b.pool.Run(panels, 1, pk)
	g := &b.tasks.packedGemm
	*g = packedGemmTask{b: b, ds: ds, xp: pk.xp, xpb: pk.xpb, w: wt.u16, n: n, k: k, m: m, panels: panels}
	b.pool.Run(groups, 1, g)
}

type packedGemvTask struct {
	b       *Backend
	ds, xs  []float32
	xb      []uint16
	w       []uint16
	n, k, m int
}

func (t *packedGemvTask) run(worker, lo, hi int) {
	const G = tensor.PackedRows
	k, ldg := t.k, tensor.PackedRows*t.k
	// The last group may hold rows past m: its outputs go through scratch.
	full := min(hi, t.m/G)
	kc := k
	if t.n > 1 {
		kc = min(k, t.b.kblock)
	}
	last := growF32(&t.b.workers[worker].tile, t.n*G)
	// One row of x reads the task's groups in one call a k-block. Several take turns over a
	// block of w that stays in L2 (gemvBlockBytes): read from memory once, then from L2 once
	// for each pass of the widest kernel (pass). (A block of all the task's groups, 125 of the head's,
	// went back to memory for every pair.)
	span := hi - lo
	if t.n > 1 {
		span = max(1, t.b.kernels.PackedGroups, gemvBlockBytes/(G*kc*2))
		// Kernels that read several groups at once get a block of fewer columns.
		kc = min(kc, max(64, gemvBlockBytes/(span*G*2)&^63))
	}
	for g0 := lo; g0 < hi; {
		g1 := min(full, g0+span)
		if g0 >= full {
			g1 = g0 + 1
		}
		for k0 := 0; k0 < k; k0 += kc {
			k1 := min(k, k0+kc)
			w := t.w[g0*ldg+k0*G:]
			outOf := func(i int) []float32 {
				if g0 < full {
					return t.ds[i*t.m+g0*G : i*t.m+g1*G]
				}
				return last[i*G : (i+1)*G]
			}
			for i := 0; i < t.n; {
				r := t.pass(i, w, k0, k1, outOf)
				if g0 >= full && k1 == k {
					for j := i; j < i+r; j++ {
						copy(t.ds[j*t.m+g0*G:(j+1)*t.m], outOf(j))
					}
				}
				i += r
			}
		}
		g0 = g1
	}
}

// pass multiplies the block w of columns k0…k1 by rows i… of x, as many as the widest
// kernel takes (it returns how many), into outOf's rows.
func (t *packedGemvTask) pass(i int, w []uint16, k0, k1 int, outOf func(int) []float32) int {
	kn, k, left := t.b.kernels, t.k, t.n-i
	acc := k0 > 0
	if t.xb != nil {
		xb := func(j int) []uint16 { return t.xb[j*k+k0 : j*k+k1] }
		if kn.GemvBF16Packed2Fast != nil && left >= 2 {
			kn.GemvBF16Packed2Fast(outOf(i), outOf(i+1), w, xb(i), xb(i+1), tensor.PackedRows*k, acc)
			return 2
		}
		kn.GemvBF16PackedFast(outOf(i), w, xb(i), tensor.PackedRows*k, acc)
		return 1
	}
	x := func(j int) []float32 { return t.xs[j*k+k0 : j*k+k1] }
	switch {
	case kn.GemvBF16Packed4 != nil && left >= 4:
		// Four rows of x a pass, the accumulators in registers over a chunk of the block.
		d := [4][]float32{outOf(i), outOf(i + 1), outOf(i + 2), outOf(i + 3)}
		xs := [4][]float32{x(i), x(i + 1), x(i + 2), x(i + 3)}
		kn.GemvBF16Packed4(d, w, xs, tensor.PackedRows*k, acc)
		return 4
	case kn.GemvBF16Packed2 != nil && left >= 2:
		// Two rows of x a pass over the block: its weights widened once for both.
		kn.GemvBF16Packed2(outOf(i), outOf(i+1), w, x(i), x(i+1), tensor.PackedRows*k, acc)
		return 2
	}
	kn.GemvBF16Packed(outOf(i), w, x(i), tensor.PackedRows*k, acc)
	return 1
}

type packedGemmTask struct {
	b               *Backend
	ds, xp          []float32
	xpb             []uint16
	w               []uint16
	n, k, m, panels int
}

func (t *packedGemmTask) run(worker, lo, hi int) {
	const G = tensor.PackedRows
	kn := t.b.kernels
	R, C := kn.GemmRows, kn.GemmCols
	k, ldg, size := t.k, tensor.PackedRows*t.k, t.k*R
	ws := &t.b.workers[worker]
	tiles := growF32(&ws.tile, t.panels*G*R)
	kc := min(k, t.b.kblock)
	var cols []float32
	if t.xpb == nil {
		cols = growF32(&ws.wconv, kc*G)
	}
	for g := lo; g < hi; g++ {
		for k0 := 0; k0 < k; k0 += kc {
			kcur := min(kc, k-k0)
			w := t.w[g*ldg+k0*G:]
			if cols != nil {
				kn.UnpackF32(cols, w, kcur/2)
			}
			for p := range t.panels {
				tile := tiles[p*G*R:]
				gemmF32, gemmBF16 := kn.GemmF32Cols, kn.GemmBF16Cols
				if t.n-p*R <= 32 && kn.GemmF32Cols32 != nil { // padding past row 32: a third less work
					// A level with the 32-row kernels has them for each product it has.
					gemmF32, gemmBF16 = kn.GemmF32Cols32, kn.GemmBF16Cols32
				}
				for j0 := 0; j0 < G; j0 += C {
					if cols != nil {
						gemmF32(tile[j0*R:], t.xp[p*size+k0*R:], cols[kn.UnpackedIndex(j0, 0, kcur):], kn.UnpackWidth, kcur, C, k0 > 0)
					} else {
						gemmBF16(tile[j0*R:], t.xpb[p*size+k0*R:], w[2*j0:], G, kcur, C, k0 > 0)
					}
				}
			}
		}
		rows := min(G, t.m-g*G)
		for p := range t.panels {
			kn.Transpose(t.ds[p*R*t.m+g*G:], t.m, tiles[p*G*R:], R, min(R, t.n-p*R), rows)
		}
	}
}

// embedPacked widens row id of a packed table into out.
func embedPacked(out []float32, t *Tensor, id int) {
	c := t.cols()
	grp := t.u16[id/tensor.PackedRows*tensor.PackedRows*c:]
	for s, i := 0, id%tensor.PackedRows*2; s < c/2; s, i = s+1, i+2*tensor.PackedRows {
		out[2*s] = tensor.BF16ToFloat32(grp[i])
		out[2*s+1] = tensor.BF16ToFloat32(grp[i+1])
	}
}
