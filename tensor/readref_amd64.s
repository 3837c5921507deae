//go:build !purego

#include "textflag.h"

// Load-only twins of the decode kernels' access pattern (gemv_amd64.s), for the benchmark's
// read reference: the rows of b read as four streams, one per quarter, 128 bytes of each per
// step, each stream prefetched PFDIST bytes ahead. The loads feed VPADDQ so that they cannot
// be dropped.
//
//	SI  quarter 0 (walks)   R12 quarter 1 (walks)   R9 bytes of a quarter   AX end of quarter 0

// PFDIST is gemv_amd64.s's: change both together.
#define PFDIST 2048

// PF4x2 is gemv_amd64.s's: 128 bytes of each stream, PFDIST bytes ahead.
#define PF4x2 \
	PREFETCHT0 PFDIST(SI);          \
	PREFETCHT0 PFDIST+64(SI);       \
	PREFETCHT0 PFDIST(SI)(R9*1);    \
	PREFETCHT0 PFDIST+64(SI)(R9*1); \
	PREFETCHT0 PFDIST(SI)(R9*2);    \
	PREFETCHT0 PFDIST+64(SI)(R9*2); \
	PREFETCHT0 PFDIST(R12)(R9*2);   \
	PREFETCHT0 PFDIST+64(R12)(R9*2)

#define NOPF

#define SETUP \
	MOVQ b_base+0(FP), SI;   \
	MOVQ b_len+8(FP), R9;    \
	SHRQ $2, R9;             \
	LEAQ (SI)(R9*1), AX;     \
	LEAQ (SI)(R9*1), R12

// READ512(PF) is a whole AVX-512 kernel body.
#define READ512(PF) \
	SETUP                          \
	VPXORQ Z8, Z8, Z8              \
	VPXORQ Z9, Z9, Z9              \
	VPXORQ Z10, Z10, Z10           \
	VPXORQ Z11, Z11, Z11           \
	VPXORQ Z12, Z12, Z12           \
	VPXORQ Z13, Z13, Z13           \
	VPXORQ Z14, Z14, Z14           \
	VPXORQ Z15, Z15, Z15           \
loop:                              \
	CMPQ   SI, AX                  \
	JAE    sum                     \
	PF                             \
	VPADDQ (SI), Z8, Z8            \
	VPADDQ 64(SI), Z12, Z12        \
	VPADDQ (SI)(R9*1), Z9, Z9      \
	VPADDQ 64(SI)(R9*1), Z13, Z13  \
	VPADDQ (SI)(R9*2), Z10, Z10    \
	VPADDQ 64(SI)(R9*2), Z14, Z14  \
	VPADDQ (R12)(R9*2), Z11, Z11   \
	VPADDQ 64(R12)(R9*2), Z15, Z15 \
	ADDQ   $128, SI                \
	ADDQ   $128, R12               \
	JMP    loop                    \
sum:                               \
	VPADDQ Z12, Z8, Z8             \
	VPADDQ Z13, Z9, Z9             \
	VPADDQ Z14, Z10, Z10           \
	VPADDQ Z15, Z11, Z11           \
	VPADDQ Z9, Z8, Z8              \
	VPADDQ Z11, Z10, Z10           \
	VPADDQ Z10, Z8, Z8             \
	VEXTRACTI64X4 $1, Z8, Y0       \
	VPADDQ Y0, Y8, Y8              \
	REDUCE256

// REDUCE256 sums the words of Y8 into ret and returns.
#define REDUCE256 \
	VEXTRACTI128 $1, Y8, X0; \
	VPADDQ  X0, X8, X8;      \
	VPSHUFD $0x4e, X8, X0;   \
	VPADDQ  X0, X8, X8;      \
	VMOVQ   X8, AX;          \
	VZEROUPPER;              \
	MOVQ    AX, ret+32(FP);  \
	RET

// ROW256(m0, m1, m2, m3, a, b) adds the four 32-byte words m0…m3 of a row into two
// accumulators.
#define ROW256(m0, m1, m2, m3, a, b) \
	VPADDQ m0, a, a; \
	VPADDQ m1, b, b; \
	VPADDQ m2, a, a; \
	VPADDQ m3, b, b

// READ256(PF) is a whole AVX2 kernel body.
#define READ256(PF) \
	SETUP                      \
	VPXOR  Y8, Y8, Y8          \
	VPXOR  Y9, Y9, Y9          \
	VPXOR  Y10, Y10, Y10       \
	VPXOR  Y11, Y11, Y11       \
	VPXOR  Y12, Y12, Y12       \
	VPXOR  Y13, Y13, Y13       \
	VPXOR  Y14, Y14, Y14       \
	VPXOR  Y15, Y15, Y15       \
loop:                          \
	CMPQ   SI, AX              \
	JAE    sum                 \
	PF                         \
	ROW256((SI), 32(SI), 64(SI), 96(SI), Y8, Y12) \
	ROW256((SI)(R9*1), 32(SI)(R9*1), 64(SI)(R9*1), 96(SI)(R9*1), Y9, Y13) \
	ROW256((SI)(R9*2), 32(SI)(R9*2), 64(SI)(R9*2), 96(SI)(R9*2), Y10, Y14) \
	ROW256((R12)(R9*2), 32(R12)(R9*2), 64(R12)(R9*2), 96(R12)(R9*2), Y11, Y15) \
	ADDQ   $128, SI            \
	ADDQ   $128, R12           \
	JMP    loop                \
sum:                           \
	VPADDQ Y12, Y8, Y8         \
	VPADDQ Y13, Y9, Y9         \
	VPADDQ Y14, Y10, Y10       \
	VPADDQ Y15, Y11, Y11       \
	VPADDQ Y9, Y8, Y8          \
	VPADDQ Y11, Y10, Y10       \
	VPADDQ Y10, Y8, Y8         \
	REDUCE256

// func readRows4AVX512(b []byte, rowBytes int) uint64
TEXT ·readRows4AVX512(SB), NOSPLIT, $0-40
	READ512(NOPF)

// func readRows4PFAVX512(b []byte, rowBytes int) uint64
TEXT ·readRows4PFAVX512(SB), NOSPLIT, $0-40
	READ512(PF4x2)

// func readRows4AVX2(b []byte, rowBytes int) uint64
TEXT ·readRows4AVX2(SB), NOSPLIT, $0-40
	READ256(NOPF)

// func readRows4PFAVX2(b []byte, rowBytes int) uint64
TEXT ·readRows4PFAVX2(SB), NOSPLIT, $0-40
	READ256(PF4x2)
