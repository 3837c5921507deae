//go:build !purego

#include "textflag.h"
#include "bf16_amd64.h"
#include "gemm_amd64.h"

// Register-blocked GEMM micro-kernels over row-major W, and panel packing; see gemm_amd64.go
// for the loop each function computes and gemm_amd64.h for the registers.

// ---------------------------------------------------------------------------------------
// AVX-512 (R = 48, C = 8): the kernels and panel packing.

// gemm512Setup loads the arguments shared by both kernels, W elements being 1<<shift bytes:
// the row bases (rows ≥ nw aliasing row 0) and the panel; the accumulators, zero or the
// tile's columns j < nw; in R13 the end of k in bytes of a W row, in R12 that end rounded
// down to 4 steps of 4 bytes; SI = 0.
#define gemm512Setup(shift) \
	MOVQ xp+8(FP), DI; \
	MOVQ w+16(FP), AX; \
	MOVQ ldw+24(FP), R12; \
	SHLQ $shift, R12; \
	MOVQ nw+40(FP), SI; \
	gemm512Rows; \
	gemm512Acc; \
	MOVQ k+32(FP), R13; \
	SHLQ $shift, R13; \
	MOVQ R13, R12; \
	ANDQ $-16, R12; \
	XORQ SI, SI

// gemmRowsLoop runs step over k: SI goes from 0 by 4 bytes of each W row to end (end4 that
// rounded down to 16 bytes), DI by xstep bytes of the panel a step; 4 steps at a time, then
// one at a time.
#define gemmRowsLoop(step, xstep, end4, end) \
	CMPQ SI, end4; \
	JGE  tail; \
loop4: \
	step(0, 0); \
	step(xstep, 4); \
	step(2*xstep, 8); \
	step(3*xstep, 12); \
	ADDQ $(4*xstep), DI; \
	ADDQ $16, SI; \
	CMPQ SI, end4; \
	JLT  loop4; \
tail: \
	CMPQ SI, end; \
	JGE  done; \
loop1: \
	step(0, 0); \
	ADDQ $xstep, DI; \
	ADDQ $4, SI; \
	CMPQ SI, end; \
	JLT  loop1; \
done:

// func gemmF32x48x8(tile, xp, w *float32, ldw, k, nw int, acc bool)
TEXT ·gemmF32x48x8(SB), NOSPLIT, $0-49
	gemm512Setup(2)
	gemmRowsLoop(f32Step512, 192, R12, R13)
	gemm512Store

// func gemmBF16x48x8(tile *float32, xp, w *uint16, ldw, k, nw int, acc bool)
//
// A step covers two columns of k and 4 bytes of each W row, so with k/2 steps the loop is
// that of gemmF32x48x8.
TEXT ·gemmBF16x48x8(SB), NOSPLIT, $0-49
	gemm512Setup(1)
	gemmRowsLoop(bf16Step512, 192, R12, R13)
	gemm512Store

// transpose16 transposes the 16×16 floats in Z0…Z15 (row r in Zr) so that Zc holds column
// c, with the rows missing from the mask K1 zeroed. Stage 1 interleaves pairs of rows,
// stage 2 pairs of pairs (in each 128-bit lane: 4 rows of one column), stages 3 and 4 move
// 128-bit lanes.
#define transpose16 \
	VUNPCKLPS Z1, Z0, Z16; \
	VUNPCKHPS Z1, Z0, Z17; \
	VUNPCKLPS Z3, Z2, Z18; \
	VUNPCKHPS Z3, Z2, Z19; \
	VUNPCKLPS Z5, Z4, Z20; \
	VUNPCKHPS Z5, Z4, Z21; \
	VUNPCKLPS Z7, Z6, Z22; \
	VUNPCKHPS Z7, Z6, Z23; \
	VUNPCKLPS Z9, Z8, Z24; \
	VUNPCKHPS Z9, Z8, Z25; \
	VUNPCKLPS Z11, Z10, Z26; \
	VUNPCKHPS Z11, Z10, Z27; \
	VUNPCKLPS Z13, Z12, Z28; \
	VUNPCKHPS Z13, Z12, Z29; \
	VUNPCKLPS Z15, Z14, Z30; \
	VUNPCKHPS Z15, Z14, Z31; \
	VUNPCKLPD Z18, Z16, Z0; \
	VUNPCKHPD Z18, Z16, Z1; \
	VUNPCKLPD Z19, Z17, Z2; \
	VUNPCKHPD Z19, Z17, Z3; \
	VUNPCKLPD Z22, Z20, Z4; \
	VUNPCKHPD Z22, Z20, Z5; \
	VUNPCKLPD Z23, Z21, Z6; \
	VUNPCKHPD Z23, Z21, Z7; \
	VUNPCKLPD Z26, Z24, Z8; \
	VUNPCKHPD Z26, Z24, Z9; \
	VUNPCKLPD Z27, Z25, Z10; \
	VUNPCKHPD Z27, Z25, Z11; \
	VUNPCKLPD Z30, Z28, Z12; \
	VUNPCKHPD Z30, Z28, Z13; \
	VUNPCKLPD Z31, Z29, Z14; \
	VUNPCKHPD Z31, Z29, Z15; \
	VSHUFF32X4 $0x88, Z4, Z0, Z16; \
	VSHUFF32X4 $0xDD, Z4, Z0, Z17; \
	VSHUFF32X4 $0x88, Z12, Z8, Z18; \
	VSHUFF32X4 $0xDD, Z12, Z8, Z19; \
	VSHUFF32X4 $0x88, Z5, Z1, Z20; \
	VSHUFF32X4 $0xDD, Z5, Z1, Z21; \
	VSHUFF32X4 $0x88, Z13, Z9, Z22; \
	VSHUFF32X4 $0xDD, Z13, Z9, Z23; \
	VSHUFF32X4 $0x88, Z6, Z2, Z24; \
	VSHUFF32X4 $0xDD, Z6, Z2, Z25; \
	VSHUFF32X4 $0x88, Z14, Z10, Z26; \
	VSHUFF32X4 $0xDD, Z14, Z10, Z27; \
	VSHUFF32X4 $0x88, Z7, Z3, Z28; \
	VSHUFF32X4 $0xDD, Z7, Z3, Z29; \
	VSHUFF32X4 $0x88, Z15, Z11, Z30; \
	VSHUFF32X4 $0xDD, Z15, Z11, Z31; \
	VSHUFF32X4.Z $0x88, Z18, Z16, K1, Z0; \
	VSHUFF32X4.Z $0xDD, Z18, Z16, K1, Z8; \
	VSHUFF32X4.Z $0x88, Z19, Z17, K1, Z4; \
	VSHUFF32X4.Z $0xDD, Z19, Z17, K1, Z12; \
	VSHUFF32X4.Z $0x88, Z22, Z20, K1, Z1; \
	VSHUFF32X4.Z $0xDD, Z22, Z20, K1, Z9; \
	VSHUFF32X4.Z $0x88, Z23, Z21, K1, Z5; \
	VSHUFF32X4.Z $0xDD, Z23, Z21, K1, Z13; \
	VSHUFF32X4.Z $0x88, Z26, Z24, K1, Z2; \
	VSHUFF32X4.Z $0xDD, Z26, Z24, K1, Z10; \
	VSHUFF32X4.Z $0x88, Z27, Z25, K1, Z6; \
	VSHUFF32X4.Z $0xDD, Z27, Z25, K1, Z14; \
	VSHUFF32X4.Z $0x88, Z30, Z28, K1, Z3; \
	VSHUFF32X4.Z $0xDD, Z30, Z28, K1, Z11; \
	VSHUFF32X4.Z $0x88, Z31, Z29, K1, Z7; \
	VSHUFF32X4.Z $0xDD, Z31, Z29, K1, Z15

// func packF32x16(xp, x *float32, off *[16]int, mask uint16, nb int)
//
// Packs 16 rows (x[off[r]…], present where mask has bit r) in blocks of 16 columns: loads
// 16 rows of a block, transposes them and stores column c at xp + c·48 floats.
TEXT ·packF32x16(SB), NOSPLIT, $0-40
	MOVQ  xp+0(FP), DI
	MOVQ  x+8(FP), SI
	MOVQ  off+16(FP), AX
	KMOVW mask+24(FP), K1
	MOVQ  nb+32(FP), CX
	TESTQ CX, CX
	JEQ   done

loop:
	MOVQ    0(AX), BX
	VMOVUPS (SI)(BX*4), Z0
	MOVQ    8(AX), DX
	VMOVUPS (SI)(DX*4), Z1
	MOVQ    16(AX), R8
	VMOVUPS (SI)(R8*4), Z2
	MOVQ    24(AX), R9
	VMOVUPS (SI)(R9*4), Z3
	MOVQ    32(AX), BX
	VMOVUPS (SI)(BX*4), Z4
	MOVQ    40(AX), DX
	VMOVUPS (SI)(DX*4), Z5
	MOVQ    48(AX), R8
	VMOVUPS (SI)(R8*4), Z6
	MOVQ    56(AX), R9
	VMOVUPS (SI)(R9*4), Z7
	MOVQ    64(AX), BX
	VMOVUPS (SI)(BX*4), Z8
	MOVQ    72(AX), DX
	VMOVUPS (SI)(DX*4), Z9
	MOVQ    80(AX), R8
	VMOVUPS (SI)(R8*4), Z10
	MOVQ    88(AX), R9
	VMOVUPS (SI)(R9*4), Z11
	MOVQ    96(AX), BX
	VMOVUPS (SI)(BX*4), Z12
	MOVQ    104(AX), DX
	VMOVUPS (SI)(DX*4), Z13
	MOVQ    112(AX), R8
	VMOVUPS (SI)(R8*4), Z14
	MOVQ    120(AX), R9
	VMOVUPS (SI)(R9*4), Z15
	transpose16
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 192(DI)
	VMOVUPS Z2, 384(DI)
	VMOVUPS Z3, 576(DI)
	VMOVUPS Z4, 768(DI)
	VMOVUPS Z5, 960(DI)
	VMOVUPS Z6, 1152(DI)
	VMOVUPS Z7, 1344(DI)
	VMOVUPS Z8, 1536(DI)
	VMOVUPS Z9, 1728(DI)
	VMOVUPS Z10, 1920(DI)
	VMOVUPS Z11, 2112(DI)
	VMOVUPS Z12, 2304(DI)
	VMOVUPS Z13, 2496(DI)
	VMOVUPS Z14, 2688(DI)
	VMOVUPS Z15, 2880(DI)
	ADDQ    $64, SI
	ADDQ    $3072, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET

// Constants for rounding to bf16, broadcast from memory: the lowest bit kept, half of it
// less one (ties go to the even neighbour by adding the kept bit, 1 more), the bit that
// quiets a NaN (bf16 0x0040), the mask of the high half, and 1.
DATA bf16Round<>+0(SB)/4, $0x00010000
DATA bf16Round<>+4(SB)/4, $0x00007fff
DATA bf16Round<>+8(SB)/4, $0x00400000
DATA bf16Round<>+12(SB)/4, $0xffff0000
DATA bf16Round<>+16(SB)/4, $1
GLOBL bf16Round<>(SB), RODATA|NOPTR, $20

// bf16Round512 rounds the floats of z to bf16 as Float32ToBF16 does, leaving each in the
// high half of its lane (low half garbage): u + 0x7fff + (u>>16 & 1), or u | 0x00400000 for
// a NaN. K2 and K3 are clobbered.
#define bf16Round512(z, t) \
	VPTESTMD.BCST bf16Round<>+0(SB), z, K3; \
	VPADDD.BCST   bf16Round<>+4(SB), z, t; \
	VPADDD.BCST   bf16Round<>+16(SB), t, K3, t; \
	VFPCLASSPSZ   $0x81, z, K2; \
	VPORD.BCST    bf16Round<>+8(SB), z, K2, t

// bf16Pair512 rounds columns even and odd and interleaves their halves into even:
// lane i = bf16(odd[i])<<16 | bf16(even[i]), the pair layout of VDPBF16PS.
#define bf16Pair512(even, odd) \
	bf16Round512(even, Z16); \
	bf16Round512(odd, Z17); \
	VPSRLD $16, Z16, even; \
	VPTERNLOGD.BCST $0xF8, bf16Round<>+12(SB), Z17, even

// func packBF16x16(xp *uint16, x *float32, off *[16]int, mask uint16, nb int)
//
// Packs 16 rows (x[off[r]…], present where mask has bit r) in blocks of 16 columns: loads
// 16 rows of a block and transposes them, then rounds the columns to bf16 and stores the
// pair of columns 2q, 2q+1 at xp + q·96 halves.
TEXT ·packBF16x16(SB), NOSPLIT, $0-40
	MOVQ  xp+0(FP), DI
	MOVQ  x+8(FP), SI
	MOVQ  off+16(FP), AX
	KMOVW mask+24(FP), K1
	MOVQ  nb+32(FP), CX
	TESTQ CX, CX
	JEQ   done

loop:
	MOVQ    0(AX), BX
	VMOVUPS (SI)(BX*4), Z0
	MOVQ    8(AX), DX
	VMOVUPS (SI)(DX*4), Z1
	MOVQ    16(AX), R8
	VMOVUPS (SI)(R8*4), Z2
	MOVQ    24(AX), R9
	VMOVUPS (SI)(R9*4), Z3
	MOVQ    32(AX), BX
	VMOVUPS (SI)(BX*4), Z4
	MOVQ    40(AX), DX
	VMOVUPS (SI)(DX*4), Z5
	MOVQ    48(AX), R8
	VMOVUPS (SI)(R8*4), Z6
	MOVQ    56(AX), R9
	VMOVUPS (SI)(R9*4), Z7
	MOVQ    64(AX), BX
	VMOVUPS (SI)(BX*4), Z8
	MOVQ    72(AX), DX
	VMOVUPS (SI)(DX*4), Z9
	MOVQ    80(AX), R8
	VMOVUPS (SI)(R8*4), Z10
	MOVQ    88(AX), R9
	VMOVUPS (SI)(R9*4), Z11
	MOVQ    96(AX), BX
	VMOVUPS (SI)(BX*4), Z12
	MOVQ    104(AX), DX
	VMOVUPS (SI)(DX*4), Z13
	MOVQ    112(AX), R8
	VMOVUPS (SI)(R8*4), Z14
	MOVQ    120(AX), R9
	VMOVUPS (SI)(R9*4), Z15
	transpose16
	bf16Pair512(Z0, Z1)
	VMOVDQU32 Z0, 0(DI)
	bf16Pair512(Z2, Z3)
	VMOVDQU32 Z2, 192(DI)
	bf16Pair512(Z4, Z5)
	VMOVDQU32 Z4, 384(DI)
	bf16Pair512(Z6, Z7)
	VMOVDQU32 Z6, 576(DI)
	bf16Pair512(Z8, Z9)
	VMOVDQU32 Z8, 768(DI)
	bf16Pair512(Z10, Z11)
	VMOVDQU32 Z10, 960(DI)
	bf16Pair512(Z12, Z13)
	VMOVDQU32 Z12, 1152(DI)
	bf16Pair512(Z14, Z15)
	VMOVDQU32 Z14, 1344(DI)
	ADDQ    $64, SI
	ADDQ    $1536, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------------------
// AVX2 (R = 24, C = 4): the kernel and panel packing.

// func gemmF32x24x4(tile, xp, w *float32, ldw, k, nw int, acc bool)
TEXT ·gemmF32x24x4(SB), NOSPLIT, $0-49
	MOVQ xp+8(FP), DI
	MOVQ w+16(FP), AX
	MOVQ ldw+24(FP), R8
	SHLQ $2, R8
	MOVQ nw+40(FP), SI
	gemm256Rows
	gemm256Acc
	MOVQ k+32(FP), R9
	SHLQ $2, R9
	MOVQ R9, R8
	ANDQ $-16, R8
	XORQ SI, SI
	gemmRowsLoop(f32Step256, 96, R8, R9)
	gemm256Store

// transpose8 transposes the 8×8 floats in Y0…Y7 (row r in Yr) into Y8…Y15 (column c in
// Y(8+c)), as transpose16 does with one lane-moving stage.
#define transpose8 \
	VUNPCKLPS Y1, Y0, Y8; \
	VUNPCKHPS Y1, Y0, Y9; \
	VUNPCKLPS Y3, Y2, Y10; \
	VUNPCKHPS Y3, Y2, Y11; \
	VUNPCKLPS Y5, Y4, Y12; \
	VUNPCKHPS Y5, Y4, Y13; \
	VUNPCKLPS Y7, Y6, Y14; \
	VUNPCKHPS Y7, Y6, Y15; \
	VUNPCKLPD Y10, Y8, Y0; \
	VUNPCKHPD Y10, Y8, Y1; \
	VUNPCKLPD Y11, Y9, Y2; \
	VUNPCKHPD Y11, Y9, Y3; \
	VUNPCKLPD Y14, Y12, Y4; \
	VUNPCKHPD Y14, Y12, Y5; \
	VUNPCKLPD Y15, Y13, Y6; \
	VUNPCKHPD Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func packF32x8(xp, x *float32, off *[8]int, mask *[8]int32, nb int)
//
// Packs 8 rows (x[off[r]…], present where mask[r] = -1, zero where 0) in blocks of 8
// columns: loads 8 rows of a block, transposes them and stores column c at xp + c·24 floats.
TEXT ·packF32x8(SB), NOSPLIT, $0-40
	MOVQ  xp+0(FP), DI
	MOVQ  x+8(FP), SI
	MOVQ  off+16(FP), AX
	MOVQ  mask+24(FP), R10
	MOVQ  nb+32(FP), CX
	TESTQ CX, CX
	JEQ   done

loop:
	MOVQ    0(AX), BX
	VMOVUPS (SI)(BX*4), Y0
	MOVQ    8(AX), DX
	VMOVUPS (SI)(DX*4), Y1
	MOVQ    16(AX), R8
	VMOVUPS (SI)(R8*4), Y2
	MOVQ    24(AX), R9
	VMOVUPS (SI)(R9*4), Y3
	MOVQ    32(AX), BX
	VMOVUPS (SI)(BX*4), Y4
	MOVQ    40(AX), DX
	VMOVUPS (SI)(DX*4), Y5
	MOVQ    48(AX), R8
	VMOVUPS (SI)(R8*4), Y6
	MOVQ    56(AX), R9
	VMOVUPS (SI)(R9*4), Y7
	transpose8
	VANDPS  (R10), Y8, Y8
	VMOVUPS Y8, 0(DI)
	VANDPS  (R10), Y9, Y9
	VMOVUPS Y9, 96(DI)
	VANDPS  (R10), Y10, Y10
	VMOVUPS Y10, 192(DI)
	VANDPS  (R10), Y11, Y11
	VMOVUPS Y11, 288(DI)
	VANDPS  (R10), Y12, Y12
	VMOVUPS Y12, 384(DI)
	VANDPS  (R10), Y13, Y13
	VMOVUPS Y13, 480(DI)
	VANDPS  (R10), Y14, Y14
	VMOVUPS Y14, 576(DI)
	VANDPS  (R10), Y15, Y15
	VMOVUPS Y15, 672(DI)
	ADDQ    $32, SI
	ADDQ    $768, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
