//go:build !purego

#include "textflag.h"

// dequant8(o, d) widens the 8 int8 at o(SI) to float32, times the scale in Y0, into d(DI).
#define dequant8(o, d) \
	VPMOVSXBD o(SI), Y1; \
	VCVTDQ2PS Y1, Y1; \
	VMULPS    Y0, Y1, Y1; \
	VMOVUPS   Y1, d(DI)

// func dequantizeQ8_0AVX2(dst *float32, src *byte, blocks int)
//
// A block is 34 bytes in (an f16 scale, 32 int8), 32 floats out. The scale is the lowest of
// the four halves VCVTPH2PS widens from the block's first 8 bytes.
TEXT ·dequantizeQ8_0AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	TESTQ CX, CX
	JZ   done

loop:
	VCVTPH2PS    (SI), X0
	VBROADCASTSS X0, Y0
	dequant8(2, 0)
	dequant8(10, 32)
	dequant8(18, 64)
	dequant8(26, 96)
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
