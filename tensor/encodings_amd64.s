//go:build !purego

#include "textflag.h"
#include "bf16_amd64.h"

// The hand-encoded instructions of bf16_amd64.h, for the tests: one table of uses that
// TestEncodings reads back with objdump, and two functions that run an instruction on
// known values.

// bf16Encodings is never called: it is the table of TestEncodings, which parses this
// function's source and compares each line with objdump's reading of its bytes. Every macro
// of bf16_amd64.h appears: register 0 and the largest register for each operand, then each
// bit of each operand set on its own (a wrong shift or a dropped bit shows as a wrong
// register), and for the AMX memory forms bases and indexes with and without the REX bits,
// SP and BP as base, R12 as index, large and negative displacements.
TEXT bf16Encodings<>(SB), NOSPLIT|NOFRAME, $0-0
	VDPBF16PS(0, 0, 0)
	VDPBF16PS(31, 31, 31)
	VDPBF16PS(1, 2, 3)
	VDPBF16PS(1, 0, 0)
	VDPBF16PS(2, 0, 0)
	VDPBF16PS(4, 0, 0)
	VDPBF16PS(8, 0, 0)
	VDPBF16PS(16, 0, 0)
	VDPBF16PS(0, 1, 0)
	VDPBF16PS(0, 2, 0)
	VDPBF16PS(0, 4, 0)
	VDPBF16PS(0, 8, 0)
	VDPBF16PS(0, 16, 0)
	VDPBF16PS(0, 0, 1)
	VDPBF16PS(0, 0, 2)
	VDPBF16PS(0, 0, 4)
	VDPBF16PS(0, 0, 8)
	VDPBF16PS(0, 0, 16)
	VCVTNEPS2BF16(0, 0)
	VCVTNEPS2BF16(31, 31)
	VCVTNEPS2BF16(1, 0)
	VCVTNEPS2BF16(2, 0)
	VCVTNEPS2BF16(4, 0)
	VCVTNEPS2BF16(8, 0)
	VCVTNEPS2BF16(16, 0)
	VCVTNEPS2BF16(0, 1)
	VCVTNEPS2BF16(0, 2)
	VCVTNEPS2BF16(0, 4)
	VCVTNEPS2BF16(0, 8)
	VCVTNEPS2BF16(0, 16)
	LDTILECFG(rAX)
	LDTILECFG(rCX)
	LDTILECFG(rDX)
	LDTILECFG(rSI)
	LDTILECFG(rR8)
	LDTILECFG(rR15)
	TILERELEASE
	TILEZERO(0)
	TILEZERO(1)
	TILEZERO(2)
	TILEZERO(4)
	TILEZERO(7)
	TILELOADD(0, rAX, rCX, 0)
	TILELOADD(1, rCX, rAX, 64)
	TILELOADD(2, rDX, rDX, 128)
	TILELOADD(4, rSP, rBP, 256)
	TILELOADD(7, rR15, rR15, 2147483632)
	TILELOADD(3, rR8, rR9, 0)
	TILELOADD(5, rR13, rR12, 8)
	TILELOADD(6, rBX, rR14, -64)
	TILESTORED(0, rAX, rCX, 0)
	TILESTORED(1, rCX, rAX, 64)
	TILESTORED(2, rDX, rDX, 128)
	TILESTORED(4, rSP, rBP, 256)
	TILESTORED(7, rR15, rR15, 2147483632)
	TILESTORED(3, rR8, rR9, 0)
	TILESTORED(5, rR13, rR12, 8)
	TILESTORED(6, rBX, rR14, -64)
	TDPBF16PS(7, 6, 0)
	TDPBF16PS(1, 2, 4)
	TDPBF16PS(2, 4, 1)
	TDPBF16PS(4, 1, 2)
	TDPBF16PS(0, 7, 3)
	RET

// func encodingsEntry() uintptr
TEXT ·encodingsEntry(SB), NOSPLIT, $0-8
	MOVQ $bf16Encodings<>(SB), AX
	MOVQ AX, ret+0(FP)
	RET

// func vdpbf16psTest(acc *[3][16]float32, a, b *[32]uint16)
//
// acc[i] += pair products of a and b through VDPBF16PS with three register assignments, low,
// high and mixed.
TEXT ·vdpbf16psTest(SB), NOSPLIT, $0-24
	MOVQ      acc+0(FP), DI
	MOVQ      a+8(FP), SI
	MOVQ      b+16(FP), DX
	VMOVDQU16 (SI), Z2
	VMOVDQU16 (DX), Z1
	VMOVUPS   (DI), Z3
	VDPBF16PS(1, 2, 3)
	VMOVUPS   Z3, (DI)
	VMOVDQU16 (SI), Z9
	VMOVDQU16 (DX), Z17
	VMOVUPS   64(DI), Z30
	VDPBF16PS(17, 9, 30)
	VMOVUPS   Z30, 64(DI)
	VMOVDQU16 (SI), Z20
	VMOVDQU16 (DX), Z8
	VMOVUPS   128(DI), Z5
	VDPBF16PS(8, 20, 5)
	VMOVUPS   Z5, 128(DI)
	VZEROUPPER
	RET

// func vcvtneps2bf16Test(dst *[2][16]uint16, src *[16]float32)
//
// dst[i] = VCVTNEPS2BF16(src) with two register assignments, Z1 → Y2 and Z17 → Y25.
TEXT ·vcvtneps2bf16Test(SB), NOSPLIT, $0-16
	MOVQ      dst+0(FP), DI
	MOVQ      src+8(FP), SI
	VMOVUPS   (SI), Z1
	VCVTNEPS2BF16(1, 2)
	VMOVDQU16 Y2, (DI)
	VMOVUPS   (SI), Z17
	VCVTNEPS2BF16(17, 25)
	VMOVDQU16 Y25, 32(DI)
	VZEROUPPER
	RET
