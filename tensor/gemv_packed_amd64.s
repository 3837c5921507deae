//go:build !purego

#include "textflag.h"
#include "bf16_amd64.h"

// Matrix-vector products over packed bf16 matrices (packed.go), one group of 128 rows at a
// time. A step of the group is 512 bytes: the pairs of columns p, p+1 of its 128 rows; the
// kernels read the steps in order, so a group is one sequential stream. Each row's output is
// one lane of an accumulator, a multiply-add chain over p in order: the chain of the GEMM.
//
// Registers: DI dst, SI w, DX x, R8 len(x)/2 (steps), CX groups left, R9 the x pointer of
// the step, R10 steps left, R11 the group's start, R12 the bytes from a group to the next.

#define packedArgs \
	MOVQ dst_base+0(FP), DI; \
	MOVQ dst_len+8(FP), CX; \
	SHRQ $7, CX; \
	MOVQ w_base+24(FP), R11; \
	MOVQ x_base+48(FP), DX; \
	MOVQ x_len+56(FP), R8; \
	SHRQ $1, R8; \
	MOVQ ldg+72(FP), R12; \
	SHLQ $1, R12

// The accumulators of a group: zero, or dst's values when acc is set (a chain carried on
// from an earlier block of columns).
#define packedInit512(z0, z1, z2, z3, z4, z5, z6, z7, zero, skip) \
	CMPB acc+80(FP), $0; \
	JEQ  zero; \
	VMOVUPS 0(DI), z0; \
	VMOVUPS 64(DI), z1; \
	VMOVUPS 128(DI), z2; \
	VMOVUPS 192(DI), z3; \
	VMOVUPS 256(DI), z4; \
	VMOVUPS 320(DI), z5; \
	VMOVUPS 384(DI), z6; \
	VMOVUPS 448(DI), z7; \
	JMP  skip; \
zero: \
	VPXORD z0, z0, z0; \
	VPXORD z1, z1, z1; \
	VPXORD z2, z2, z2; \
	VPXORD z3, z3, z3; \
	VPXORD z4, z4, z4; \
	VPXORD z5, z5, z5; \
	VPXORD z6, z6, z6; \
	VPXORD z7, z7, z7; \
skip:

// Four accumulators' share of an AVX-512 step: the 64 bytes at off(SI) are 16 rows' pairs;
// the even elements, shifted up, are the bf16 of column p, the odd ones, masked, of p+1.
#define packed512Quarter(off, t0, t1, t2, t3, a0, a1, a2, a3) \
	VMOVDQU32 off(SI), t0; \
	VMOVDQU32 off+64(SI), t1; \
	VMOVDQU32 off+128(SI), t2; \
	VMOVDQU32 off+192(SI), t3; \
	VPSLLD $16, t0, Z20; \
	VPSLLD $16, t1, Z21; \
	VPSLLD $16, t2, Z22; \
	VPSLLD $16, t3, Z23; \
	VPANDD Z31, t0, t0; \
	VPANDD Z31, t1, t1; \
	VPANDD Z31, t2, t2; \
	VPANDD Z31, t3, t3; \
	VFMADD231PS Z8, Z20, a0; \
	VFMADD231PS Z8, Z21, a1; \
	VFMADD231PS Z8, Z22, a2; \
	VFMADD231PS Z8, Z23, a3; \
	VFMADD231PS Z9, t0, a0; \
	VFMADD231PS Z9, t1, a1; \
	VFMADD231PS Z9, t2, a2; \
	VFMADD231PS Z9, t3, a3

// func gemvPackedAVX512(dst []float32, w []uint16, x []float32, ldg int, acc bool)
TEXT ·gemvPackedAVX512(SB), NOSPLIT, $0-81
	packedArgs
	MOVL $0xFFFF0000, AX
	VPBROADCASTD AX, Z31
	TESTQ CX, CX
	JZ done
group:
	packedInit512(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, zero, init)
	MOVQ R11, SI
	MOVQ DX, R9
	MOVQ R8, R10
	TESTQ R10, R10
	JZ store
step:
	VBROADCASTSS (R9), Z8
	VBROADCASTSS 4(R9), Z9
	packed512Quarter(0, Z10, Z11, Z12, Z13, Z0, Z1, Z2, Z3)
	packed512Quarter(256, Z14, Z15, Z16, Z17, Z4, Z5, Z6, Z7)
	ADDQ $512, SI
	ADDQ $8, R9
	DECQ R10
	JNZ step
store:
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ $512, DI
	ADDQ R12, R11
	DECQ CX
	JNZ group
done:
	VZEROUPPER
	RET

// func gemvPackedFastAVX512(dst []float32, w []uint16, x []uint16, ldg int, acc bool)
//
// A step's pair of x (columns p, p+1, one 32-bit word) broadcast, and VDPBF16PS with each
// 64 bytes of the step: 16 rows' products of both columns.
TEXT ·gemvPackedFastAVX512(SB), NOSPLIT, $0-81
	packedArgs
	TESTQ CX, CX
	JZ fdone
fgroup:
	packedInit512(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, zero, init)
	MOVQ R11, SI
	MOVQ DX, R9
	MOVQ R8, R10
	TESTQ R10, R10
	JZ fstore
fstep:
	VPBROADCASTD (R9), Z8
	VMOVDQU32 0(SI), Z10
	VMOVDQU32 64(SI), Z11
	VMOVDQU32 128(SI), Z12
	VMOVDQU32 192(SI), Z13
	VMOVDQU32 256(SI), Z14
	VMOVDQU32 320(SI), Z15
	VMOVDQU32 384(SI), Z16
	VMOVDQU32 448(SI), Z17
	VDPBF16PS(8, 10, 0)
	VDPBF16PS(8, 11, 1)
	VDPBF16PS(8, 12, 2)
	VDPBF16PS(8, 13, 3)
	VDPBF16PS(8, 14, 4)
	VDPBF16PS(8, 15, 5)
	VDPBF16PS(8, 16, 6)
	VDPBF16PS(8, 17, 7)
	ADDQ $512, SI
	ADDQ $4, R9
	DECQ R10
	JNZ fstep
fstore:
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ $512, DI
	ADDQ R12, R11
	DECQ CX
	JNZ fgroup
fdone:
	VZEROUPPER
	RET

// Two accumulators' share of an AVX2 step: the 32 bytes at off(SI) are 8 rows' pairs.
#define packed256Pair(off, t0, t1, a0, a1) \
	VMOVDQU off(SI), t0; \
	VMOVDQU off+32(SI), t1; \
	VPSLLD $16, t0, Y14; \
	VPSLLD $16, t1, Y15; \
	VPAND Y13, t0, t0; \
	VPAND Y13, t1, t1; \
	VFMADD231PS Y8, Y14, a0; \
	VFMADD231PS Y8, Y15, a1; \
	VFMADD231PS Y9, t0, a0; \
	VFMADD231PS Y9, t1, a1

// func gemvPackedAVX2(dst []float32, w []uint16, x []float32, ldg int, acc bool)
//
// Sixteen ymm registers hold half a group's accumulators: each group is read in two passes,
// rows 0–63 (the first 256 bytes of every step), then rows 64–127.
TEXT ·gemvPackedAVX2(SB), NOSPLIT, $0-81
	packedArgs
	MOVL $0xFFFF0000, AX
	MOVQ AX, X13
	VPBROADCASTD X13, Y13
	TESTQ CX, CX
	JZ adone
agroup:
	MOVQ $2, R13
	MOVQ R11, BX
ahalf:
	CMPB acc+80(FP), $0
	JEQ  azero
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	JMP  ainit
azero:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
ainit:
	MOVQ DX, R9
	MOVQ R8, R10
	MOVQ BX, SI
	TESTQ R10, R10
	JZ astore
astep:
	VBROADCASTSS (R9), Y8
	VBROADCASTSS 4(R9), Y9
	packed256Pair(0, Y10, Y11, Y0, Y1)
	packed256Pair(64, Y10, Y11, Y2, Y3)
	packed256Pair(128, Y10, Y11, Y4, Y5)
	packed256Pair(192, Y10, Y11, Y6, Y7)
	ADDQ $512, SI
	ADDQ $8, R9
	DECQ R10
	JNZ astep
astore:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ $256, DI
	ADDQ $256, BX
	DECQ R13
	JNZ ahalf
	ADDQ R12, R11
	DECQ CX
	JNZ agroup
adone:
	VZEROUPPER
	RET
