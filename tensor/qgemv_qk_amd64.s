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
//	CX  byte offset of the super-block's scale in xd (4 per super-block; its 16 sums of
//	    activations are at 8·CX in sums)   R14 its end
//	R11 xd   R12 sums   R9 bytes of a quarter of the rows (fast kernels)
//
// The fast kernels meet activations with one scale per super-block (Q8Act.Block = 256), so
// the sub-block scales multiply in integers: VPMADDUBSW makes int16 sums of two weight-by-
// activation products, and VPDPWSSD (AVX512_VNNI) or VPMADDWD+VPADDD multiplies them by the
// sub-block's scale broadcast in int16 lanes and adds them to the super-block's eight int32
// lanes (Y9), converted to float once per super-block. No pair sum can saturate: the weights
// are below 64, so |2·63·127| < 2^15.

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

// q4kSc, eight masks of 32 bytes: VPSHUFB by mask j of the 16 unpacked scale bytes (in both
// halves of a Y register) broadcasts sub-block j's scale to sixteen int16 lanes. q4kMins
// spreads the minima as int16 lanes m0,m0,m1,m1,…,m7,m7, for VPMADDWD with the sums per 16.
DATA q4kSc<>+0(SB)/8, $0x8000800080008000
DATA q4kSc<>+8(SB)/8, $0x8000800080008000
DATA q4kSc<>+16(SB)/8, $0x8000800080008000
DATA q4kSc<>+24(SB)/8, $0x8000800080008000
DATA q4kSc<>+32(SB)/8, $0x8001800180018001
DATA q4kSc<>+40(SB)/8, $0x8001800180018001
DATA q4kSc<>+48(SB)/8, $0x8001800180018001
DATA q4kSc<>+56(SB)/8, $0x8001800180018001
DATA q4kSc<>+64(SB)/8, $0x8002800280028002
DATA q4kSc<>+72(SB)/8, $0x8002800280028002
DATA q4kSc<>+80(SB)/8, $0x8002800280028002
DATA q4kSc<>+88(SB)/8, $0x8002800280028002
DATA q4kSc<>+96(SB)/8, $0x8003800380038003
DATA q4kSc<>+104(SB)/8, $0x8003800380038003
DATA q4kSc<>+112(SB)/8, $0x8003800380038003
DATA q4kSc<>+120(SB)/8, $0x8003800380038003
DATA q4kSc<>+128(SB)/8, $0x8004800480048004
DATA q4kSc<>+136(SB)/8, $0x8004800480048004
DATA q4kSc<>+144(SB)/8, $0x8004800480048004
DATA q4kSc<>+152(SB)/8, $0x8004800480048004
DATA q4kSc<>+160(SB)/8, $0x8005800580058005
DATA q4kSc<>+168(SB)/8, $0x8005800580058005
DATA q4kSc<>+176(SB)/8, $0x8005800580058005
DATA q4kSc<>+184(SB)/8, $0x8005800580058005
DATA q4kSc<>+192(SB)/8, $0x8006800680068006
DATA q4kSc<>+200(SB)/8, $0x8006800680068006
DATA q4kSc<>+208(SB)/8, $0x8006800680068006
DATA q4kSc<>+216(SB)/8, $0x8006800680068006
DATA q4kSc<>+224(SB)/8, $0x8007800780078007
DATA q4kSc<>+232(SB)/8, $0x8007800780078007
DATA q4kSc<>+240(SB)/8, $0x8007800780078007
DATA q4kSc<>+248(SB)/8, $0x8007800780078007
GLOBL q4kSc<>(SB), RODATA|NOPTR, $256

DATA q4kMins<>+0(SB)/8, $0x8009800980088008
DATA q4kMins<>+8(SB)/8, $0x800B800B800A800A
DATA q4kMins<>+16(SB)/8, $0x800D800D800C800C
DATA q4kMins<>+24(SB)/8, $0x800F800F800E800E
GLOBL q4kMins<>(SB), RODATA|NOPTR, $32

// q6kEvenOdd orders a Q6_K super-block's 16 scales evens first (sc0, sc2, …, sc14, sc1, …),
// so that, widened to int16, the low half holds the first sub-block of each pair of 16
// weights and the high half the second. q6kSc, eight masks of 32 bytes: VPSHUFB by mask i
// broadcasts int16 lane i of each half, pair i's two scales.
DATA q6kEvenOdd<>+0(SB)/8, $0x0E0C0A0806040200
DATA q6kEvenOdd<>+8(SB)/8, $0x0F0D0B0907050301
GLOBL q6kEvenOdd<>(SB), RODATA|NOPTR, $16

DATA q6kSc<>+0(SB)/8, $0x0100010001000100
DATA q6kSc<>+8(SB)/8, $0x0100010001000100
DATA q6kSc<>+16(SB)/8, $0x0100010001000100
DATA q6kSc<>+24(SB)/8, $0x0100010001000100
DATA q6kSc<>+32(SB)/8, $0x0302030203020302
DATA q6kSc<>+40(SB)/8, $0x0302030203020302
DATA q6kSc<>+48(SB)/8, $0x0302030203020302
DATA q6kSc<>+56(SB)/8, $0x0302030203020302
DATA q6kSc<>+64(SB)/8, $0x0504050405040504
DATA q6kSc<>+72(SB)/8, $0x0504050405040504
DATA q6kSc<>+80(SB)/8, $0x0504050405040504
DATA q6kSc<>+88(SB)/8, $0x0504050405040504
DATA q6kSc<>+96(SB)/8, $0x0706070607060706
DATA q6kSc<>+104(SB)/8, $0x0706070607060706
DATA q6kSc<>+112(SB)/8, $0x0706070607060706
DATA q6kSc<>+120(SB)/8, $0x0706070607060706
DATA q6kSc<>+128(SB)/8, $0x0908090809080908
DATA q6kSc<>+136(SB)/8, $0x0908090809080908
DATA q6kSc<>+144(SB)/8, $0x0908090809080908
DATA q6kSc<>+152(SB)/8, $0x0908090809080908
DATA q6kSc<>+160(SB)/8, $0x0B0A0B0A0B0A0B0A
DATA q6kSc<>+168(SB)/8, $0x0B0A0B0A0B0A0B0A
DATA q6kSc<>+176(SB)/8, $0x0B0A0B0A0B0A0B0A
DATA q6kSc<>+184(SB)/8, $0x0B0A0B0A0B0A0B0A
DATA q6kSc<>+192(SB)/8, $0x0D0C0D0C0D0C0D0C
DATA q6kSc<>+200(SB)/8, $0x0D0C0D0C0D0C0D0C
DATA q6kSc<>+208(SB)/8, $0x0D0C0D0C0D0C0D0C
DATA q6kSc<>+216(SB)/8, $0x0D0C0D0C0D0C0D0C
DATA q6kSc<>+224(SB)/8, $0x0F0E0F0E0F0E0F0E
DATA q6kSc<>+232(SB)/8, $0x0F0E0F0E0F0E0F0E
DATA q6kSc<>+240(SB)/8, $0x0F0E0F0E0F0E0F0E
DATA q6kSc<>+248(SB)/8, $0x0F0E0F0E0F0E0F0E
GLOBL q6kSc<>(SB), RODATA|NOPTR, $256

// HSUM1 sums the lanes of Y register y (X register x the same) and stores the float at (DI).
#define HSUM1(y, x) \
	VEXTRACTF128 $1, y, X0; \
	VADDPS       X0, x, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VMOVSS       X0, (DI)

// Q4K_UNPACK unpacks the super-block at P's eight 6-bit scales into bytes 0-7 of X2 and its
// minima into bytes 8-15. Clobbers X1, X3.
#define Q4K_UNPACK(P) \
	VMOVDQU      4(P), X1;                  \
	VPSHUFB      q4kShufA<>(SB), X1, X2;    \
	VPSRLVD      q4kShiftA<>(SB), X2, X2;   \
	VPAND        q4kMaskA<>(SB), X2, X2;    \
	VPSHUFB      q4kShufB<>(SB), X1, X3;    \
	VPSRLD       $2, X3, X3;                \
	VPAND        c30<>(SB), X3, X3;         \
	VPOR         X3, X2, X2

// Q4K_SCALES unpacks the super-block at P's eight scales and minima and multiplies them by d
// and dmin: Y3 = d·sc[j], Y4 = dmin·m[j], in ggml's order of rounding (d·float32(sc)).
// Clobbers Y1-Y6.
#define Q4K_SCALES(P) \
	Q4K_UNPACK(P);                          \
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

// SCALED_VNNI and SCALED_AVX2 add the int16 pairs of p times the int16 lanes of s to the
// int32 lanes of acc; p is clobbered. A super-block's products go to several accumulators,
// summed at its end: on the Zen 4 one chain of VPDPWSSD, 4 cycles each, held the Q6_K
// kernel to 24 GB/s from L2 where VPMADDWD+VPADDD reached 29.
#define SCALED_VNNI(s, p, acc) \
	VPDPWSSD s, p, acc

#define SCALED_AVX2(s, p, acc) \
	VPMADDWD s, p, p; \
	VPADDD   p, acc, acc

// ---------------------------------------------------------------------------------------
// Q4_K × Q8Act. Per super-block: the 32 bytes of each group of 64 weights give the nibbles
// of sub-blocks 2g (low) and 2g+1 (high); each meets its 32 activations (VPMADDUBSW) and its
// scale (SCALED); then the minima meet the sums of activations (VPMADDWD), and
//
//	acc += (d·xd)·float32(Σ sc·q·xq) − (dmin·xd)·float32(Σ m·Σxq)
//
// Y11 holds the nibble mask, Y10 the scales and minima.

// Q4K_SCALES8 unpacks the super-block at P's eight 6-bit scales (bytes 0-7) and minima (8-15)
// into both halves of Y10. Clobbers Y1-Y3.
#define Q4K_SCALES8(P) \
	Q4K_UNPACK(P);                 \
	VINSERTI128 $1, X2, Y2, Y10

// Q4K_SUB adds sub-block j's weights (unsigned bytes in u) times the activations at ao(DX)
// times its scale to acc. Clobbers u and Y2.
#define Q4K_SUB(SCALED, u, ao, j, acc) \
	VPMADDUBSW ao(DX), u, u;                  \
	VPSHUFB    q4kSc<>+(32*(j))(SB), Y10, Y2; \
	SCALED(Y2, u, acc)

// Q4K_GROUP does group g, its nibbles at qo(P), into accumulators a (low) and b (high).
#define Q4K_GROUP(SCALED, P, g, qo, a, b) \
	VMOVDQU qo(P), Y0;                     \
	VPSRLW  $4, Y0, Y1;                    \
	VPAND   Y11, Y0, Y0;                   \
	VPAND   Y11, Y1, Y1;                   \
	Q4K_SUB(SCALED, Y0, 64*g, 2*g, a);     \
	Q4K_SUB(SCALED, Y1, 64*g+32, 2*g+1, b)

// QK_ZERO clears the accumulators Y6-Y9 of a Q4_K or Q5_K super-block.
#define QK_ZERO \
	VPXOR Y6, Y6, Y6; \
	VPXOR Y7, Y7, Y7; \
	VPXOR Y8, Y8, Y8; \
	VPXOR Y9, Y9, Y9

// QK_MINS_FLOAT finishes a Q4_K or Q5_K super-block at P: the accumulators summed, the minima
// times the sums of activations, then both integer sums to float into ACC. Clobbers Y2-Y9.
#define QK_MINS_FLOAT(P, ACC) \
	VPADDD       Y6, Y9, Y9;             \
	VPADDD       Y7, Y8, Y8;             \
	VPADDD       Y8, Y9, Y9;             \
	VPSHUFB      q4kMins<>(SB), Y10, Y2; \
	VPMADDWD     (R12)(CX*8), Y2, Y2;    \
	VCVTDQ2PS    Y9, Y9;                 \
	VCVTDQ2PS    Y2, Y2;                 \
	VBROADCASTSS (R11)(CX*1), Y5;        \
	VPBROADCASTW 0(P), X3;               \
	VCVTPH2PS    X3, Y3;                 \
	VPBROADCASTW 2(P), X4;               \
	VCVTPH2PS    X4, Y4;                 \
	VMULPS       Y5, Y3, Y3;             \
	VMULPS       Y5, Y4, Y4;             \
	VFMADD231PS  Y9, Y3, ACC;            \
	VFNMADD231PS Y2, Y4, ACC

// Q4K_Q8_SB adds the super-block at P times the activations at DX into ACC.
#define Q4K_Q8_SB(SCALED, P, ACC) \
	Q4K_SCALES8(P);                          \
	QK_ZERO;                                 \
	Q4K_GROUP(SCALED, P, 0, 16, Y9, Y6);     \
	Q4K_GROUP(SCALED, P, 1, 48, Y7, Y8);     \
	Q4K_GROUP(SCALED, P, 2, 80, Y9, Y6);     \
	Q4K_GROUP(SCALED, P, 3, 112, Y7, Y8);    \
	QK_MINS_FLOAT(P, ACC)

// ---------------------------------------------------------------------------------------
// Q5_K × Q8Act: Q4_K's with the fifth bits. Bits 2g and 2g+1 of qh[l] are those of group
// g's weights l and l+32; Y5 holds qh shifted right by 2g (in 16-bit lanes, whose spill
// from the byte above never reaches bits 0-1), and each group moves its two bits to bit 4.

// Q5K_GROUP does group g: nibbles at qo(P), fifth bits in Y5, into accumulators a and b.
#define Q5K_GROUP(SCALED, P, g, qo, a, b) \
	VMOVDQU qo(P), Y0;                     \
	VPSRLW  $4, Y0, Y1;                    \
	VPAND   Y11, Y0, Y0;                   \
	VPAND   Y11, Y1, Y1;                   \
	VPSLLW  $4, Y5, Y3;                    \
	VPAND   c10<>(SB), Y3, Y3;             \
	VPOR    Y3, Y0, Y0;                    \
	VPSLLW  $3, Y5, Y4;                    \
	VPAND   c10<>(SB), Y4, Y4;             \
	VPOR    Y4, Y1, Y1;                    \
	VPSRLW  $2, Y5, Y5;                    \
	Q4K_SUB(SCALED, Y0, 64*g, 2*g, a);     \
	Q4K_SUB(SCALED, Y1, 64*g+32, 2*g+1, b)

// Q5K_Q8_SB adds the super-block at P times the activations at DX into ACC.
#define Q5K_Q8_SB(SCALED, P, ACC) \
	Q4K_SCALES8(P);                          \
	QK_ZERO;                                 \
	VMOVDQU 16(P), Y5;                       \
	Q5K_GROUP(SCALED, P, 0, 48, Y9, Y6);     \
	Q5K_GROUP(SCALED, P, 1, 80, Y7, Y8);     \
	Q5K_GROUP(SCALED, P, 2, 112, Y9, Y6);    \
	Q5K_GROUP(SCALED, P, 3, 144, Y7, Y8);    \
	QK_MINS_FLOAT(P, ACC)

// ---------------------------------------------------------------------------------------
// Q6_K × Q8Act. Per half of 128 weights: the 6-bit q of weights l, l+32, l+64, l+96 (l <
// 32) as four vectors of 32 bytes, each two sub-blocks of 16 (its 128-bit halves), each
// meeting its activations and its pair's scales (q6kSc); then, with the scales widened in
// order, the −32 offset as 32·Σ sc·Σxq, and
//
//	acc += (d·xd)·float32(Σ sc·q·xq − 32·Σ sc·Σxq)
//
// Y8 and Y11 hold the masks 0x30 and 0x0F, Y10 the scales in q6kEvenOdd order.

// Q6K_PAIR adds pair i's weights (unsigned bytes in u) times the activations at ao(DX) times
// their scales to acc. Clobbers u and Y2.
#define Q6K_PAIR(SCALED, u, ao, i, acc) \
	VPMADDUBSW ao(DX), u, u;                  \
	VPSHUFB    q6kSc<>+(32*(i))(SB), Y10, Y2; \
	SCALED(Y2, u, acc)

// Q6K_HALF does half h, its ql at qo(P), qh at ho(P), activations at ao(DX), its pairs into
// accumulators a, b, c and d.
#define Q6K_HALF(SCALED, P, h, qo, ho, ao, a, b, c, d) \
	VMOVDQU qo(P), Y0;                    \
	VMOVDQU qo+32(P), Y1;                 \
	VMOVDQU ho(P), Y2;                    \
	VPAND   Y11, Y0, Y3;                  \
	VPSLLW  $4, Y2, Y4;                   \
	VPAND   Y8, Y4, Y4;                   \
	VPOR    Y4, Y3, Y3;                   \
	VPAND   Y11, Y1, Y4;                  \
	VPSLLW  $2, Y2, Y5;                   \
	VPAND   Y8, Y5, Y5;                   \
	VPOR    Y5, Y4, Y4;                   \
	VPSRLW  $4, Y0, Y0;                   \
	VPAND   Y11, Y0, Y0;                  \
	VPAND   Y8, Y2, Y5;                   \
	VPOR    Y5, Y0, Y0;                   \
	VPSRLW  $4, Y1, Y1;                   \
	VPAND   Y11, Y1, Y1;                  \
	VPSRLW  $2, Y2, Y2;                   \
	VPAND   Y8, Y2, Y2;                   \
	VPOR    Y2, Y1, Y1;                   \
	Q6K_PAIR(SCALED, Y3, ao, 4*h, a);        \
	Q6K_PAIR(SCALED, Y4, ao+32, 4*h+1, b);   \
	Q6K_PAIR(SCALED, Y0, ao+64, 4*h+2, c);   \
	Q6K_PAIR(SCALED, Y1, ao+96, 4*h+3, d)

// Q6K_Q8_SB adds the super-block at P times the activations at DX into ACC.
#define Q6K_Q8_SB(SCALED, P, ACC) \
	VMOVDQU      192(P), X3;                  \
	VPSHUFB      q6kEvenOdd<>(SB), X3, X3;    \
	VPMOVSXBW    X3, Y10;                     \
	VPXOR        Y6, Y6, Y6;                  \
	VPXOR        Y7, Y7, Y7;                  \
	VPXOR        Y9, Y9, Y9;                  \
	Q6K_HALF(SCALED, P, 0, 0, 128, 0, Y9, Y6, Y7, Y9);     \
	Q6K_HALF(SCALED, P, 1, 64, 160, 128, Y6, Y7, Y9, Y6);  \
	VPADDD       Y6, Y9, Y9;                  \
	VPADDD       Y7, Y9, Y9;                  \
	VPMOVSXBW    192(P), Y3;                  \
	VPMADDWD     (R12)(CX*8), Y3, Y3;         \
	VPSLLD       $5, Y3, Y3;                  \
	VPSUBD       Y3, Y9, Y9;                  \
	VCVTDQ2PS    Y9, Y9;                      \
	VBROADCASTSS (R11)(CX*1), Y5;             \
	VPBROADCASTW 208(P), X4;                  \
	VCVTPH2PS    X4, Y4;                      \
	VMULPS       Y5, Y4, Y4;                  \
	VFMADD231PS  Y9, Y4, ACC

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

// GEMV_Q8 is the body of a fast kernel: SB(SCALED, P, ACC) the super-block, bb its bytes,
// setup the constant registers. The rows go four at a time, one from each quarter of the
// rows, so that four sequential streams are in flight (R9 the bytes of a quarter, R13 the
// second to fourth rows); the last len(dst)%4 one at a time.
#define GEMV_Q8(SB, SCALED, bb, setup) \
	MOVQ    dst_base+0(FP), DI      \
	MOVQ    dst_len+8(FP), R8       \
	MOVQ    w_base+24(FP), SI       \
	MOVQ    xq_base+48(FP), R10     \
	MOVQ    xq_len+56(FP), R14      \
	MOVQ    R14, R9                 \
	SHRQ    $8, R9                  \
	IMULQ   $(bb), R9               \
	SHRQ    $6, R14                 \
	MOVQ    xd_base+72(FP), R11     \
	MOVQ    sums_base+96(FP), R12   \
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
	SB(SCALED, SI, Y12)             \
	LEAQ    (SI)(R9*1), R13         \
	SB(SCALED, R13, Y13)            \
	ADDQ    R9, R13                 \
	SB(SCALED, R13, Y14)            \
	ADDQ    R9, R13                 \
	SB(SCALED, R13, Y15)            \
	ADDQ    $(bb), SI               \
	ADDQ    $256, DX                \
	ADDQ    $4, CX                  \
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
	SB(SCALED, SI, Y12)             \
	ADDQ    $(bb), SI               \
	ADDQ    $256, DX                \
	ADDQ    $4, CX                  \
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
	VMOVDQU c30<>(SB), Y8;     \
	VMOVDQU c0F<>(SB), Y11

// The macros above name the arguments of the kernels below, so these come after them all
// (go vet attributes a macro's lines to the TEXT before it).

// func gemvQ4_KQ8AVX2(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)
TEXT ·gemvQ4_KQ8AVX2(SB), NOSPLIT, $0-120
	GEMV_Q8(Q4K_Q8_SB, SCALED_AVX2, 144, Q4K_SETUP)

// func gemvQ4_KQ8VNNI(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)
TEXT ·gemvQ4_KQ8VNNI(SB), NOSPLIT, $0-120
	GEMV_Q8(Q4K_Q8_SB, SCALED_VNNI, 144, Q4K_SETUP)

// func gemvQ5_KQ8AVX2(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)
TEXT ·gemvQ5_KQ8AVX2(SB), NOSPLIT, $0-120
	GEMV_Q8(Q5K_Q8_SB, SCALED_AVX2, 176, Q4K_SETUP)

// func gemvQ5_KQ8VNNI(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)
TEXT ·gemvQ5_KQ8VNNI(SB), NOSPLIT, $0-120
	GEMV_Q8(Q5K_Q8_SB, SCALED_VNNI, 176, Q4K_SETUP)

// func gemvQ6_KQ8AVX2(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)
TEXT ·gemvQ6_KQ8AVX2(SB), NOSPLIT, $0-120
	GEMV_Q8(Q6K_Q8_SB, SCALED_AVX2, 210, Q6K_SETUP)

// func gemvQ6_KQ8VNNI(dst []float32, w []byte, xq []int8, xd []float32, sums []int16)
TEXT ·gemvQ6_KQ8VNNI(SB), NOSPLIT, $0-120
	GEMV_Q8(Q6K_Q8_SB, SCALED_VNNI, 210, Q6K_SETUP)

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
