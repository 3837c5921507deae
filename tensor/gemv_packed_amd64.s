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

// Eight accumulators set to zero.
#define zero8(z0, z1, z2, z3, z4, z5, z6, z7) \
	VPXORD z0, z0, z0; \
	VPXORD z1, z1, z1; \
	VPXORD z2, z2, z2; \
	VPXORD z3, z3, z3; \
	VPXORD z4, z4, z4; \
	VPXORD z5, z5, z5; \
	VPXORD z6, z6, z6; \
	VPXORD z7, z7, z7

// Sixteen accumulators, Z0-Z7 and Z8-Z15: the 128 floats at p0 and the 128 at p1 when AL
// (the kernel's acc flag) is set, else zero.
#define init16(p0, p1, zero, init) \
	TESTB AL, AL; \
	JEQ   zero; \
	load8(p0, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7); \
	load8(p1, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15); \
	JMP   init; \
zero: \
	zero8(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7); \
	zero8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15); \
init:

#define store8(r, z0, z1, z2, z3, z4, z5, z6, z7) \
	VMOVUPS z0, 0(r); \
	VMOVUPS z1, 64(r); \
	VMOVUPS z2, 128(r); \
	VMOVUPS z3, 192(r); \
	VMOVUPS z4, 256(r); \
	VMOVUPS z5, 320(r); \
	VMOVUPS z6, 384(r); \
	VMOVUPS z7, 448(r)

#define load8(r, z0, z1, z2, z3, z4, z5, z6, z7) \
	VMOVUPS 0(r), z0; \
	VMOVUPS 64(r), z1; \
	VMOVUPS 128(r), z2; \
	VMOVUPS 192(r), z3; \
	VMOVUPS 256(r), z4; \
	VMOVUPS 320(r), z5; \
	VMOVUPS 384(r), z6; \
	VMOVUPS 448(r), z7

// The four 64-byte vectors at off(base), 16 rows' pairs each, widened: the even elements,
// shifted up, are the bf16 of column p (Z24-Z27), the odd ones, masked (Z31), of p+1
// (Z20-Z23).
#define widen4(base, off) \
	VMOVDQU32 off(base), Z20; \
	VMOVDQU32 off+64(base), Z21; \
	VMOVDQU32 off+128(base), Z22; \
	VMOVDQU32 off+192(base), Z23; \
	VPSLLD $16, Z20, Z24; \
	VPSLLD $16, Z21, Z25; \
	VPSLLD $16, Z22, Z26; \
	VPSLLD $16, Z23, Z27; \
	VPANDD Z31, Z20, Z20; \
	VPANDD Z31, Z21, Z21; \
	VPANDD Z31, Z22, Z22; \
	VPANDD Z31, Z23, Z23

// Four accumulators' share of an AVX-512 step of the group at base: widen4's columns p and
// p+1 times x[p] (Z16) and x[p+1] (Z17).
#define packed512QuarterAt(base, off, a0, a1, a2, a3) \
	widen4(base, off); \
	VFMADD231PS Z16, Z24, a0; \
	VFMADD231PS Z16, Z25, a1; \
	VFMADD231PS Z16, Z26, a2; \
	VFMADD231PS Z16, Z27, a3; \
	VFMADD231PS Z17, Z20, a0; \
	VFMADD231PS Z17, Z21, a1; \
	VFMADD231PS Z17, Z22, a2; \
	VFMADD231PS Z17, Z23, a3

// The prefetches of a step of the two-group kernels: each stream's 512 bytes two steps ahead.
#define packedG2Prefetch \
	PREFETCHT0 1024(SI); \
	PREFETCHT0 1024(BX); \
	PREFETCHT0 1088(SI); \
	PREFETCHT0 1088(BX); \
	PREFETCHT0 1152(SI); \
	PREFETCHT0 1152(BX); \
	PREFETCHT0 1216(SI); \
	PREFETCHT0 1216(BX); \
	PREFETCHT0 1280(SI); \
	PREFETCHT0 1280(BX); \
	PREFETCHT0 1344(SI); \
	PREFETCHT0 1344(BX); \
	PREFETCHT0 1408(SI); \
	PREFETCHT0 1408(BX); \
	PREFETCHT0 1472(SI); \
	PREFETCHT0 1472(BX)

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
	zero8(z0, z1, z2, z3, z4, z5, z6, z7); \
skip:

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
	VBROADCASTSS (R9), Z16
	VBROADCASTSS 4(R9), Z17
	packed512QuarterAt(SI, 0, Z0, Z1, Z2, Z3)
	packed512QuarterAt(SI, 256, Z4, Z5, Z6, Z7)
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

// The steps of a block that gemvPackedAVX2 reads as two halves before the next: 8 steps,
// 4 KiB, so that the second half finds the block's lines in L1 and memory sees a nearly
// sequential read. On an AMD EPYC Zen 3 (2 vCPUs, go test -bench 'GemvBF16Packed$/avx2',
// one core, 2026-12-02) blocks of 8 steps read 8.3–9.3 GB/s from memory, 16 steps 6.5–8.8,
// 32 steps 5.5–6.3, 128 steps 4.0–6.0, a whole group 4.0–4.2, beside a plain read of
// 8.3–12; from L2 all read alike (35–38 GB/s).
#define avx2BlockSteps 8

// One half of a block: the accumulators of rows off/4 to off/4+63 (off 0 or 256 bytes into
// each step) carried on from dst (or zero at the group's first block without acc), R13 steps
// from BX (x from AX), stored back to dst.
#define packedAVX2Half(off, load, zero, init, step, done) \
	CMPQ R14, R8; \
	JNE  load; \
	CMPB acc+80(FP), $0; \
	JEQ  zero; \
load: \
	VMOVUPS off+0(DI), Y0; \
	VMOVUPS off+32(DI), Y1; \
	VMOVUPS off+64(DI), Y2; \
	VMOVUPS off+96(DI), Y3; \
	VMOVUPS off+128(DI), Y4; \
	VMOVUPS off+160(DI), Y5; \
	VMOVUPS off+192(DI), Y6; \
	VMOVUPS off+224(DI), Y7; \
	JMP  init; \
zero: \
	VPXOR Y0, Y0, Y0; \
	VPXOR Y1, Y1, Y1; \
	VPXOR Y2, Y2, Y2; \
	VPXOR Y3, Y3, Y3; \
	VPXOR Y4, Y4, Y4; \
	VPXOR Y5, Y5, Y5; \
	VPXOR Y6, Y6, Y6; \
	VPXOR Y7, Y7, Y7; \
init: \
	MOVQ AX, R9; \
	MOVQ BX, SI; \
	MOVQ R13, R10; \
	TESTQ R10, R10; \
	JZ   done; \
step: \
	VBROADCASTSS (R9), Y8; \
	VBROADCASTSS 4(R9), Y9; \
	packed256Pair(off, Y10, Y11, Y0, Y1); \
	packed256Pair(off+64, Y10, Y11, Y2, Y3); \
	packed256Pair(off+128, Y10, Y11, Y4, Y5); \
	packed256Pair(off+192, Y10, Y11, Y6, Y7); \
	ADDQ $512, SI; \
	ADDQ $8, R9; \
	DECQ R10; \
	JNZ  step; \
done: \
	VMOVUPS Y0, off+0(DI); \
	VMOVUPS Y1, off+32(DI); \
	VMOVUPS Y2, off+64(DI); \
	VMOVUPS Y3, off+96(DI); \
	VMOVUPS Y4, off+128(DI); \
	VMOVUPS Y5, off+160(DI); \
	VMOVUPS Y6, off+192(DI); \
	VMOVUPS Y7, off+224(DI)

// func gemvPackedAVX2(dst []float32, w []uint16, x []float32, ldg int, acc bool)
//
// Sixteen ymm registers hold half a group's accumulators, so each block of a group's steps is
// read in two halves, rows 0–63 (the first 256 bytes of every step), then rows 64–127, the
// accumulators passing through dst between them: the chains are those of one pass.
//
// Registers besides packedArgs': BX the block's first step, AX its x, R13 its steps, R14 the
// group's steps left before it.
TEXT ·gemvPackedAVX2(SB), NOSPLIT, $0-81
	packedArgs
	MOVL $0xFFFF0000, AX
	MOVQ AX, X13
	VPBROADCASTD X13, Y13
	TESTQ CX, CX
	JZ adone
agroup:
	MOVQ R11, BX
	MOVQ DX, AX
	MOVQ R8, R14
ablock:
	MOVQ $avx2BlockSteps, R13
	CMPQ R14, R13
	CMOVQLT R14, R13
	packedAVX2Half(0, aload0, azero0, ainit0, astep0, adone0)
	packedAVX2Half(256, aload1, azero1, ainit1, astep1, adone1)
	MOVQ R13, R10
	SHLQ $9, R10
	ADDQ R10, BX
	LEAQ (AX)(R13*8), AX
	SUBQ R13, R14
	JNZ  ablock
	ADDQ $512, DI
	ADDQ R12, R11
	DECQ CX
	JNZ agroup
adone:
	VZEROUPPER
	RET

// Four accumulators per row of x's share of a two-row step: the 64-byte vectors at off(SI)
// widened once, then multiplied into row 0's chains (x0 in Z16, Z17) and row 1's (Z18, Z19).
#define packed512Two(off, a0, a1, a2, a3, b0, b1, b2, b3) \
	widen4(SI, off); \
	VFMADD231PS Z16, Z24, a0; \
	VFMADD231PS Z16, Z25, a1; \
	VFMADD231PS Z16, Z26, a2; \
	VFMADD231PS Z16, Z27, a3; \
	VFMADD231PS Z18, Z24, b0; \
	VFMADD231PS Z18, Z25, b1; \
	VFMADD231PS Z18, Z26, b2; \
	VFMADD231PS Z18, Z27, b3; \
	VFMADD231PS Z17, Z20, a0; \
	VFMADD231PS Z17, Z21, a1; \
	VFMADD231PS Z17, Z22, a2; \
	VFMADD231PS Z17, Z23, a3; \
	VFMADD231PS Z19, Z20, b0; \
	VFMADD231PS Z19, Z21, b1; \
	VFMADD231PS Z19, Z22, b2; \
	VFMADD231PS Z19, Z23, b3

// func gemvPacked2AVX512(dst0, dst1 []float32, w []uint16, x0, x1 []float32, ldg int, acc bool)
//
// Two rows of x over the same groups, each step's weights widened once for both: DI dst0,
// BX dst1, DX x0, R13 x1 (R9 and R14 their step pointers).
TEXT ·gemvPacked2AVX512(SB), NOSPLIT, $0-129
	MOVQ dst0_base+0(FP), DI
	MOVQ dst0_len+8(FP), CX
	SHRQ $7, CX
	MOVQ dst1_base+24(FP), BX
	MOVQ w_base+48(FP), R11
	MOVQ x0_base+72(FP), DX
	MOVQ x0_len+80(FP), R8
	SHRQ $1, R8
	MOVQ x1_base+96(FP), R13
	MOVQ ldg+120(FP), R12
	SHLQ $1, R12
	MOVL $0xFFFF0000, AX
	VPBROADCASTD AX, Z31
	TESTQ CX, CX
	JZ tdone
tgroup:
	MOVBLZX acc+128(FP), AX
	init16(DI, BX, tzero, tinit)
	MOVQ R11, SI
	MOVQ DX, R9
	MOVQ R13, R14
	MOVQ R8, R10
	TESTQ R10, R10
	JZ tstore
tstep:
	VBROADCASTSS (R9), Z16
	VBROADCASTSS 4(R9), Z17
	VBROADCASTSS (R14), Z18
	VBROADCASTSS 4(R14), Z19
	packed512Two(0, Z0, Z1, Z2, Z3, Z8, Z9, Z10, Z11)
	packed512Two(256, Z4, Z5, Z6, Z7, Z12, Z13, Z14, Z15)
	ADDQ $512, SI
	ADDQ $8, R9
	ADDQ $8, R14
	DECQ R10
	JNZ tstep
tstore:
	store8(DI, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	store8(BX, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ADDQ $512, DI
	ADDQ $512, BX
	ADDQ R12, R11
	DECQ CX
	JNZ tgroup
tdone:
	VZEROUPPER
	RET

#define packedFastTwo(off, a0, a1, a2, a3, b0, b1, b2, b3) \
	VMOVDQU32 off(SI), Z20; \
	VMOVDQU32 off+64(SI), Z21; \
	VMOVDQU32 off+128(SI), Z22; \
	VMOVDQU32 off+192(SI), Z23; \
	VDPBF16PS(16, 20, a0); \
	VDPBF16PS(16, 21, a1); \
	VDPBF16PS(16, 22, a2); \
	VDPBF16PS(16, 23, a3); \
	VDPBF16PS(18, 20, b0); \
	VDPBF16PS(18, 21, b1); \
	VDPBF16PS(18, 22, b2); \
	VDPBF16PS(18, 23, b3)

// func gemvPacked2FastAVX512(dst0, dst1 []float32, w []uint16, x0, x1 []uint16, ldg int, acc bool)
TEXT ·gemvPacked2FastAVX512(SB), NOSPLIT, $0-129
	MOVQ dst0_base+0(FP), DI
	MOVQ dst0_len+8(FP), CX
	SHRQ $7, CX
	MOVQ dst1_base+24(FP), BX
	MOVQ w_base+48(FP), R11
	MOVQ x0_base+72(FP), DX
	MOVQ x0_len+80(FP), R8
	SHRQ $1, R8
	MOVQ x1_base+96(FP), R13
	MOVQ ldg+120(FP), R12
	SHLQ $1, R12
	TESTQ CX, CX
	JZ udone
ugroup:
	MOVBLZX acc+128(FP), AX
	init16(DI, BX, uzero, uinit)
	MOVQ R11, SI
	MOVQ DX, R9
	MOVQ R13, R14
	MOVQ R8, R10
	TESTQ R10, R10
	JZ ustore
ustep:
	VPBROADCASTD (R9), Z16
	VPBROADCASTD (R14), Z18
	packedFastTwo(0, 0, 1, 2, 3, 8, 9, 10, 11)
	packedFastTwo(256, 4, 5, 6, 7, 12, 13, 14, 15)
	ADDQ $512, SI
	ADDQ $4, R9
	ADDQ $4, R14
	DECQ R10
	JNZ ustep
ustore:
	store8(DI, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	store8(BX, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ADDQ $512, DI
	ADDQ $512, BX
	ADDQ R12, R11
	DECQ CX
	JNZ ugroup
udone:
	VZEROUPPER
	RET

// func gemvPackedG2AVX512(dst []float32, w []uint16, x []float32, ldg int, acc bool)
//
// gemvPackedAVX512 over two groups at a time (len(dst) a multiple of 256), read as two
// streams, each prefetched two steps ahead: SI the first group's step, BX the second's.
TEXT ·gemvPackedG2AVX512(SB), NOSPLIT, $0-81
	packedArgs
	SHRQ $1, CX
	MOVL $0xFFFF0000, AX
	VPBROADCASTD AX, Z31
	TESTQ CX, CX
	JZ gdone
ggroup:
	MOVBLZX acc+80(FP), AX
	LEAQ 512(DI), R13
	init16(DI, R13, gzero, ginit)
	MOVQ R11, SI
	LEAQ (R11)(R12*1), BX
	MOVQ DX, R9
	MOVQ R8, R10
	TESTQ R10, R10
	JZ gstore
gstep:
	packedG2Prefetch
	VBROADCASTSS (R9), Z16
	VBROADCASTSS 4(R9), Z17
	packed512QuarterAt(SI, 0, Z0, Z1, Z2, Z3)
	packed512QuarterAt(BX, 0, Z8, Z9, Z10, Z11)
	packed512QuarterAt(SI, 256, Z4, Z5, Z6, Z7)
	packed512QuarterAt(BX, 256, Z12, Z13, Z14, Z15)
	ADDQ $512, SI
	ADDQ $512, BX
	ADDQ $8, R9
	DECQ R10
	JNZ gstep
gstore:
	store8(DI, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	store8(R13, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ADDQ $1024, DI
	LEAQ (R11)(R12*2), R11
	DECQ CX
	JNZ ggroup
gdone:
	VZEROUPPER
	RET

// func gemvPackedFastG2AVX512(dst []float32, w []uint16, xb []uint16, ldg int, acc bool)
//
// gemvPackedFastAVX512 over two groups at a time, as gemvPackedG2AVX512.
TEXT ·gemvPackedFastG2AVX512(SB), NOSPLIT, $0-81
	packedArgs
	SHRQ $1, CX
	TESTQ CX, CX
	JZ hdone
hgroup:
	MOVBLZX acc+80(FP), AX
	LEAQ 512(DI), R13
	init16(DI, R13, hzero, hinit)
	MOVQ R11, SI
	LEAQ (R11)(R12*1), BX
	MOVQ DX, R9
	MOVQ R8, R10
	TESTQ R10, R10
	JZ hstore
hstep:
	packedG2Prefetch
	VPBROADCASTD (R9), Z16
	VMOVDQU32 0(SI), Z20
	VMOVDQU32 64(SI), Z21
	VMOVDQU32 128(SI), Z22
	VMOVDQU32 192(SI), Z23
	VMOVDQU32 0(BX), Z24
	VMOVDQU32 64(BX), Z25
	VMOVDQU32 128(BX), Z26
	VMOVDQU32 192(BX), Z27
	VDPBF16PS(16, 20, 0)
	VDPBF16PS(16, 21, 1)
	VDPBF16PS(16, 22, 2)
	VDPBF16PS(16, 23, 3)
	VDPBF16PS(16, 24, 8)
	VDPBF16PS(16, 25, 9)
	VDPBF16PS(16, 26, 10)
	VDPBF16PS(16, 27, 11)
	VMOVDQU32 256(SI), Z20
	VMOVDQU32 320(SI), Z21
	VMOVDQU32 384(SI), Z22
	VMOVDQU32 448(SI), Z23
	VMOVDQU32 256(BX), Z24
	VMOVDQU32 320(BX), Z25
	VMOVDQU32 384(BX), Z26
	VMOVDQU32 448(BX), Z27
	VDPBF16PS(16, 20, 4)
	VDPBF16PS(16, 21, 5)
	VDPBF16PS(16, 22, 6)
	VDPBF16PS(16, 23, 7)
	VDPBF16PS(16, 24, 12)
	VDPBF16PS(16, 25, 13)
	VDPBF16PS(16, 26, 14)
	VDPBF16PS(16, 27, 15)
	ADDQ $512, SI
	ADDQ $512, BX
	ADDQ $4, R9
	DECQ R10
	JNZ hstep
hstore:
	store8(DI, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	store8(R13, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	ADDQ $1024, DI
	LEAQ (R11)(R12*2), R11
	DECQ CX
	JNZ hgroup
hdone:
	VZEROUPPER
	RET
