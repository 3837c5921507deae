//go:build !purego

#include "textflag.h"

// Matrix-vector products over Q4_K, Q5_K and Q6_K weights, 256-bit vectors. See
// qgemv_qk_amd64.go and, for the block layouts, q4_k.go, q5_k.go and q6_k.go.
//
// One loop iteration does one super-block of a row (of four rows, in the fast kernels).
// Registers shared by the kernels:
//
//	DI  dst (walks)   R8  rows or groups left   SI  the super-block (walks)   R13 rows 2-4
//	DX  x or xq (walks, one super-block per iteration)   R10 x or xq of the row's start
//	CX  byte offset of the super-block's scales in xd (32 per super-block)   R14 its end
//	R11 xd   R12 xds or s16   R9 bytes of a quarter of the rows (fast kernels)
//
// The fast kernels form each sub-block's integer sum as eight int32 lanes (DOT_VNNI or
// DOT_AVX2, 4 byte products a lane), then add the lanes of eight sub-blocks into one vector,
// lane j the sum of sub-block j (REDUCE8), and meet the scales as vectors of eight.

// Byte masks and other constants.
DATA c0F<>+0(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA c0F<>+8(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA c0F<>+16(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA c0F<>+24(SB)/8, $0x0F0F0F0F0F0F0F0F
GLOBL c0F<>(SB), RODATA|NOPTR, $32

DATA c30<>+0(SB)/8, $0x3030303030303030
DATA c30<>+8(SB)/8, $0x3030303030303030
DATA c30<>+16(SB)/8, $0x3030303030303030
DATA c30<>+24(SB)/8, $0x3030303030303030
GLOBL c30<>(SB), RODATA|NOPTR, $32

DATA c10<>+0(SB)/8, $0x1010101010101010
DATA c10<>+8(SB)/8, $0x1010101010101010
DATA c10<>+16(SB)/8, $0x1010101010101010
DATA c10<>+24(SB)/8, $0x1010101010101010
GLOBL c10<>(SB), RODATA|NOPTR, $32

// ones16 is sixteen int16 ones, for VPMADDWD to add pairs of VPMADDUBSW's sums.
DATA ones16<>+0(SB)/8, $0x0001000100010001
DATA ones16<>+8(SB)/8, $0x0001000100010001
DATA ones16<>+16(SB)/8, $0x0001000100010001
DATA ones16<>+24(SB)/8, $0x0001000100010001
GLOBL ones16<>(SB), RODATA|NOPTR, $32

// neg32 is the float32 −32, Q6_K's offset.
DATA neg32<>+0(SB)/4, $0xC2000000
GLOBL neg32<>(SB), RODATA|NOPTR, $4

// The Q4_K scale unpacking (scaleMinK4 for all eight sub-blocks at once; b are the 12 scale
// bytes): q4kShufA gathers b0-3, b8-11, b4-7, b8-11; q4kShiftA shifts the last dword right
// by 4 (the minima's nibbles); q4kMaskA keeps 6 bits of b0-7 and 4 of b8-11. q4kShufB
// places b0-3 and b4-7 under the nibbles, whose top 2 bits, moved to bits 4-5, complete
// sub-blocks 4-7.
DATA q4kShufA<>+0(SB)/8, $0x0B0A090803020100
DATA q4kShufA<>+8(SB)/8, $0x0B0A090807060504
GLOBL q4kShufA<>(SB), RODATA|NOPTR, $16

DATA q4kShiftA<>+0(SB)/8, $0
DATA q4kShiftA<>+8(SB)/8, $0x0000000400000000
GLOBL q4kShiftA<>(SB), RODATA|NOPTR, $16

DATA q4kMaskA<>+0(SB)/8, $0x0F0F0F0F3F3F3F3F
DATA q4kMaskA<>+8(SB)/8, $0x0F0F0F0F3F3F3F3F
GLOBL q4kMaskA<>(SB), RODATA|NOPTR, $16

DATA q4kShufB<>+0(SB)/8, $0x0302010080808080
DATA q4kShufB<>+8(SB)/8, $0x0706050480808080
GLOBL q4kShufB<>(SB), RODATA|NOPTR, $16

// q6kPerm is the order in which REDUCE4 leaves the sums of a Q6_K half's eight sub-blocks:
// lane i holds sub-block q6kPerm[i].
DATA q6kPerm<>+0(SB)/8, $0x0000000200000000
DATA q6kPerm<>+8(SB)/8, $0x0000000600000004
DATA q6kPerm<>+16(SB)/8, $0x0000000300000001
DATA q6kPerm<>+24(SB)/8, $0x0000000700000005
GLOBL q6kPerm<>(SB), RODATA|NOPTR, $32

// DOT_VNNI and DOT_AVX2 set acc's eight int32 lanes to sums of 4 products of unsigned bytes
// (register u) and signed bytes (at m). VPMADDUBSW's int16 pair sums cannot saturate here:
// the weights are below 64, so |2·63·128| < 2^15.
#define DOT_VNNI(m, u, acc) \
	VPXOR    acc, acc, acc; \
	VPDPBUSD m, u, acc

#define DOT_AVX2(m, u, acc) \
	VPMADDUBSW m, u, acc; \
	VPMADDWD   ones16<>(SB), acc, acc

// PAIRSUM adds lanes of a and b: per 128-bit half a becomes [a0+a2, b0+b2, a1+a3, b1+b3].
// Clobbers Y0, Y1.
#define PAIRSUM(a, b) \
	VPUNPCKLDQ b, a, Y0; \
	VPUNPCKHDQ b, a, Y1; \
	VPADDD     Y1, Y0, a

// QUADSUM finishes what PAIRSUM started on (a, b) and (c, d): per 128-bit half a becomes the
// sums of the four lanes of the original a, b, c and d. Clobbers Y0, Y1.
#define QUADSUM(a, c) \
	VPUNPCKLQDQ c, a, Y0; \
	VPUNPCKHQDQ c, a, Y1; \
	VPADDD      Y1, Y0, a

// REDUCE8 sums the eight lanes of each of Y2..Y9 into lane j of Y0 (Y2 → lane 0, …, Y9 →
// lane 7). Clobbers Y1-Y9.
#define REDUCE8 \
	PAIRSUM(Y2, Y3); \
	PAIRSUM(Y4, Y5); \
	PAIRSUM(Y6, Y7); \
	PAIRSUM(Y8, Y9); \
	QUADSUM(Y2, Y4); \
	QUADSUM(Y6, Y8); \
	VPERM2I128 $0x20, Y6, Y2, Y0; \
	VPERM2I128 $0x31, Y6, Y2, Y1; \
	VPADDD     Y1, Y0, Y0

// HSUM1 sums the lanes of Y register y (X register x the same) and stores the float at (DI).
#define HSUM1(y, x) \
	VEXTRACTF128 $1, y, X0; \
	VADDPS       X0, x, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VMOVSS       X0, (DI)

// Q4K_SCALES unpacks the super-block at P's eight scales and minima and multiplies them by d
// and dmin: Y3 = d·sc[j], Y4 = dmin·m[j], in ggml's order of rounding (d·float32(sc)).
// Clobbers Y1-Y6.
#define Q4K_SCALES(P) \
	VMOVDQU      4(P), X1;                  \
	VPSHUFB      q4kShufA<>(SB), X1, X2;    \
	VPSRLVD      q4kShiftA<>(SB), X2, X2;   \
	VPAND        q4kMaskA<>(SB), X2, X2;    \
	VPSHUFB      q4kShufB<>(SB), X1, X3;    \
	VPSRLD       $2, X3, X3;                \
	VPAND        c30<>(SB), X3, X3;         \
	VPOR         X3, X2, X2;                \
	VPMOVZXBD    X2, Y3;                    \
	VPSHUFD      $0xEE, X2, X2;             \
	VPMOVZXBD    X2, Y4;                    \
	VCVTDQ2PS    Y3, Y3;                    \
	VCVTDQ2PS    Y4, Y4;                    \
	VPBROADCASTW 0(P), X5;                  \
	VCVTPH2PS    X5, Y5;                    \
	VPBROADCASTW 2(P), X6;                  \
	VCVTPH2PS    X6, Y6;                    \
	VMULPS       Y5, Y3, Y3;                \
	VMULPS       Y6, Y4, Y4

// ---------------------------------------------------------------------------------------
// Q4_K × Q8Act. Per super-block: the 32 bytes of each group of 64 weights give the nibbles
// of sub-blocks 2g (low) and 2g+1 (high), each dotted with its 32 activations; REDUCE8
// makes the eight integer sums; then
//
//	acc += ((d·sc)·xd)·float32(is) − (dmin·m)·xds
//
// eight sub-blocks per vector operation. Y11 holds the nibble mask.

// Q4K_GROUP dots group g's nibbles (32 bytes at qo(P)) with the activations at ao(DX) and
// ao+32(DX) into lo and hi.
#define Q4K_GROUP(DOT, P, qo, ao, lo, hi) \
	VMOVDQU qo(P), Y0;      \
	VPSRLW  $4, Y0, Y1;     \
	VPAND   Y11, Y0, Y0;    \
	VPAND   Y11, Y1, Y1;    \
	DOT(ao(DX), Y0, lo);    \
	DOT(ao+32(DX), Y1, hi)

// Q4K_Q8_SB adds the super-block at P times the activations at DX into ACC.
#define Q4K_Q8_SB(DOT, P, ACC) \
	Q4K_GROUP(DOT, P, 16, 0, Y2, Y3);    \
	Q4K_GROUP(DOT, P, 48, 64, Y4, Y5);   \
	Q4K_GROUP(DOT, P, 80, 128, Y6, Y7);  \
	Q4K_GROUP(DOT, P, 112, 192, Y8, Y9); \
	REDUCE8;                             \
	VCVTDQ2PS    Y0, Y0;                 \
	Q4K_SCALES(P);                       \
	VMULPS       (R11)(CX*1), Y3, Y3;    \
	VFMADD231PS  Y0, Y3, ACC;            \
	VFNMADD231PS (R12)(CX*1), Y4, ACC

// ---------------------------------------------------------------------------------------
// Q5_K × Q8Act: Q4_K's with the fifth bits. Bits 2g and 2g+1 of qh[l] are those of group
// g's weights l and l+32; Y10 holds qh shifted right by 2g (in 16-bit lanes, whose spill
// from the byte above never reaches bits 0-1), and each group moves its two bits to bit 4.

// Q5K_GROUP dots group g's 5-bit weights (nibbles at qo(P), fifth bits in Y10) with the
// activations at ao(DX) and ao+32(DX) into lo and hi, which serve as temporaries first.
#define Q5K_GROUP(DOT, P, qo, ao, lo, hi) \
	VMOVDQU qo(P), Y0;            \
	VPSRLW  $4, Y0, Y1;           \
	VPAND   Y11, Y0, Y0;          \
	VPAND   Y11, Y1, Y1;          \
	VPSLLW  $4, Y10, lo;          \
	VPAND   c10<>(SB), lo, lo;    \
	VPOR    lo, Y0, Y0;           \
	VPSLLW  $3, Y10, hi;          \
	VPAND   c10<>(SB), hi, hi;    \
	VPOR    hi, Y1, Y1;           \
	VPSRLW  $2, Y10, Y10;         \
	DOT(ao(DX), Y0, lo);          \
	DOT(ao+32(DX), Y1, hi)

// Q5K_Q8_SB adds the super-block at P times the activations at DX into ACC.
#define Q5K_Q8_SB(DOT, P, ACC) \
	VMOVDQU      16(P), Y10;             \
	Q5K_GROUP(DOT, P, 48, 0, Y2, Y3);    \
	Q5K_GROUP(DOT, P, 80, 64, Y4, Y5);   \
	Q5K_GROUP(DOT, P, 112, 128, Y6, Y7); \
	Q5K_GROUP(DOT, P, 144, 192, Y8, Y9); \
	REDUCE8;                             \
	VCVTDQ2PS    Y0, Y0;                 \
	Q4K_SCALES(P);                       \
	VMULPS       (R11)(CX*1), Y3, Y3;    \
	VFMADD231PS  Y0, Y3, ACC;            \
	VFNMADD231PS (R12)(CX*1), Y4, ACC

// ---------------------------------------------------------------------------------------
// Q6_K × Q8Act. Per half of 128 weights: the 6-bit q of weights l, l+32, l+64, l+96 (l <
// 32) as four vectors of 32 bytes, each two sub-blocks of 16 (lanes 0-3 and 4-7 of its
// dot), then per sub-block (lane order q6kPerm, which the scales are permuted to match)
//
//	acc += ((d·sc)·xd)·float32(is − 32·s16)
//
// Y9 holds q6kPerm, Y10 and Y11 the masks 0x30 and 0x0F.

// Q6K_HALF does half h, its ql at qo(P), qh at ho(P), scales at so(P), activations at
// ao(DX), s16 at so16(R12)(CX*2) and xd at do(R11)(CX*1).
#define Q6K_HALF(DOT, P, ACC, qo, ho, so, ao, so16, do) \
	VMOVDQU    qo(P), Y0;                 \
	VMOVDQU    qo+32(P), Y1;              \
	VMOVDQU    ho(P), Y2;                 \
	VPAND      Y11, Y0, Y3;                \
	VPSLLW     $4, Y2, Y4;                 \
	VPAND      Y10, Y4, Y4;                \
	VPOR       Y4, Y3, Y3;                 \
	VPAND      Y11, Y1, Y4;                \
	VPSLLW     $2, Y2, Y5;                 \
	VPAND      Y10, Y5, Y5;                \
	VPOR       Y5, Y4, Y4;                 \
	VPSRLW     $4, Y0, Y0;                 \
	VPAND      Y11, Y0, Y0;                \
	VPAND      Y10, Y2, Y5;                \
	VPOR       Y5, Y0, Y0;                 \
	VPSRLW     $4, Y1, Y1;                 \
	VPAND      Y11, Y1, Y1;                \
	VPSRLW     $2, Y2, Y2;                 \
	VPAND      Y10, Y2, Y2;                \
	VPOR       Y2, Y1, Y1;                 \
	DOT(ao(DX), Y3, Y5);                   \
	DOT(ao+32(DX), Y4, Y6);                \
	DOT(ao+64(DX), Y0, Y7);                \
	DOT(ao+96(DX), Y1, Y8);                \
	PAIRSUM(Y5, Y6);                       \
	PAIRSUM(Y7, Y8);                       \
	QUADSUM(Y5, Y7);                       \
	VPERMD     so16(R12)(CX*2), Y9, Y6;    \
	VPSLLD     $5, Y6, Y6;                 \
	VPSUBD     Y6, Y5, Y5;                 \
	VCVTDQ2PS  Y5, Y5;                     \
	VPMOVSXBD  so(P), Y6;                 \
	VPERMD     Y6, Y9, Y6;                 \
	VCVTDQ2PS  Y6, Y6;                     \
	VPBROADCASTW 208(P), X7;              \
	VCVTPH2PS  X7, Y7;                     \
	VMULPS     Y7, Y6, Y6;                 \
	VBROADCASTF128 do(R11)(CX*1), Y7;      \
	VMULPS     Y7, Y6, Y6;                 \
	VFMADD231PS Y5, Y6, ACC

// Q6K_Q8_SB adds the super-block at P times the activations at DX into ACC.
#define Q6K_Q8_SB(DOT, P, ACC) \
	Q6K_HALF(DOT, P, ACC, 0, 128, 192, 0, 0, 0); \
	Q6K_HALF(DOT, P, ACC, 64, 160, 200, 128, 32, 16)

// HSUM4 sums the lanes of each of Y12..Y15 and stores the four floats at (DI), (DI)+4q,
// (DI)+8q and (DI)+12q, q = len(dst)/4: the dst of a group's four rows. Clobbers AX, BX.
#define HSUM4 \
	VHADDPS      Y13, Y12, Y12;      \
	VHADDPS      Y15, Y14, Y14;      \
	VHADDPS      Y14, Y12, Y12;      \
	VEXTRACTF128 $1, Y12, X0;        \
	VADDPS       X0, X12, X0;        \
	MOVQ         dst_len+8(FP), AX;  \
	SHRQ         $2, AX;             \
	VMOVSS       X0, (DI);           \
	VEXTRACTPS   $1, X0, (DI)(AX*4); \
	LEAQ         (DI)(AX*8), BX;     \
	VEXTRACTPS   $2, X0, (BX);       \
	VEXTRACTPS   $3, X0, (BX)(AX*4)

// GEMV_Q8 is the body of a fast kernel: SB(DOT, P, ACC) the super-block, bb its bytes, s
// the name of the argument after xd (xds or s16), setup the constant registers. The rows
// go four at a time, one from each quarter of the rows, so that four sequential streams are
// in flight (R9 the bytes of a quarter, R13 the second to fourth rows); the last len(dst)%4
// one at a time.
#define GEMV_Q8(SB, DOT, bb, s, setup) \
	MOVQ    dst_base+0(FP), DI      \
	MOVQ    dst_len+8(FP), R8       \
	MOVQ    w_base+24(FP), SI       \
	MOVQ    xq_base+48(FP), R10     \
	MOVQ    xq_len+56(FP), R14      \
	MOVQ    R14, R9                 \
	SHRQ    $8, R9                  \
	IMULQ   $(bb), R9               \
	SHRQ    $3, R14                 \
	MOVQ    xd_base+72(FP), R11     \
	MOVQ    s+96(FP), R12           \
	setup                           \
	SHRQ    $2, R8                  \
	IMULQ   R8, R9                  \
	TESTQ   R8, R8                  \
	JEQ     groupsDone              \
group:                              \
	MOVQ    R10, DX                 \
	XORQ    CX, CX                  \
	VXORPS  Y12, Y12, Y12           \
	VXORPS  Y13, Y13, Y13           \
	VXORPS  Y14, Y14, Y14           \
	VXORPS  Y15, Y15, Y15           \
sb4:                                \
	SB(DOT, SI, Y12)                \
	LEAQ    (SI)(R9*1), R13         \
	SB(DOT, R13, Y13)               \
	ADDQ    R9, R13                 \
	SB(DOT, R13, Y14)               \
	ADDQ    R9, R13                 \
	SB(DOT, R13, Y15)               \
	ADDQ    $(bb), SI               \
	ADDQ    $256, DX                \
	ADDQ    $32, CX                 \
	CMPQ    CX, R14                 \
	JB      sb4                     \
	HSUM4                           \
	ADDQ    $4, DI                  \
	DECQ    R8                      \
	JNZ     group                   \
groupsDone:                         \
	LEAQ    (R9)(R9*2), AX          \
	ADDQ    AX, SI                  \
	MOVQ    dst_len+8(FP), R8       \
	MOVQ    R8, AX                  \
	SHRQ    $2, AX                  \
	LEAQ    (AX)(AX*2), AX          \
	LEAQ    (DI)(AX*4), DI          \
	ANDQ    $3, R8                  \
	JEQ     done                    \
row:                                \
	MOVQ    R10, DX                 \
	XORQ    CX, CX                  \
	VXORPS  Y12, Y12, Y12           \
sb1:                                \
	SB(DOT, SI, Y12)                \
	ADDQ    $(bb), SI               \
	ADDQ    $256, DX                \
	ADDQ    $32, CX                 \
	CMPQ    CX, R14                 \
	JB      sb1                     \
	HSUM1(Y12, X12)                 \
	ADDQ    $4, DI                  \
	DECQ    R8                      \
	JNZ     row                     \
done:                               \
	VZEROUPPER                      \
	RET

#define Q4K_SETUP \
	VMOVDQU c0F<>(SB), Y11

#define Q6K_SETUP \
	VMOVDQU q6kPerm<>(SB), Y9; \
	VMOVDQU c30<>(SB), Y10;    \
	VMOVDQU c0F<>(SB), Y11

// The macros above name the arguments of the kernels below, so these come after them all
// (go vet attributes a macro's lines to the TEXT before it).

// func gemvQ4_KQ8AVX2(dst []float32, w []byte, xq []int8, xd, xds []float32)
TEXT ·gemvQ4_KQ8AVX2(SB), NOSPLIT, $0-120
	GEMV_Q8(Q4K_Q8_SB, DOT_AVX2, 144, xds_base, Q4K_SETUP)

// func gemvQ4_KQ8VNNI(dst []float32, w []byte, xq []int8, xd, xds []float32)
TEXT ·gemvQ4_KQ8VNNI(SB), NOSPLIT, $0-120
	GEMV_Q8(Q4K_Q8_SB, DOT_VNNI, 144, xds_base, Q4K_SETUP)

// func gemvQ5_KQ8AVX2(dst []float32, w []byte, xq []int8, xd, xds []float32)
TEXT ·gemvQ5_KQ8AVX2(SB), NOSPLIT, $0-120
	GEMV_Q8(Q5K_Q8_SB, DOT_AVX2, 176, xds_base, Q4K_SETUP)

// func gemvQ5_KQ8VNNI(dst []float32, w []byte, xq []int8, xd, xds []float32)
TEXT ·gemvQ5_KQ8VNNI(SB), NOSPLIT, $0-120
	GEMV_Q8(Q5K_Q8_SB, DOT_VNNI, 176, xds_base, Q4K_SETUP)

// func gemvQ6_KQ8AVX2(dst []float32, w []byte, xq []int8, xd []float32, s16 []int32)
TEXT ·gemvQ6_KQ8AVX2(SB), NOSPLIT, $0-120
	GEMV_Q8(Q6K_Q8_SB, DOT_AVX2, 210, s16_base, Q6K_SETUP)

// func gemvQ6_KQ8VNNI(dst []float32, w []byte, xq []int8, xd []float32, s16 []int32)
TEXT ·gemvQ6_KQ8VNNI(SB), NOSPLIT, $0-120
	GEMV_Q8(Q6K_Q8_SB, DOT_VNNI, 210, s16_base, Q6K_SETUP)

// ---------------------------------------------------------------------------------------
// Q4_K × float32. Per super-block Q4K_SCALES's d·sc and dmin·m go to the stack (0(SP) and
// 32(SP)), to be broadcast per sub-block; then per 8 bytes of nibbles (16 weights, 8 of
// sub-block 2g and 8 of 2g+1) VPMOVZXBD, the low and high nibbles to float32, one FMA each
// to d·sc·q − dmin·m, one more each with x. Y12-Y15 accumulate; Y11 is the nibble mask.

// Q4K_X8 does bytes 8i..8i+7 of group g, lo and hi the accumulators.
#define Q4K_X8(qo, xo, lo, hi) \
	VPMOVZXBD   qo(SI), Y0;       \
	VPAND       Y11, Y0, Y1;      \
	VPSRLD      $4, Y0, Y0;       \
	VCVTDQ2PS   Y1, Y1;           \
	VCVTDQ2PS   Y0, Y0;           \
	VFMSUB213PS Y3, Y2, Y1;       \
	VFMSUB213PS Y5, Y4, Y0;       \
	VFMADD231PS xo(DX), Y1, lo;   \
	VFMADD231PS xo+128(DX), Y0, hi

// Q4K_G does group g: sub-blocks 2g and 2g+1 (scales at so(SP) and so+4(SP)), 32 bytes of
// nibbles at qo(SI), x at xo(DX).
#define Q4K_G(qo, so, xo) \
	VBROADCASTSS so(SP), Y2;             \
	VBROADCASTSS so+32(SP), Y3;          \
	VBROADCASTSS so+4(SP), Y4;           \
	VBROADCASTSS so+36(SP), Y5;          \
	Q4K_X8(qo, xo, Y12, Y13);            \
	Q4K_X8(qo+8, xo+32, Y14, Y15);       \
	Q4K_X8(qo+16, xo+64, Y12, Y13);      \
	Q4K_X8(qo+24, xo+96, Y14, Y15)

// func gemvQ4_KAVX2(dst []float32, w []byte, x []float32)
TEXT ·gemvQ4_KAVX2(SB), NOSPLIT, $64-72
	MOVQ    dst_base+0(FP), DI
	MOVQ    dst_len+8(FP), R8
	MOVQ    w_base+24(FP), SI
	MOVQ    x_base+48(FP), R10
	MOVQ    x_len+56(FP), R14
	SHRQ    $8, R14
	VMOVDQU c0F<>(SB), Y11
	TESTQ   R8, R8
	JEQ     done

row:
	MOVQ    R10, DX
	MOVQ    R14, CX
	VXORPS  Y12, Y12, Y12
	VXORPS  Y13, Y13, Y13
	VXORPS  Y14, Y14, Y14
	VXORPS  Y15, Y15, Y15

sb:
	Q4K_SCALES(SI)
	VMOVUPS Y3, 0(SP)
	VMOVUPS Y4, 32(SP)
	Q4K_G(16, 0, 0)
	Q4K_G(48, 8, 256)
	Q4K_G(80, 16, 512)
	Q4K_G(112, 24, 768)
	ADDQ    $144, SI
	ADDQ    $1024, DX
	DECQ    CX
	JNZ     sb

	VADDPS  Y13, Y12, Y12
	VADDPS  Y15, Y14, Y14
	VADDPS  Y14, Y12, Y12
	HSUM1(Y12, X12)
	ADDQ    $4, DI
	DECQ    R8
	JNZ     row

done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------------------
// Q6_K × float32. Per super-block d·sc[j] (rounded as dequantizeQ6_K rounds it) and
// −32·d·sc[j] go to the stack (0(SP) and 64(SP)); per 8 weights of each of the four runs of
// a half (l, l+32, l+64, l+96) VPMOVZXBD of ql and qh, the 6-bit q assembled in int32
// lanes, then to float32, one FMA to (d·sc)·q − 32·d·sc (exactly the rounded (d·sc)·(q−32),
// as −32·d·sc is exact) and one with x. Y8-Y11 accumulate, one per run.

// Q6K_X8 does weights l = 8i..8i+7 of the four runs of a half: ql at qo(SI), qh at ho(SI),
// x at xo(DX); Y0-Y7 hold the four runs' d·sc and −32·d·sc.
#define Q6K_X8(qo, ho, xo) \
	VPMOVZXBD   qo(SI), Y12;           \
	VPMOVZXBD   ho(SI), Y14;           \
	VPSLLD      $4, Y14, Y13;          \
	VPAND       c30<>(SB), Y13, Y13;   \
	VPAND       c0F<>(SB), Y12, Y15;   \
	VPOR        Y13, Y15, Y15;         \
	VCVTDQ2PS   Y15, Y15;              \
	VFMADD213PS Y1, Y0, Y15;           \
	VFMADD231PS xo(DX), Y15, Y8;       \
	VPAND       c30<>(SB), Y14, Y13;   \
	VPSRLD      $4, Y12, Y12;          \
	VPOR        Y13, Y12, Y12;         \
	VCVTDQ2PS   Y12, Y12;              \
	VFMADD213PS Y5, Y4, Y12;           \
	VFMADD231PS xo+256(DX), Y12, Y10;  \
	VPMOVZXBD   qo+32(SI), Y12;        \
	VPSLLD      $2, Y14, Y13;          \
	VPAND       c30<>(SB), Y13, Y13;   \
	VPAND       c0F<>(SB), Y12, Y15;   \
	VPOR        Y13, Y15, Y15;         \
	VCVTDQ2PS   Y15, Y15;              \
	VFMADD213PS Y3, Y2, Y15;           \
	VFMADD231PS xo+128(DX), Y15, Y9;   \
	VPSRLD      $2, Y14, Y14;          \
	VPAND       c30<>(SB), Y14, Y14;   \
	VPSRLD      $4, Y12, Y12;          \
	VPOR        Y14, Y12, Y12;         \
	VCVTDQ2PS   Y12, Y12;              \
	VFMADD213PS Y7, Y6, Y12;           \
	VFMADD231PS xo+384(DX), Y12, Y11

// Q6K_Q16 does weights l = 16s..16s+15 of the four runs of half h, whose sub-blocks are
// 8h+s+2c (their scales at so+8c(SP)); ql at qo(SI), qh at ho(SI), x at xo(DX).
#define Q6K_Q16(qo, ho, so, xo) \
	VBROADCASTSS so(SP), Y0;          \
	VBROADCASTSS so+64(SP), Y1;       \
	VBROADCASTSS so+8(SP), Y2;        \
	VBROADCASTSS so+72(SP), Y3;       \
	VBROADCASTSS so+16(SP), Y4;       \
	VBROADCASTSS so+80(SP), Y5;       \
	VBROADCASTSS so+24(SP), Y6;       \
	VBROADCASTSS so+88(SP), Y7;       \
	Q6K_X8(qo, ho, xo);               \
	Q6K_X8(qo+8, ho+8, xo+32)

// func gemvQ6_KAVX2(dst []float32, w []byte, x []float32)
TEXT ·gemvQ6_KAVX2(SB), NOSPLIT, $128-72
	MOVQ    dst_base+0(FP), DI
	MOVQ    dst_len+8(FP), R8
	MOVQ    w_base+24(FP), SI
	MOVQ    x_base+48(FP), R10
	MOVQ    x_len+56(FP), R14
	SHRQ    $8, R14
	TESTQ   R8, R8
	JEQ     done

row:
	MOVQ    R10, DX
	MOVQ    R14, CX
	VXORPS  Y8, Y8, Y8
	VXORPS  Y9, Y9, Y9
	VXORPS  Y10, Y10, Y10
	VXORPS  Y11, Y11, Y11

sb:
	VPBROADCASTW 208(SI), X0
	VCVTPH2PS    X0, Y0
	VBROADCASTSS neg32<>(SB), Y1
	VPMOVSXBD    192(SI), Y2
	VPMOVSXBD    200(SI), Y3
	VCVTDQ2PS    Y2, Y2
	VCVTDQ2PS    Y3, Y3
	VMULPS       Y0, Y2, Y2
	VMULPS       Y0, Y3, Y3
	VMOVUPS      Y2, 0(SP)
	VMOVUPS      Y3, 32(SP)
	VMULPS       Y1, Y2, Y2
	VMULPS       Y1, Y3, Y3
	VMOVUPS      Y2, 64(SP)
	VMOVUPS      Y3, 96(SP)
	Q6K_Q16(0, 128, 0, 0)
	Q6K_Q16(16, 144, 4, 64)
	Q6K_Q16(64, 160, 32, 512)
	Q6K_Q16(80, 176, 36, 576)
	ADDQ    $210, SI
	ADDQ    $1024, DX
	DECQ    CX
	JNZ     sb

	VADDPS  Y9, Y8, Y8
	VADDPS  Y11, Y10, Y10
	VADDPS  Y10, Y8, Y8
	HSUM1(Y8, X8)
	ADDQ    $4, DI
	DECQ    R8
	JNZ     row

done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------------------
// Q5_K × float32: Q4_K's with the fifth bits, VPMOVZXBD of qh beside each 8 bytes of
// nibbles, bits 2g and 2g+1 moved to bit 4 (Y10 holds 0x10 in every byte).

// Q5K_X8 does bytes 8i..8i+7 of group g (nibbles at qo(SI), fifth bits at ho(SI), shifted
// right by sh = 2g), lo and hi the accumulators.
#define Q5K_X8(qo, ho, sh, xo, lo, hi) \
	VPMOVZXBD   qo(SI), Y0;       \
	VPMOVZXBD   ho(SI), Y6;       \
	VPAND       Y11, Y0, Y1;      \
	VPSRLD      $4, Y0, Y0;       \
	VPSRLD      $(sh), Y6, Y6;    \
	VPSLLD      $4, Y6, Y7;       \
	VPAND       Y10, Y7, Y7;      \
	VPOR        Y7, Y1, Y1;       \
	VPSLLD      $3, Y6, Y7;       \
	VPAND       Y10, Y7, Y7;      \
	VPOR        Y7, Y0, Y0;       \
	VCVTDQ2PS   Y1, Y1;           \
	VCVTDQ2PS   Y0, Y0;           \
	VFMSUB213PS Y3, Y2, Y1;       \
	VFMSUB213PS Y5, Y4, Y0;       \
	VFMADD231PS xo(DX), Y1, lo;   \
	VFMADD231PS xo+128(DX), Y0, hi

// Q5K_G does group g: sub-blocks 2g and 2g+1 (scales at so(SP) and so+4(SP)), 32 bytes of
// nibbles at qo(SI), the fifth bits shifted by sh, x at xo(DX).
#define Q5K_G(qo, sh, so, xo) \
	VBROADCASTSS so(SP), Y2;                 \
	VBROADCASTSS so+32(SP), Y3;              \
	VBROADCASTSS so+4(SP), Y4;               \
	VBROADCASTSS so+36(SP), Y5;              \
	Q5K_X8(qo, 16, sh, xo, Y12, Y13);        \
	Q5K_X8(qo+8, 24, sh, xo+32, Y14, Y15);   \
	Q5K_X8(qo+16, 32, sh, xo+64, Y12, Y13);  \
	Q5K_X8(qo+24, 40, sh, xo+96, Y14, Y15)

// func gemvQ5_KAVX2(dst []float32, w []byte, x []float32)
TEXT ·gemvQ5_KAVX2(SB), NOSPLIT, $64-72
	MOVQ    dst_base+0(FP), DI
	MOVQ    dst_len+8(FP), R8
	MOVQ    w_base+24(FP), SI
	MOVQ    x_base+48(FP), R10
	MOVQ    x_len+56(FP), R14
	SHRQ    $8, R14
	VMOVDQU c0F<>(SB), Y11
	VMOVDQU c10<>(SB), Y10
	TESTQ   R8, R8
	JEQ     done

row:
	MOVQ    R10, DX
	MOVQ    R14, CX
	VXORPS  Y12, Y12, Y12
	VXORPS  Y13, Y13, Y13
	VXORPS  Y14, Y14, Y14
	VXORPS  Y15, Y15, Y15

sb:
	Q4K_SCALES(SI)
	VMOVUPS Y3, 0(SP)
	VMOVUPS Y4, 32(SP)
	Q5K_G(48, 0, 0, 0)
	Q5K_G(80, 2, 8, 256)
	Q5K_G(112, 4, 16, 512)
	Q5K_G(144, 6, 24, 768)
	ADDQ    $176, SI
	ADDQ    $1024, DX
	DECQ    CX
	JNZ     sb

	VADDPS  Y13, Y12, Y12
	VADDPS  Y15, Y14, Y14
	VADDPS  Y14, Y12, Y12
	HSUM1(Y12, X12)
	ADDQ    $4, DI
	DECQ    R8
	JNZ     row

done:
	VZEROUPPER
	RET
