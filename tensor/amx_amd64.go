//go:build linux && !purego

package tensor

import (
	"fmt"
	"sync"
	"syscall"
)

// The AMX level: GemmBF16 on Intel AMX tiles. One TDPBF16PS multiplies a 16×32 block of bf16
// W by a 32×16 block of the panel in 16 cycles, 1024 flop a cycle against the 64 of
// VDPBF16PS on this machine.
// The kernels read the same PackBF16 panel (R = 48) and the same row-major W as the
// AVX512BF16 kernel; amx_amd64.s explains how the operands map onto tiles.
//
// One thread of a Xeon with AMX, GFLOP/s of CPU time (BenchmarkAMX; 48 panel rows × 32 W
// rows a call for AMX, × 8 for the others):
//
//	                       k=3072           k=9216
//	                   cache   stream   cache   stream
//	amx GemmBF16        1670    1000     1450     600
//	avx512bf16 GemmBF16  107     105      108     105
//	avx512 GemmF32       195     178      175     155
//
// TDPBF16PS alone runs at about 3400 here; the kernels are bound by the
// tile loads, about 26 cycles for each 1 KiB tile. Streaming a 56 MB W at k=9216 they are
// bound by memory: 96 flop for each bf16 of W, 600 GFLOP/s being 12.5 GB/s.
//
// GemmCols is 32 at this level: two blocks of 16 W rows share each load of a panel block.
// GemmF32 keeps the AVX-512 kernel, called on blocks of 8 rows.
//
// Tile state belongs to the thread while a kernel runs: every call loads its configuration
// on entry and releases the tiles before it returns, so nothing is kept between calls and a
// goroutine may move to another thread between them. Go does not preempt assembly
// asynchronously (runtime.isAsyncSafePoint), and a signal arriving mid-kernel saves and restores the tiles in its
// frame (AT_MINSIGSTKSZ is about 12 KiB with AMX; Go's signal stacks are 32 KiB).

const gemmColsAMX = 32

func init() {
	amxUsable = sync.OnceValue(amxRequest)
	override(AMX, func(k *Kernels) {
		k.GemmCols = gemmColsAMX
		k.GemmF32 = gemmF32AMX
		k.GemmBF16 = gemmBF16AMX
	})
}

// amxRequest reports whether the CPU has AMX tiles with bf16 products (and AVX512-BF16, which
// does the k tails), and asks Linux for the tile data state, which a process must request
// before its first tile instruction (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA),
// Linux 5.16 on). The kernel refuses if it does not support AMX, or if some thread's signal
// stack is too small for the larger signal frame.
func amxRequest() bool {
	f := hostCPU().Features
	if !f.AMXTile || !f.AMXBF16 || !f.AVX512BF16 {
		return false
	}
	const archReqXcompPerm, xfeatureXtiledata = 0x1023, 18
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}

// amxConfig returns a tile configuration (LDTILECFG's 64 bytes, palette 1) giving tile t
// rows[t] rows of 64 bytes; tiles with no rows are left unconfigured.
func amxConfig(rows [8]int) (c [64]byte) {
	c[0] = 1 // palette 1: 8 tiles of up to 16 rows × 64 bytes
	for t, r := range rows {
		if r > 0 {
			c[16+2*t] = 64 // bytes per row, little-endian uint16
			c[48+t] = byte(r)
		}
	}
	return c
}

var (
	// amxCfg32 configures amxBF16x32: six accumulators, W and the panel, all 16 rows.
	amxCfg32 = amxConfig([8]int{16, 16, 16, 16, 16, 16, 16, 16})
	// amxCfg16[m] configures amxBF16x16 for m W rows: three accumulators and W of m rows,
	// three panel blocks of 16 (the k-pair rows).
	amxCfg16 = func() (c [17][64]byte) {
		for m := 1; m <= 16; m++ {
			c[m] = amxConfig([8]int{m, m, m, m, 16, 16, 16})
		}
		return c
	}()
)

func gemmBF16AMX(tile []float32, xp []uint16, w []uint16, ldw, k, nw int, acc bool) {
	const R, C = gemmRows512, gemmColsAMX
	if k%2 != 0 {
		panic(fmt.Sprintf("tensor: GemmBF16 with odd k=%d", k))
	}
	if !gemmCheck(R, C, len(tile), len(xp), len(w), ldw, k, nw) {
		if !acc {
			clear(tile[:nw*R])
		}
		return
	}
	// Tiles for the multiples of 32 columns, configured for the W rows there are, so that
	// no row ≥ nw is read nor tile row ≥ nw written; VDPBF16PS for the last k%32 columns.
	kt := k &^ 31
	if kt > 0 {
		j := 0
		for ; j+32 <= nw; j += 32 {
			amxBF16x32(&amxCfg32, &tile[j*R], &xp[0], &w[j*ldw], ldw, kt/32, acc)
		}
		for ; j < nw; j += 16 {
			amxBF16x16(&amxCfg16[min(16, nw-j)], &tile[j*R], &xp[0], &w[j*ldw], ldw, kt/32, acc)
		}
	}
	if kt < k {
		for j := 0; j < nw; j += gemmCols512 {
			gemmBF16x48x8(&tile[j*R], &xp[kt*R], &w[j*ldw+kt], ldw, k-kt, min(gemmCols512, nw-j), acc || kt > 0)
		}
	}
}

// gemmF32AMX is the AVX-512 GemmF32 for up to 32 rows of W, 8 at a time.
func gemmF32AMX(tile, xp, w []float32, ldw, k, nw int, acc bool) {
	const R, C = gemmRows512, gemmColsAMX
	if !gemmCheck(R, C, len(tile), len(xp), len(w), ldw, k, nw) {
		if !acc {
			clear(tile[:nw*R])
		}
		return
	}
	for j := 0; j < nw; j += gemmCols512 {
		gemmF32x48x8(&tile[j*R], &xp[0], &w[j*ldw], ldw, k, min(gemmCols512, nw-j), acc)
	}
}

// amxBF16x32 is gemmBF16Generic(48) on the first elements of its slices for nw = 32 rows of
// W and k = 32·steps columns, steps ≥ 1, with cfg = &amxCfg32 (bf16(u) = BF16ToFloat32(u);
// TDPBF16PS, like VDPBF16PS, flushes bf16 subnormals to zero and sums in its own order):
//
//	for j := range 32 {
//		for i := range 48 {
//			s := float32(0)
//			if acc {
//				s = tile[j*48+i]
//			}
//			for p := 0; p < 32*steps; p += 2 {
//				s += bf16(xp[p*48+2*i])*bf16(w[j*ldw+p]) + bf16(xp[p*48+2*i+1])*bf16(w[j*ldw+p+1])
//			}
//			tile[j*48+i] = s
//		}
//	}
//
//go:noescape
func amxBF16x32(cfg *[64]byte, tile *float32, xp, w *uint16, ldw, steps int, acc bool)

// amxBF16x16 is amxBF16x32's loop for nw = m ≤ 16 rows of W, with cfg = &amxCfg16[m]: the
// configuration alone says how many rows of W are read and of tile written.
//
//go:noescape
func amxBF16x16(cfg *[64]byte, tile *float32, xp, w *uint16, ldw, steps int, acc bool)
