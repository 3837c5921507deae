//go:build !purego

#include "textflag.h"

// func gemvPackedS4AVX2(dst []float32, w []uint16, x []float32, ldg int, acc bool)
//
// gemvPackedAVX2 over four groups at a time (len(dst) a multiple of 512), read as four
// streams: a step of each group in turn, 512 bytes of each, the accumulators passing through
// dst (L1) every step, so that the chains are gemvPackedAVX2's.
//
// Registers: DI dst of the quad, SI the step of group 0, R9 the bytes from a group to the
// next, R14 3·R9, DX x (walks), R8 steps, R10 steps left, R11 the quad's first step, CX quads
// left; Y13 the odd-column mask, Y8 and Y9 x's pair of the step.

// One accumulator's share of a step: 8 rows' pairs at woff(A), the chain in doff(DI).
#define s4Acc(A, woff, doff) \
	VMOVDQU     woff(A), Y0;  \
	VPSLLD      $16, Y0, Y1;  \
	VPAND       Y13, Y0, Y0;  \
	VMOVUPS     doff(DI), Y2; \
	VFMADD231PS Y8, Y1, Y2;   \
	VFMADD231PS Y9, Y0, Y2;   \
	VMOVUPS     Y2, doff(DI)

#define s4Group(A, d) \
	s4Acc(A, 0, d+0); s4Acc(A, 32, d+32); s4Acc(A, 64, d+64); s4Acc(A, 96, d+96); \
	s4Acc(A, 128, d+128); s4Acc(A, 160, d+160); s4Acc(A, 192, d+192); s4Acc(A, 224, d+224); \
	s4Acc(A, 256, d+256); s4Acc(A, 288, d+288); s4Acc(A, 320, d+320); s4Acc(A, 352, d+352); \
	s4Acc(A, 384, d+384); s4Acc(A, 416, d+416); s4Acc(A, 448, d+448); s4Acc(A, 480, d+480)

TEXT ·gemvPackedS4AVX2(SB), NOSPLIT, $0-81
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	SHRQ $9, CX
	MOVQ w_base+24(FP), R11
	MOVQ x_len+56(FP), R8
	SHRQ $1, R8
	MOVQ ldg+72(FP), R9
	SHLQ $1, R9
	LEAQ (R9)(R9*2), R14
	MOVL $0xFFFF0000, AX
	MOVQ AX, X13
	VPBROADCASTD X13, Y13
	TESTQ CX, CX
	JZ   done

quad:
	CMPB acc+80(FP), $0
	JNE  init
	VPXOR Y0, Y0, Y0
	MOVQ DI, AX
	MOVQ $64, BX
zero:
	VMOVUPS Y0, (AX)
	ADDQ $32, AX
	DECQ BX
	JNZ  zero
init:
	MOVQ R11, SI
	MOVQ x_base+48(FP), DX
	MOVQ R8, R10
	TESTQ R10, R10
	JZ   next
	LEAQ (SI)(R9*1), R12
	LEAQ (SI)(R9*2), R13
	LEAQ (SI)(R14*1), BX

step:
	VBROADCASTSS (DX), Y8
	VBROADCASTSS 4(DX), Y9
	s4Group(SI, 0)
	s4Group(R12, 512)
	s4Group(R13, 1024)
	s4Group(BX, 1536)
	ADDQ $512, SI
	ADDQ $512, R12
	ADDQ $512, R13
	ADDQ $512, BX
	ADDQ $8, DX
	DECQ R10
	JNZ  step

next:
	ADDQ $2048, DI
	LEAQ (R11)(R9*4), R11
	DECQ CX
	JNZ  quad

done:
	VZEROUPPER
	RET

// func gemvPacked2S4AVX2(dst0, dst1 []float32, w []uint16, x0, x1 []float32, ldg int, acc bool)
//
// gemvPackedS4AVX2 for two rows of x at once, each weight widened once for both (len(dst0)
// a multiple of 512): DI dst0's quad, R12 the bytes from dst0 to dst1, DX x0 (walks), AX the
// bytes from x0 to x1; SI, R13, BX, R14 the four groups' steps, R9 the bytes from a group to
// the next; Y8, Y9 x0's pair of the step, Y10, Y11 x1's.

#define s4Acc2(A, woff, doff) \
	VMOVDQU     woff(A), Y0;         \
	VPSLLD      $16, Y0, Y1;         \
	VPAND       Y13, Y0, Y0;         \
	VMOVUPS     doff(DI), Y2;        \
	VFMADD231PS Y8, Y1, Y2;          \
	VFMADD231PS Y9, Y0, Y2;          \
	VMOVUPS     Y2, doff(DI);        \
	VMOVUPS     doff(DI)(R12*1), Y3; \
	VFMADD231PS Y10, Y1, Y3;         \
	VFMADD231PS Y11, Y0, Y3;         \
	VMOVUPS     Y3, doff(DI)(R12*1)

#define s4Group2(A, d) \
	s4Acc2(A, 0, d+0); s4Acc2(A, 32, d+32); s4Acc2(A, 64, d+64); s4Acc2(A, 96, d+96); \
	s4Acc2(A, 128, d+128); s4Acc2(A, 160, d+160); s4Acc2(A, 192, d+192); s4Acc2(A, 224, d+224); \
	s4Acc2(A, 256, d+256); s4Acc2(A, 288, d+288); s4Acc2(A, 320, d+320); s4Acc2(A, 352, d+352); \
	s4Acc2(A, 384, d+384); s4Acc2(A, 416, d+416); s4Acc2(A, 448, d+448); s4Acc2(A, 480, d+480)

TEXT ·gemvPacked2S4AVX2(SB), NOSPLIT, $0-129
	MOVQ dst0_base+0(FP), DI
	MOVQ dst0_len+8(FP), CX
	SHRQ $9, CX
	MOVQ dst1_base+24(FP), R12
	SUBQ DI, R12
	MOVQ w_base+48(FP), R11
	MOVQ x0_len+80(FP), R8
	SHRQ $1, R8
	MOVQ x1_base+96(FP), AX
	SUBQ x0_base+72(FP), AX
	MOVQ ldg+120(FP), R9
	SHLQ $1, R9
	MOVL $0xFFFF0000, SI
	MOVQ SI, X13
	VPBROADCASTD X13, Y13
	TESTQ CX, CX
	JZ   done2

quad2:
	CMPB acc+128(FP), $0
	JNE  init2
	VPXOR Y0, Y0, Y0
	MOVQ DI, SI
	MOVQ $64, R10
zero2:
	VMOVUPS Y0, (SI)
	VMOVUPS Y0, (SI)(R12*1)
	ADDQ $32, SI
	DECQ R10
	JNZ  zero2
init2:
	MOVQ R11, SI
	MOVQ x0_base+72(FP), DX
	MOVQ R8, R10
	TESTQ R10, R10
	JZ   next2
	LEAQ (SI)(R9*1), R13
	LEAQ (SI)(R9*2), BX
	LEAQ (R13)(R9*2), R14

step2:
	VBROADCASTSS (DX), Y8
	VBROADCASTSS 4(DX), Y9
	VBROADCASTSS (DX)(AX*1), Y10
	VBROADCASTSS 4(DX)(AX*1), Y11
	s4Group2(SI, 0)
	s4Group2(R13, 512)
	s4Group2(BX, 1024)
	s4Group2(R14, 1536)
	ADDQ $512, SI
	ADDQ $512, R13
	ADDQ $512, BX
	ADDQ $512, R14
	ADDQ $8, DX
	DECQ R10
	JNZ  step2

next2:
	ADDQ $2048, DI
	LEAQ (R11)(R9*4), R11
	DECQ CX
	JNZ  quad2

done2:
	VZEROUPPER
	RET

// func gemvPackedR4AVX2(dst *[4]*float32, x *[4]*float32, w *uint16, steps int)
//
// One group for four rows of x, dst[i][r] += Σ_p w(r, p)·x[i][p], each output gemvPackedAVX2's
// chain. The group is read a chunk of 16 steps (8 KiB) at a time, and within a chunk a slice
// of 16 rows at a time, whose 8 accumulators (2 rows of outputs for each row of x) stay in
// Y0…Y7 over the chunk's steps: a 32-byte load of weights serves 8 multiply-adds. A slice
// prefetches its lines of the next chunk.
//
// Registers: SI the group, DI dst's pointers, R8…R11 x's, R14 the bytes of x that the steps
// take (8 a step), DX the chunk's first step (in bytes of x), CX its end, R12 the slice
// (bytes into a step), AX the slice's weights, BX the step (bytes of x); Y15 the odd-column
// mask.

// r4Row(X, lo, hi) carries on row X of x's two chains, the step's even column (Y10, Y11) and
// odd column (Y8, Y9) of the slice.
#define r4Row(X, lo, hi) \
	VBROADCASTSS (X)(BX*1), Y12;  \
	VBROADCASTSS 4(X)(BX*1), Y13; \
	VFMADD231PS  Y12, Y10, lo;    \
	VFMADD231PS  Y12, Y11, hi;    \
	VFMADD231PS  Y13, Y8, lo;     \
	VFMADD231PS  Y13, Y9, hi

#define r4Load(i, lo, hi) \
	MOVQ    i*8(DI), R13;         \
	VMOVUPS (R13)(R12*1), lo;     \
	VMOVUPS 32(R13)(R12*1), hi

#define r4Store(i, lo, hi) \
	MOVQ    i*8(DI), R13;         \
	VMOVUPS lo, (R13)(R12*1);     \
	VMOVUPS hi, 32(R13)(R12*1)

TEXT ·gemvPackedR4AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), AX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	MOVQ w+16(FP), SI
	MOVQ steps+24(FP), R14
	SHLQ $3, R14
	MOVL $0xFFFF0000, AX
	MOVQ AX, X15
	VPBROADCASTD X15, Y15
	XORQ DX, DX

chunk:
	CMPQ    DX, R14
	JGE     done
	LEAQ    128(DX), CX
	CMPQ    CX, R14
	CMOVQGT R14, CX
	XORQ    R12, R12

slice:
	r4Load(0, Y0, Y1)
	r4Load(1, Y2, Y3)
	r4Load(2, Y4, Y5)
	r4Load(3, Y6, Y7)
	MOVQ DX, AX
	SHLQ $6, AX
	ADDQ SI, AX
	ADDQ R12, AX
	MOVQ DX, BX

step:
	PREFETCHT0 8192(AX)
	VMOVDQU    (AX), Y8
	VMOVDQU    32(AX), Y9
	VPSLLD     $16, Y8, Y10
	VPAND      Y15, Y8, Y8
	VPSLLD     $16, Y9, Y11
	VPAND      Y15, Y9, Y9
	r4Row(R8, Y0, Y1)
	r4Row(R9, Y2, Y3)
	r4Row(R10, Y4, Y5)
	r4Row(R11, Y6, Y7)
	ADDQ       $512, AX
	ADDQ       $8, BX
	CMPQ       BX, CX
	JLT        step

	r4Store(0, Y0, Y1)
	r4Store(1, Y2, Y3)
	r4Store(2, Y4, Y5)
	r4Store(3, Y6, Y7)
	ADDQ $64, R12
	CMPQ R12, $512
	JLT  slice
	MOVQ CX, DX
	JMP  chunk

done:
	VZEROUPPER
	RET
