//go:build !purego

#include "textflag.h"
#include "bf16_amd64.h"
#include "gemm_amd64.h"

// The GEMM micro-kernels over W stored by columns (element (j, p) at w[p·ldp + j], f32, or
// pair (j, s) at 32-bit word s·ldp + j, bf16), and the widening of packed groups into that
// layout; see gemm_cols_amd64.go for the loop each function computes. The kernels are those
// of gemm_amd64.s with other row bases and step (gemm_amd64.h): row j's base is w + 4j bytes
// and SI steps ldp·4 bytes, so a step reads nw consecutive elements (pairs) of W.

// gemmColsLoop runs step n ≥ 1 times (n a register, counted down to 0): SI goes from 0 by ld
// bytes (a register) a step, DI by xstep bytes of the panel; 4 steps at a time, then one at
// a time.
#define gemmColsLoop(step, xstep, ld, n) \
	XORQ SI, SI; \
	CMPQ n, $4; \
	JLT  tail; \
loop4: \
	step(0, 0); \
	ADDQ ld, SI; \
	step(xstep, 0); \
	ADDQ ld, SI; \
	step(2*xstep, 0); \
	ADDQ ld, SI; \
	step(3*xstep, 0); \
	ADDQ ld, SI; \
	ADDQ $(4*xstep), DI; \
	SUBQ $4, n; \
	CMPQ n, $4; \
	JGE  loop4; \
tail: \
	TESTQ n, n; \
	JEQ   done; \
loop1: \
	step(0, 0); \
	ADDQ ld, SI; \
	ADDQ $xstep, DI; \
	DECQ n; \
	JNZ  loop1; \
done:

// ---------------------------------------------------------------------------------------
// AVX-512 (R = 48, C = 8).

// gemm512ColsSetup loads the panel, the row bases w + 4j (rows ≥ nw aliasing row 0), the
// accumulators (acc: gemm512Acc, or gemm512Acc32 for the first 32 rows: zero or the tile's
// columns j < nw), and in R12 the bytes of a step of W.
#define gemm512ColsSetup(acc) \
	MOVQ xp+8(FP), DI; \
	MOVQ w+16(FP), AX; \
	MOVQ $4, R12; \
	MOVQ nw+40(FP), SI; \
	gemm512Rows; \
	acc; \
	MOVQ ldp+24(FP), R12; \
	SHLQ $2, R12

// func gemmF32Cols48x8(tile, xp, w *float32, ldp, k, nw int, acc bool)
TEXT ·gemmF32Cols48x8(SB), NOSPLIT, $0-49
	gemm512ColsSetup(gemm512Acc)
	MOVQ k+32(FP), R13
	gemmColsLoop(f32Step512, 192, R12, R13)
	gemm512Store

// func gemmBF16Cols48x8(tile *float32, xp, w *uint16, ldp, k, nw int, acc bool)
//
// A step covers two columns of k: k/2 steps.
TEXT ·gemmBF16Cols48x8(SB), NOSPLIT, $0-49
	gemm512ColsSetup(gemm512Acc)
	MOVQ k+32(FP), R13
	SHRQ $1, R13
	gemmColsLoop(bf16Step512, 192, R12, R13)
	gemm512Store

// func gemmF32Cols32x8(tile, xp, w *float32, ldp, k, nw int, acc bool)
TEXT ·gemmF32Cols32x8(SB), NOSPLIT, $0-49
	gemm512ColsSetup(gemm512Acc32)
	MOVQ k+32(FP), R13
	gemmColsLoop(f32Step512x32, 192, R12, R13)
	gemm512Store32

// func gemmBF16Cols32x8(tile *float32, xp, w *uint16, ldp, k, nw int, acc bool)
TEXT ·gemmBF16Cols32x8(SB), NOSPLIT, $0-49
	gemm512ColsSetup(gemm512Acc32)
	MOVQ k+32(FP), R13
	SHRQ $1, R13
	gemmColsLoop(bf16Step512x32, 192, R12, R13)
	gemm512Store32

// unpack512(o) widens the 16 pairs at o(SI) of a step: the low halves (column 2s) shifted
// into floats at o(DI), the high halves (column 2s+1) masked by Z31 at 512+o(DI).
#define unpack512(o) \
	VMOVDQU32 o(SI), Z0; \
	VPSLLD    $16, Z0, Z1; \
	VPANDD    Z31, Z0, Z0; \
	VMOVDQU32 Z1, o(DI); \
	VMOVDQU32 Z0, 512+o(DI)

// func unpackF32x512(dst *float32, src *uint16, steps int)
//
// A step is 128 pairs (512 bytes) in, two columns of 128 floats (1024 bytes) out.
TEXT ·unpackF32x512(SB), NOSPLIT, $0-24
	MOVQ       dst+0(FP), DI
	MOVQ       src+8(FP), SI
	MOVQ       steps+16(FP), CX
	VPTERNLOGD $0xFF, Z31, Z31, Z31
	VPSLLD     $16, Z31, Z31

loop:
	unpack512(0)
	unpack512(64)
	unpack512(128)
	unpack512(192)
	unpack512(256)
	unpack512(320)
	unpack512(384)
	unpack512(448)
	ADDQ $512, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------------------
// AVX2 (R = 24, C = 4).

// func gemmF32Cols24x4(tile, xp, w *float32, ldp, k, nw int, acc bool)
TEXT ·gemmF32Cols24x4(SB), NOSPLIT, $0-49
	MOVQ xp+8(FP), DI
	MOVQ w+16(FP), AX
	MOVQ $4, R8
	MOVQ nw+40(FP), SI
	gemm256Rows
	gemm256Acc
	MOVQ ldp+24(FP), R8
	SHLQ $2, R8
	MOVQ k+32(FP), R9
	gemmColsLoop(f32Step256, 96, R8, R9)
	gemm256Store

// unpackP4(o) widens the 8 pairs at o(SI), rows r…r+7 (r = o/4) of columns p and p+1, into
// panels r/4 and r/4+1 (R10 and R10+R8): in each, columns p and p+1 of its 4 rows, side by
// side. The mask is in Y15; R10 moves on two panels (R9).
#define unpackP4(o) \
	VMOVDQU    o(SI), Y0; \
	VPSLLD     $16, Y0, Y1; \
	VPAND      Y15, Y0, Y0; \
	VPERM2F128 $0x20, Y0, Y1, Y2; \
	VPERM2F128 $0x31, Y0, Y1, Y3; \
	VMOVDQU    Y2, (R10); \
	VMOVDQU    Y3, (R10)(R8*1); \
	ADDQ       R9, R10

// func unpackF32x256P4(dst *float32, src *uint16, steps int)
//
// A step is 128 pairs (512 bytes) in, 32 bytes out to each of 32 panels of 4 rows; a panel
// is 4·2·steps floats (R8 bytes).
TEXT ·unpackF32x256P4(SB), NOSPLIT, $0-24
	MOVQ     dst+0(FP), DI
	MOVQ     src+8(FP), SI
	MOVQ     steps+16(FP), CX
	MOVQ     CX, R8
	SHLQ     $5, R8
	LEAQ     (R8)(R8*1), R9
	VPCMPEQD Y15, Y15, Y15
	VPSLLD   $16, Y15, Y15

loop:
	MOVQ DI, R10
	unpackP4(0)
	unpackP4(32)
	unpackP4(64)
	unpackP4(96)
	unpackP4(128)
	unpackP4(160)
	unpackP4(192)
	unpackP4(224)
	unpackP4(256)
	unpackP4(288)
	unpackP4(320)
	unpackP4(352)
	unpackP4(384)
	unpackP4(416)
	unpackP4(448)
	unpackP4(480)
	ADDQ $512, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET
