//go:build !purego

#include "textflag.h"

// Vector kernels. See vec_amd64.go for what each computes.
//
// The AVX-512 kernels finish with one masked vector: K1 holds the lanes of the last n%16
// elements, masked-out lanes are neither loaded (no fault past the end of a slice) nor
// stored. The AVX2 ones use VMASKMOVPS with a mask from maskTable<> where the elements are
// float32, and leave 16-bit tails to Go.

// expf constants (Cephes expf): exp(x) = 2^n·exp(r), n = round(x·log2e), r = x - n·ln2 with
// ln2 split into C1 + C2, exp(r) = 1 + r + r²·P(r) on |r| ≤ ln2/2 (about 1 ulp).
DATA expConst<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expConst<>+4(SB)/4, $0xbf318000  // -C1 = -0.693359375
DATA expConst<>+8(SB)/4, $0x395e8083  // -C2 = 2.12194440e-4
DATA expConst<>+12(SB)/4, $0x39506967 // p0 = 1.9875691500e-4
DATA expConst<>+16(SB)/4, $0x3ab743ce // p1 = 1.3981999507e-3
DATA expConst<>+20(SB)/4, $0x3c088908 // p2 = 8.3334519073e-3
DATA expConst<>+24(SB)/4, $0x3d2aa9c1 // p3 = 4.1665795894e-2
DATA expConst<>+28(SB)/4, $0x3e2aaaaa // p4 = 1.6666665459e-1
DATA expConst<>+32(SB)/4, $0x3f000000 // p5 = 0.5
DATA expConst<>+36(SB)/4, $0x3f800000 // 1
DATA expConst<>+40(SB)/4, $0xc2d00000 // -104: exp rounds to 0 below (AVX-512: VSCALEFPS makes subnormals)
DATA expConst<>+44(SB)/4, $0x42b20000 // 89: exp overflows to +Inf above
DATA expConst<>+48(SB)/4, $0xc2aeac4f // -87.33654 = ln(2^-126): AVX2 flushes exp below it to 0
DATA expConst<>+52(SB)/4, $0x42b0999a // 88.3: AVX2 clamps x here (2^n must stay a normal float)
DATA expConst<>+56(SB)/4, $0xff800000 // -Inf
DATA expConst<>+60(SB)/4, $0x0000007f // float32 exponent bias (integer)
GLOBL expConst<>(SB), RODATA|NOPTR, $64

// bf16 rounding constants (integers).
DATA bf16Const<>+0(SB)/4, $0x00000001
DATA bf16Const<>+4(SB)/4, $0x00007fff
DATA bf16Const<>+8(SB)/4, $0x7fffffff
DATA bf16Const<>+12(SB)/4, $0x7f800000
DATA bf16Const<>+16(SB)/4, $0x00000040
GLOBL bf16Const<>(SB), RODATA|NOPTR, $20

// maskTable<>+4·(8-r) is the VMASKMOVPS mask of the first r of 8 lanes.
DATA maskTable<>+0(SB)/8, $-1
DATA maskTable<>+8(SB)/8, $-1
DATA maskTable<>+16(SB)/8, $-1
DATA maskTable<>+24(SB)/8, $-1
DATA maskTable<>+32(SB)/8, $0
DATA maskTable<>+40(SB)/8, $0
DATA maskTable<>+48(SB)/8, $0
DATA maskTable<>+56(SB)/8, $0
GLOBL maskTable<>(SB), RODATA|NOPTR, $64

// MASK16(n) sets K1 to the lanes of the last n%16 elements. Clobbers CX and R11.
#define MASK16(n) \
	MOVQ  n, CX;      \
	ANDL  $15, CX;    \
	MOVL  $1, R11;    \
	SHLL  CX, R11;    \
	DECL  R11;        \
	KMOVW R11, K1

// MASK8(n) sets K1 to the lanes of the last n%8 elements. Clobbers CX and R11.
#define MASK8(n) \
	MOVQ  n, CX;      \
	ANDL  $7, CX;     \
	MOVL  $1, R11;    \
	SHLL  CX, R11;    \
	DECL  R11;        \
	KMOVW R11, K1

// AVXMASK(n, y) loads into y the VMASKMOVPS mask of the last n%8 elements. Clobbers CX, R11.
#define AVXMASK(n, y) \
	MOVQ    n, CX;                 \
	ANDL    $7, CX;                \
	NEGQ    CX;                    \
	LEAQ    maskTable<>+32(SB), R11; \
	VMOVDQU (R11)(CX*4), y

// HSUM512(z, y, x) sums the 16 floats of Zz into the low float of Xx (z, y, x name the
// same register number, 0-15). Clobbers Y15/X15.
#define HSUM512(z, y, x) \
	VEXTRACTF64X4 $1, z, Y15; \
	VADDPS        Y15, y, y;  \
	HSUM256(y, x)

// HSUM256(y, x) sums the 8 floats of Yy into the low float of Xx. Clobbers X15.
#define HSUM256(y, x) \
	VEXTRACTF128 $1, y, X15; \
	VADDPS       X15, x, x;  \
	VHADDPS      x, x, x;    \
	VHADDPS      x, x, x

// HSUMPD512(z, y, x) sums the 8 doubles of Zz into the low double of Xx. Clobbers Y15/X15.
#define HSUMPD512(z, y, x) \
	VEXTRACTF64X4 $1, z, Y15; \
	VADDPD        Y15, y, y;  \
	HSUMPD256(y, x)

// HSUMPD256(y, x) sums the 4 doubles of Yy into the low double of Xx. Clobbers X15.
#define HSUMPD256(y, x) \
	VEXTRACTF128 $1, y, X15; \
	VADDPD       X15, x, x;  \
	VHADDPD      x, x, x

// EXPCONST512 loads the constants of EXP512 into Z16-Z28.
#define EXPCONST512 \
	VBROADCASTSS expConst<>+0(SB), Z16;  \
	VBROADCASTSS expConst<>+4(SB), Z17;  \
	VBROADCASTSS expConst<>+8(SB), Z18;  \
	VBROADCASTSS expConst<>+12(SB), Z19; \
	VBROADCASTSS expConst<>+16(SB), Z20; \
	VBROADCASTSS expConst<>+20(SB), Z21; \
	VBROADCASTSS expConst<>+24(SB), Z22; \
	VBROADCASTSS expConst<>+28(SB), Z23; \
	VBROADCASTSS expConst<>+32(SB), Z24; \
	VBROADCASTSS expConst<>+36(SB), Z25; \
	VBROADCASTSS expConst<>+40(SB), Z26; \
	VBROADCASTSS expConst<>+44(SB), Z27; \
	VBROADCASTSS expConst<>+56(SB), Z28

// EXP512(z, n, p) sets z = exp(z), with n and p as scratch: x clamped to [-104, 89] (x first,
// so that a NaN passes: MAXPS and MINPS return their second source when either is NaN);
// n = round(x·log2e), ties to even; r = x - n·C1 - n·C2; p = P(r) by Horner, then
// 1 + r + r²·P(r) as two more steps; z = p·2^n by VSCALEFPS, rounded once, so that results
// below 2^-126 come out subnormal and those above the range +Inf.
#define EXP512(z, n, p) \
	VMAXPS      z, Z26, z;  \
	VMINPS      z, Z27, z;  \
	VMULPS      Z16, z, n;  \
	VRNDSCALEPS $0, n, n;   \
	VFMADD231PS Z17, n, z;  \
	VFMADD231PS Z18, n, z;  \
	VMOVAPS     Z19, p;     \
	VFMADD213PS Z20, z, p;  \
	VFMADD213PS Z21, z, p;  \
	VFMADD213PS Z22, z, p;  \
	VFMADD213PS Z23, z, p;  \
	VFMADD213PS Z24, z, p;  \
	VFMADD213PS Z25, z, p;  \
	VFMADD213PS Z25, z, p;  \
	VSCALEFPS   n, p, z

// SUMPD(z, y, a, yb, b, s0, s1) adds the 16 floats of Zz, widened to float64, into Zs0
// (the low 8) and Zs1 (the high 8); Za, Zb (Yb) are scratch.
#define SUMPD(z, y, a, yb, b, s0, s1) \
	VCVTPS2PD     y, a;       \
	VEXTRACTF64X4 $1, z, yb;  \
	VCVTPS2PD     yb, b;      \
	VADDPD        a, s0, s0;  \
	VADDPD        b, s1, s1

// EXPCONST256 loads the constants of EXP256 that stay in registers into Y8-Y13.
#define EXPCONST256 \
	VBROADCASTSS expConst<>+0(SB), Y8;  \
	VBROADCASTSS expConst<>+4(SB), Y9;  \
	VBROADCASTSS expConst<>+8(SB), Y10; \
	VBROADCASTSS expConst<>+36(SB), Y11; \
	VBROADCASTSS expConst<>+48(SB), Y12; \
	VBROADCASTSS expConst<>+52(SB), Y13

// EXP256 sets Y0 = exp(Y0) as EXP512 does, for x ≤ 88.3 and with results below 2^-126
// flushed to 0: without VSCALEFPS, 2^n is built from exponent bits, so n must stay in
// [-126, 127]. The mask of the lanes to keep, !(x < ln 2^-126), is true for a NaN, which
// then passes through. Y1-Y3 and Y15 are scratch; the polynomial's coefficients are
// broadcast from memory (loads, not vector operations) for want of registers.
#define EXP256 \
	VCMPPS       $5, Y12, Y0, Y3;   \
	VMAXPS       Y0, Y12, Y0;       \
	VMINPS       Y0, Y13, Y0;       \
	VMULPS       Y8, Y0, Y1;        \
	VROUNDPS     $0, Y1, Y1;        \
	VFMADD231PS  Y9, Y1, Y0;        \
	VFMADD231PS  Y10, Y1, Y0;       \
	VBROADCASTSS expConst<>+12(SB), Y2; \
	VBROADCASTSS expConst<>+16(SB), Y15; \
	VFMADD213PS  Y15, Y0, Y2;       \
	VBROADCASTSS expConst<>+20(SB), Y15; \
	VFMADD213PS  Y15, Y0, Y2;       \
	VBROADCASTSS expConst<>+24(SB), Y15; \
	VFMADD213PS  Y15, Y0, Y2;       \
	VBROADCASTSS expConst<>+28(SB), Y15; \
	VFMADD213PS  Y15, Y0, Y2;       \
	VBROADCASTSS expConst<>+32(SB), Y15; \
	VFMADD213PS  Y15, Y0, Y2;       \
	VFMADD213PS  Y11, Y0, Y2;       \
	VFMADD213PS  Y11, Y0, Y2;       \
	VCVTPS2DQ    Y1, Y1;            \
	VPBROADCASTD expConst<>+60(SB), Y15; \
	VPADDD       Y15, Y1, Y1;       \
	VPSLLD       $23, Y1, Y1;       \
	VMULPS       Y1, Y2, Y0;        \
	VANDPS       Y3, Y0, Y0

// ROTATE turns (a, b) = (Z0, Z1) by (c, s) = (Z2, Z3): Z4 = a·c - b·s, Z6 = b·c + a·s, each
// product rounded before the sum as in the plain-Go loop (so the results are identical).
#define ROTATE \
	VMULPS Z2, Z0, Z4; \
	VMULPS Z3, Z1, Z5; \
	VSUBPS Z5, Z4, Z4; \
	VMULPS Z2, Z1, Z6; \
	VMULPS Z3, Z0, Z7; \
	VADDPS Z7, Z6, Z6

// ROUNDBF16 rounds the float32 lanes of Z0 to bf16 in the low half of the lanes of Z2, as
// Float32ToBF16 does: u + 0x7fff + (u>>16 & 1), then >> 16; a NaN keeps its top half with
// the quiet bit set. Constants: Z27 = 1, Z28 = 0x7fff, Z29 = 0x7fffffff, Z30 = 0x7f800000,
// Z31 = 0x40. Clobbers Z1, Z3 and K2.
#define ROUNDBF16 \
	VPSRLD  $16, Z0, Z1;        \
	VPANDD  Z27, Z1, Z2;        \
	VPADDD  Z28, Z2, Z2;        \
	VPADDD  Z0, Z2, Z2;         \
	VPSRLD  $16, Z2, Z2;        \
	VPANDD  Z29, Z0, Z3;        \
	VPCMPUD $6, Z30, Z3, K2;    \
	VPORD   Z31, Z1, K2, Z2


// func dotAVX512(x, y []float32) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), BX
	MOVQ   y_base+24(FP), DI
	MASK16(BX)
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ   AX, AX
	MOVQ   BX, DX
	ANDQ   $-64, DX
	JZ     dot16

dot64:
	VMOVUPS     (SI)(AX*4), Z4
	VMOVUPS     64(SI)(AX*4), Z5
	VMOVUPS     128(SI)(AX*4), Z6
	VMOVUPS     192(SI)(AX*4), Z7
	VFMADD231PS (DI)(AX*4), Z4, Z0
	VFMADD231PS 64(DI)(AX*4), Z5, Z1
	VFMADD231PS 128(DI)(AX*4), Z6, Z2
	VFMADD231PS 192(DI)(AX*4), Z7, Z3
	ADDQ        $64, AX
	CMPQ        AX, DX
	JLT         dot64

dot16:
	MOVQ BX, DX
	ANDQ $-16, DX

dot16loop:
	CMPQ        AX, DX
	JGE         dottail
	VMOVUPS     (SI)(AX*4), Z4
	VFMADD231PS (DI)(AX*4), Z4, Z0
	ADDQ        $16, AX
	JMP         dot16loop

dottail:
	CMPQ        AX, BX
	JGE         dotsum
	VMOVUPS.Z   (SI)(AX*4), K1, Z4
	VMOVUPS.Z   (DI)(AX*4), K1, Z5
	VFMADD231PS Z5, Z4, Z1

dotsum:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM512(Z0, Y0, X0)
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func axpyAVX512(a float32, x, y []float32)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Z31
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), BX
	MOVQ         y_base+32(FP), DI
	MASK16(BX)
	XORQ         AX, AX
	MOVQ         BX, DX
	ANDQ         $-64, DX
	JZ           axpy16

axpy64:
	VMOVUPS     (DI)(AX*4), Z0
	VMOVUPS     64(DI)(AX*4), Z1
	VMOVUPS     128(DI)(AX*4), Z2
	VMOVUPS     192(DI)(AX*4), Z3
	VFMADD231PS (SI)(AX*4), Z31, Z0
	VFMADD231PS 64(SI)(AX*4), Z31, Z1
	VFMADD231PS 128(SI)(AX*4), Z31, Z2
	VFMADD231PS 192(SI)(AX*4), Z31, Z3
	VMOVUPS     Z0, (DI)(AX*4)
	VMOVUPS     Z1, 64(DI)(AX*4)
	VMOVUPS     Z2, 128(DI)(AX*4)
	VMOVUPS     Z3, 192(DI)(AX*4)
	ADDQ        $64, AX
	CMPQ        AX, DX
	JLT         axpy64

axpy16:
	MOVQ BX, DX
	ANDQ $-16, DX

axpy16loop:
	CMPQ        AX, DX
	JGE         axpytail
	VMOVUPS     (DI)(AX*4), Z0
	VFMADD231PS (SI)(AX*4), Z31, Z0
	VMOVUPS     Z0, (DI)(AX*4)
	ADDQ        $16, AX
	JMP         axpy16loop

axpytail:
	CMPQ        AX, BX
	JGE         axpydone
	VMOVUPS.Z   (DI)(AX*4), K1, Z0
	VMOVUPS.Z   (SI)(AX*4), K1, Z1
	VFMADD231PS Z1, Z31, Z0
	VMOVUPS     Z0, K1, (DI)(AX*4)

axpydone:
	VZEROUPPER
	RET

// func addAVX512(dst, x []float32)
TEXT ·addAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), BX
	MASK16(BX)
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-64, DX
	JZ   add16

add64:
	VMOVUPS (DI)(AX*4), Z0
	VMOVUPS 64(DI)(AX*4), Z1
	VMOVUPS 128(DI)(AX*4), Z2
	VMOVUPS 192(DI)(AX*4), Z3
	VADDPS  (SI)(AX*4), Z0, Z0
	VADDPS  64(SI)(AX*4), Z1, Z1
	VADDPS  128(SI)(AX*4), Z2, Z2
	VADDPS  192(SI)(AX*4), Z3, Z3
	VMOVUPS Z0, (DI)(AX*4)
	VMOVUPS Z1, 64(DI)(AX*4)
	VMOVUPS Z2, 128(DI)(AX*4)
	VMOVUPS Z3, 192(DI)(AX*4)
	ADDQ    $64, AX
	CMPQ    AX, DX
	JLT     add64

add16:
	MOVQ BX, DX
	ANDQ $-16, DX

add16loop:
	CMPQ    AX, DX
	JGE     addtail
	VMOVUPS (DI)(AX*4), Z0
	VADDPS  (SI)(AX*4), Z0, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	JMP     add16loop

addtail:
	CMPQ      AX, BX
	JGE       adddone
	VMOVUPS.Z (DI)(AX*4), K1, Z0
	VMOVUPS.Z (SI)(AX*4), K1, Z1
	VADDPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (DI)(AX*4)

adddone:
	VZEROUPPER
	RET

// func relu2AVX512(x []float32)
TEXT ·relu2AVX512(SB), NOSPLIT, $0-24
	MOVQ   x_base+0(FP), DI
	MOVQ   x_len+8(FP), BX
	MASK16(BX)
	VPXORD Z31, Z31, Z31
	XORQ   AX, AX
	MOVQ   BX, DX
	ANDQ   $-64, DX
	JZ     relu16

// max(x, 0) with 0 as the second source: a NaN becomes 0, as in the plain-Go loop.
relu64:
	VMOVUPS (DI)(AX*4), Z0
	VMAXPS  Z31, Z0, Z0
	VMOVUPS 64(DI)(AX*4), Z1
	VMAXPS  Z31, Z1, Z1
	VMOVUPS 128(DI)(AX*4), Z2
	VMAXPS  Z31, Z2, Z2
	VMOVUPS 192(DI)(AX*4), Z3
	VMAXPS  Z31, Z3, Z3
	VMULPS  Z0, Z0, Z0
	VMULPS  Z1, Z1, Z1
	VMULPS  Z2, Z2, Z2
	VMULPS  Z3, Z3, Z3
	VMOVUPS Z0, (DI)(AX*4)
	VMOVUPS Z1, 64(DI)(AX*4)
	VMOVUPS Z2, 128(DI)(AX*4)
	VMOVUPS Z3, 192(DI)(AX*4)
	ADDQ    $64, AX
	CMPQ    AX, DX
	JLT     relu64

relu16:
	MOVQ BX, DX
	ANDQ $-16, DX

relu16loop:
	CMPQ    AX, DX
	JGE     relutail
	VMOVUPS (DI)(AX*4), Z0
	VMAXPS  Z31, Z0, Z0
	VMULPS  Z0, Z0, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	JMP     relu16loop

relutail:
	CMPQ      AX, BX
	JGE       reludone
	VMOVUPS.Z (DI)(AX*4), K1, Z0
	VMAXPS    Z31, Z0, Z0
	VMULPS    Z0, Z0, Z0
	VMOVUPS   Z0, K1, (DI)(AX*4)

reludone:
	VZEROUPPER
	RET

// func softmaxAVX512(x []float32)
TEXT ·softmaxAVX512(SB), NOSPLIT, $0-24
	MOVQ  x_base+0(FP), DI
	MOVQ  x_len+8(FP), BX
	TESTQ BX, BX
	JZ    smdone
	MASK16(BX)
	EXPCONST512

	// m = max(x); the lanes past the end of a last partial vector hold -Inf.
	VMOVAPS Z28, Z4
	VMOVAPS Z28, Z5
	VMOVAPS Z28, Z6
	VMOVAPS Z28, Z7
	XORQ    AX, AX
	MOVQ    BX, DX
	ANDQ    $-64, DX
	JZ      smmax16

smmax64:
	VMAXPS (DI)(AX*4), Z4, Z4
	VMAXPS 64(DI)(AX*4), Z5, Z5
	VMAXPS 128(DI)(AX*4), Z6, Z6
	VMAXPS 192(DI)(AX*4), Z7, Z7
	ADDQ   $64, AX
	CMPQ   AX, DX
	JLT    smmax64

smmax16:
	MOVQ BX, DX
	ANDQ $-16, DX

smmax16loop:
	CMPQ   AX, DX
	JGE    smmaxtail
	VMAXPS (DI)(AX*4), Z4, Z4
	ADDQ   $16, AX
	JMP    smmax16loop

smmaxtail:
	CMPQ    AX, BX
	JGE     smmaxred
	VMOVAPS Z28, Z0
	VMOVUPS (DI)(AX*4), K1, Z0
	VMAXPS  Z0, Z5, Z5

smmaxred:
	VMAXPS        Z5, Z4, Z4
	VMAXPS        Z7, Z6, Z6
	VMAXPS        Z6, Z4, Z4
	VEXTRACTF64X4 $1, Z4, Y5
	VMAXPS        Y5, Y4, Y4
	VEXTRACTF128  $1, Y4, X5
	VMAXPS        X5, X4, X4
	VPERMILPS     $0x4e, X4, X5
	VMAXPS        X5, X4, X4
	VPERMILPS     $0xb1, X4, X5
	VMAXPS        X5, X4, X4
	VBROADCASTSS  X4, Z15

	// x = exp(x-m), summed in float64 as the plain-Go loop does; -Inf past the end gives 0.
	// Two vectors per iteration, so that two exp chains overlap.
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	XORQ   AX, AX
	MOVQ   BX, DX
	ANDQ   $-32, DX
	JZ     smexp16

smexp32:
	VMOVUPS       (DI)(AX*4), Z0
	VMOVUPS       64(DI)(AX*4), Z3
	VSUBPS        Z15, Z0, Z0
	VSUBPS        Z15, Z3, Z3
	EXP512(Z0, Z1, Z2)
	EXP512(Z3, Z4, Z5)
	VMOVUPS       Z0, (DI)(AX*4)
	VMOVUPS       Z3, 64(DI)(AX*4)
	SUMPD(Z0, Y0, Z1, Y2, Z2, Z12, Z13)
	SUMPD(Z3, Y3, Z4, Y5, Z5, Z10, Z11)
	ADDQ          $32, AX
	CMPQ          AX, DX
	JLT           smexp32

smexp16:
	MOVQ BX, DX
	ANDQ $-16, DX
	CMPQ AX, DX
	JGE  smexptail
	VMOVUPS       (DI)(AX*4), Z0
	VSUBPS        Z15, Z0, Z0
	EXP512(Z0, Z1, Z2)
	VMOVUPS       Z0, (DI)(AX*4)
	SUMPD(Z0, Y0, Z1, Y2, Z2, Z12, Z13)
	ADDQ          $16, AX

smexptail:
	CMPQ          AX, BX
	JGE           smsum
	VMOVAPS       Z28, Z0
	VMOVUPS       (DI)(AX*4), K1, Z0
	VSUBPS        Z15, Z0, Z0
	EXP512(Z0, Z1, Z2)
	VMOVUPS       Z0, K1, (DI)(AX*4)
	SUMPD(Z0, Y0, Z1, Y2, Z2, Z12, Z13)

smsum:
	VADDPD Z13, Z12, Z12
	VADDPD Z11, Z10, Z10
	VADDPD Z10, Z12, Z12
	HSUMPD512(Z12, Y12, X12)
	MOVQ         $0x3ff0000000000000, R11 // 1.0
	VMOVQ        R11, X1
	VDIVSD       X12, X1, X1
	VCVTSD2SS    X1, X1, X1
	VBROADCASTSS X1, Z15

	// x *= 1/Σ
	XORQ AX, AX

smscale16:
	CMPQ    AX, DX
	JGE     smscaletail
	VMULPS  (DI)(AX*4), Z15, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	JMP     smscale16

smscaletail:
	CMPQ      AX, BX
	JGE       smdone
	VMOVUPS.Z (DI)(AX*4), K1, Z0
	VMULPS    Z15, Z0, Z0
	VMOVUPS   Z0, K1, (DI)(AX*4)

smdone:
	VZEROUPPER
	RET

// func expAVX512(dst, x []float32)
TEXT ·expAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), BX
	MASK16(BX)
	EXPCONST512
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-16, DX

exp16:
	CMPQ    AX, DX
	JGE     exptail
	VMOVUPS (SI)(AX*4), Z0
	EXP512(Z0, Z1, Z2)
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	JMP     exp16

exptail:
	CMPQ      AX, BX
	JGE       expdone
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	EXP512(Z0, Z1, Z2)
	VMOVUPS   Z0, K1, (DI)(AX*4)

expdone:
	VZEROUPPER
	RET

// func layerNorm1PAVX512(dst, x, w, b []float32, eps float32)
TEXT ·layerNorm1PAVX512(SB), NOSPLIT, $0-100
	MOVQ  dst_base+0(FP), DI
	MOVQ  x_base+24(FP), SI
	MOVQ  x_len+32(FP), BX
	MOVQ  w_base+48(FP), R8
	MOVQ  b_base+72(FP), R9
	TESTQ BX, BX
	JZ    lndone
	MASK8(BX)

	// Σx in float64, eight lanes per vector.
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	XORQ   AX, AX
	MOVQ   BX, DX
	ANDQ   $-16, DX

lnsum16:
	CMPQ      AX, DX
	JGE       lnsum8
	VCVTPS2PD (SI)(AX*4), Z0
	VCVTPS2PD 32(SI)(AX*4), Z1
	VADDPD    Z0, Z4, Z4
	VADDPD    Z1, Z5, Z5
	ADDQ      $16, AX
	JMP       lnsum16

lnsum8:
	MOVQ      BX, DX
	ANDQ      $-8, DX
	CMPQ      AX, DX
	JGE       lnsumtail
	VCVTPS2PD (SI)(AX*4), Z0
	VADDPD    Z0, Z4, Z4
	ADDQ      $8, AX

lnsumtail:
	CMPQ        AX, BX
	JGE         lnmean
	VCVTPS2PD.Z (SI)(AX*4), K1, Z0
	VADDPD      Z0, Z5, Z5

lnmean:
	VADDPD Z5, Z4, Z4
	HSUMPD512(Z4, Y4, X4)
	VCVTSI2SDQ   BX, X1, X1
	VDIVSD       X1, X4, X4
	VBROADCASTSD X4, Z15

	// Σ(x-mean)² in float64.
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ   AX, AX
	MOVQ   BX, DX
	ANDQ   $-16, DX

lnvar16:
	CMPQ        AX, DX
	JGE         lnvar8
	VCVTPS2PD   (SI)(AX*4), Z0
	VCVTPS2PD   32(SI)(AX*4), Z2
	VSUBPD      Z15, Z0, Z0
	VSUBPD      Z15, Z2, Z2
	VFMADD231PD Z0, Z0, Z6
	VFMADD231PD Z2, Z2, Z7
	ADDQ        $16, AX
	JMP         lnvar16

lnvar8:
	MOVQ        BX, DX
	ANDQ        $-8, DX
	CMPQ        AX, DX
	JGE         lnvartail
	VCVTPS2PD   (SI)(AX*4), Z0
	VSUBPD      Z15, Z0, Z0
	VFMADD231PD Z0, Z0, Z6
	ADDQ        $8, AX

lnvartail:
	CMPQ        AX, BX
	JGE         lninv
	VCVTPS2PD.Z (SI)(AX*4), K1, Z0
	VSUBPD.Z    Z15, Z0, K1, Z0
	VFMADD231PD Z0, Z0, Z7

lninv:
	// r = 1/sqrt(Σ(x-mean)²/n + eps), then mean and r rounded to float32.
	VADDPD Z7, Z6, Z6
	HSUMPD512(Z6, Y6, X6)
	VDIVSD       X1, X6, X6
	VCVTSS2SD    eps+96(FP), X2, X2
	VADDSD       X2, X6, X6
	VSQRTSD      X6, X6, X6
	MOVQ         $0x3ff0000000000000, R11 // 1.0
	VMOVQ        R11, X2
	VDIVSD       X6, X2, X2
	VCVTSD2SS    X4, X4, X4
	VCVTSD2SS    X2, X2, X2
	VBROADCASTSS X4, Z14
	VBROADCASTSS X2, Z13
	VBROADCASTSS expConst<>+36(SB), Z12 // 1

	// dst = (x-m)·r·(1+w) + b, rounded step by step as the plain-Go loop does.
	MASK16(BX)
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-16, DX

lnout16:
	CMPQ    AX, DX
	JGE     lnouttail
	VMOVUPS (SI)(AX*4), Z0
	VSUBPS  Z14, Z0, Z0
	VMULPS  Z13, Z0, Z0
	VADDPS  (R8)(AX*4), Z12, Z1
	VMULPS  Z1, Z0, Z0
	VADDPS  (R9)(AX*4), Z0, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ    $16, AX
	JMP     lnout16

lnouttail:
	CMPQ      AX, BX
	JGE       lndone
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VMOVUPS.Z (R8)(AX*4), K1, Z1
	VMOVUPS.Z (R9)(AX*4), K1, Z2
	VSUBPS    Z14, Z0, Z0
	VMULPS    Z13, Z0, Z0
	VADDPS    Z12, Z1, Z1
	VMULPS    Z1, Z0, Z0
	VADDPS    Z2, Z0, Z0
	VMOVUPS   Z0, K1, (DI)(AX*4)

lndone:
	VZEROUPPER
	RET

// func rotateHalfAVX512(x, cos, sin []float32)
TEXT ·rotateHalfAVX512(SB), NOSPLIT, $0-72
	MOVQ x_base+0(FP), DI
	MOVQ cos_base+24(FP), SI
	MOVQ cos_len+32(FP), BX
	MOVQ sin_base+48(FP), R8
	LEAQ (DI)(BX*4), R9
	MASK16(BX)
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-16, DX

rot16:
	CMPQ    AX, DX
	JGE     rottail
	VMOVUPS (DI)(AX*4), Z0
	VMOVUPS (R9)(AX*4), Z1
	VMOVUPS (SI)(AX*4), Z2
	VMOVUPS (R8)(AX*4), Z3
	ROTATE
	VMOVUPS Z4, (DI)(AX*4)
	VMOVUPS Z6, (R9)(AX*4)
	ADDQ    $16, AX
	JMP     rot16

rottail:
	CMPQ      AX, BX
	JGE       rotdone
	VMOVUPS.Z (DI)(AX*4), K1, Z0
	VMOVUPS.Z (R9)(AX*4), K1, Z1
	VMOVUPS.Z (SI)(AX*4), K1, Z2
	VMOVUPS.Z (R8)(AX*4), K1, Z3
	ROTATE
	VMOVUPS   Z4, K1, (DI)(AX*4)
	VMOVUPS   Z6, K1, (R9)(AX*4)

rotdone:
	VZEROUPPER
	RET

// func bf16ToF32AVX512(dst []float32, src []uint16)
TEXT ·bf16ToF32AVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), BX
	MASK16(BX)
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-64, DX
	JZ   wb16

wb64:
	VPMOVZXWD (SI)(AX*2), Z0
	VPMOVZXWD 32(SI)(AX*2), Z1
	VPMOVZXWD 64(SI)(AX*2), Z2
	VPMOVZXWD 96(SI)(AX*2), Z3
	VPSLLD    $16, Z0, Z0
	VPSLLD    $16, Z1, Z1
	VPSLLD    $16, Z2, Z2
	VPSLLD    $16, Z3, Z3
	VMOVUPS   Z0, (DI)(AX*4)
	VMOVUPS   Z1, 64(DI)(AX*4)
	VMOVUPS   Z2, 128(DI)(AX*4)
	VMOVUPS   Z3, 192(DI)(AX*4)
	ADDQ      $64, AX
	CMPQ      AX, DX
	JLT       wb64

wb16:
	MOVQ BX, DX
	ANDQ $-16, DX

wb16loop:
	CMPQ      AX, DX
	JGE       wbtail
	VPMOVZXWD (SI)(AX*2), Z0
	VPSLLD    $16, Z0, Z0
	VMOVUPS   Z0, (DI)(AX*4)
	ADDQ      $16, AX
	JMP       wb16loop

wbtail:
	CMPQ        AX, BX
	JGE         wbdone
	VPMOVZXWD.Z (SI)(AX*2), K1, Z0
	VPSLLD      $16, Z0, Z0
	VMOVUPS     Z0, K1, (DI)(AX*4)

wbdone:
	VZEROUPPER
	RET

// func f16ToF32AVX512(dst []float32, src []uint16)
TEXT ·f16ToF32AVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), BX
	MASK16(BX)
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-64, DX
	JZ   wh16

wh64:
	VCVTPH2PS (SI)(AX*2), Z0
	VCVTPH2PS 32(SI)(AX*2), Z1
	VCVTPH2PS 64(SI)(AX*2), Z2
	VCVTPH2PS 96(SI)(AX*2), Z3
	VMOVUPS   Z0, (DI)(AX*4)
	VMOVUPS   Z1, 64(DI)(AX*4)
	VMOVUPS   Z2, 128(DI)(AX*4)
	VMOVUPS   Z3, 192(DI)(AX*4)
	ADDQ      $64, AX
	CMPQ      AX, DX
	JLT       wh64

wh16:
	MOVQ BX, DX
	ANDQ $-16, DX

wh16loop:
	CMPQ      AX, DX
	JGE       whtail
	VCVTPH2PS (SI)(AX*2), Z0
	VMOVUPS   Z0, (DI)(AX*4)
	ADDQ      $16, AX
	JMP       wh16loop

whtail:
	CMPQ        AX, BX
	JGE         whdone
	VCVTPH2PS.Z (SI)(AX*2), K1, Z0
	VMOVUPS     Z0, K1, (DI)(AX*4)

whdone:
	VZEROUPPER
	RET

// func f32ToBF16AVX512(dst []uint16, src []float32)
TEXT ·f32ToBF16AVX512(SB), NOSPLIT, $0-48
	MOVQ         dst_base+0(FP), DI
	MOVQ         src_base+24(FP), SI
	MOVQ         src_len+32(FP), BX
	MASK16(BX)
	VPBROADCASTD bf16Const<>+0(SB), Z27
	VPBROADCASTD bf16Const<>+4(SB), Z28
	VPBROADCASTD bf16Const<>+8(SB), Z29
	VPBROADCASTD bf16Const<>+12(SB), Z30
	VPBROADCASTD bf16Const<>+16(SB), Z31
	XORQ         AX, AX
	MOVQ         BX, DX
	ANDQ         $-16, DX

nb16:
	CMPQ    AX, DX
	JGE     nbtail
	VMOVUPS (SI)(AX*4), Z0
	ROUNDBF16
	VPMOVDW Z2, (DI)(AX*2)
	ADDQ    $16, AX
	JMP     nb16

nbtail:
	CMPQ      AX, BX
	JGE       nbdone
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	ROUNDBF16
	VPMOVDW   Z2, K1, (DI)(AX*2)

nbdone:
	VZEROUPPER
	RET

// DOT32_AVX2 carries dotAVX2's four chains Y0…Y3 over elements AX…AX+31 of x (SI) and y
// (DI); DOTSUM_AVX2 sums them into X0. dotsAVX2 runs the same two, so that it gives dotAVX2's
// bits.
#define DOT32_AVX2 \
	VMOVUPS     (SI)(AX*4), Y4;      \
	VMOVUPS     32(SI)(AX*4), Y5;    \
	VMOVUPS     64(SI)(AX*4), Y6;    \
	VMOVUPS     96(SI)(AX*4), Y7;    \
	VFMADD231PS (DI)(AX*4), Y4, Y0;  \
	VFMADD231PS 32(DI)(AX*4), Y5, Y1; \
	VFMADD231PS 64(DI)(AX*4), Y6, Y2; \
	VFMADD231PS 96(DI)(AX*4), Y7, Y3

#define DOTSUM_AVX2 \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y2, Y0, Y0; \
	HSUM256(Y0, X0)

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), BX
	MOVQ   y_base+24(FP), DI
	AVXMASK(BX, Y15)
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX
	MOVQ   BX, DX
	ANDQ   $-32, DX
	JZ     adot8

adot32:
	DOT32_AVX2
	ADDQ        $32, AX
	CMPQ        AX, DX
	JLT         adot32

adot8:
	MOVQ BX, DX
	ANDQ $-8, DX

adot8loop:
	CMPQ        AX, DX
	JGE         adottail
	VMOVUPS     (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ        $8, AX
	JMP         adot8loop

adottail:
	CMPQ        AX, BX
	JGE         adotsum
	VMASKMOVPS  (SI)(AX*4), Y15, Y4
	VMASKMOVPS  (DI)(AX*4), Y15, Y5
	VFMADD231PS Y5, Y4, Y1

adotsum:
	DOTSUM_AVX2
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func axpyAVX2(a float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Y14
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), BX
	MOVQ         y_base+32(FP), DI
	AVXMASK(BX, Y15)
	XORQ         AX, AX
	MOVQ         BX, DX
	ANDQ         $-32, DX
	JZ           aaxpy8

aaxpy32:
	VMOVUPS     (DI)(AX*4), Y0
	VMOVUPS     32(DI)(AX*4), Y1
	VMOVUPS     64(DI)(AX*4), Y2
	VMOVUPS     96(DI)(AX*4), Y3
	VFMADD231PS (SI)(AX*4), Y14, Y0
	VFMADD231PS 32(SI)(AX*4), Y14, Y1
	VFMADD231PS 64(SI)(AX*4), Y14, Y2
	VFMADD231PS 96(SI)(AX*4), Y14, Y3
	VMOVUPS     Y0, (DI)(AX*4)
	VMOVUPS     Y1, 32(DI)(AX*4)
	VMOVUPS     Y2, 64(DI)(AX*4)
	VMOVUPS     Y3, 96(DI)(AX*4)
	ADDQ        $32, AX
	CMPQ        AX, DX
	JLT         aaxpy32

aaxpy8:
	MOVQ BX, DX
	ANDQ $-8, DX

aaxpy8loop:
	CMPQ        AX, DX
	JGE         aaxpytail
	VMOVUPS     (DI)(AX*4), Y0
	VFMADD231PS (SI)(AX*4), Y14, Y0
	VMOVUPS     Y0, (DI)(AX*4)
	ADDQ        $8, AX
	JMP         aaxpy8loop

aaxpytail:
	CMPQ        AX, BX
	JGE         aaxpydone
	VMASKMOVPS  (DI)(AX*4), Y15, Y0
	VMASKMOVPS  (SI)(AX*4), Y15, Y1
	VFMADD231PS Y1, Y14, Y0
	VMASKMOVPS  Y0, Y15, (DI)(AX*4)

aaxpydone:
	VZEROUPPER
	RET

// func addAVX2(dst, x []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), BX
	AVXMASK(BX, Y15)
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-32, DX
	JZ   aadd8

aadd32:
	VMOVUPS (DI)(AX*4), Y0
	VMOVUPS 32(DI)(AX*4), Y1
	VMOVUPS 64(DI)(AX*4), Y2
	VMOVUPS 96(DI)(AX*4), Y3
	VADDPS  (SI)(AX*4), Y0, Y0
	VADDPS  32(SI)(AX*4), Y1, Y1
	VADDPS  64(SI)(AX*4), Y2, Y2
	VADDPS  96(SI)(AX*4), Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, DX
	JLT     aadd32

aadd8:
	MOVQ BX, DX
	ANDQ $-8, DX

aadd8loop:
	CMPQ    AX, DX
	JGE     aaddtail
	VMOVUPS (DI)(AX*4), Y0
	VADDPS  (SI)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     aadd8loop

aaddtail:
	CMPQ       AX, BX
	JGE        aadddone
	VMASKMOVPS (DI)(AX*4), Y15, Y0
	VMASKMOVPS (SI)(AX*4), Y15, Y1
	VADDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

aadddone:
	VZEROUPPER
	RET

// func relu2AVX2(x []float32)
TEXT ·relu2AVX2(SB), NOSPLIT, $0-24
	MOVQ   x_base+0(FP), DI
	MOVQ   x_len+8(FP), BX
	AVXMASK(BX, Y15)
	VXORPS Y14, Y14, Y14
	XORQ   AX, AX
	MOVQ   BX, DX
	ANDQ   $-32, DX
	JZ     arelu8

// max(x, 0) with 0 as the second source: a NaN becomes 0, as in the plain-Go loop.
arelu32:
	VMOVUPS (DI)(AX*4), Y0
	VMOVUPS 32(DI)(AX*4), Y1
	VMOVUPS 64(DI)(AX*4), Y2
	VMOVUPS 96(DI)(AX*4), Y3
	VMAXPS  Y14, Y0, Y0
	VMAXPS  Y14, Y1, Y1
	VMAXPS  Y14, Y2, Y2
	VMAXPS  Y14, Y3, Y3
	VMULPS  Y0, Y0, Y0
	VMULPS  Y1, Y1, Y1
	VMULPS  Y2, Y2, Y2
	VMULPS  Y3, Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	CMPQ    AX, DX
	JLT     arelu32

arelu8:
	MOVQ BX, DX
	ANDQ $-8, DX

arelu8loop:
	CMPQ    AX, DX
	JGE     arelutail
	VMOVUPS (DI)(AX*4), Y0
	VMAXPS  Y14, Y0, Y0
	VMULPS  Y0, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     arelu8loop

arelutail:
	CMPQ       AX, BX
	JGE        areludone
	VMASKMOVPS (DI)(AX*4), Y15, Y0
	VMAXPS     Y14, Y0, Y0
	VMULPS     Y0, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

areludone:
	VZEROUPPER
	RET

// func softmaxAVX2(x []float32)
TEXT ·softmaxAVX2(SB), NOSPLIT, $0-24
	MOVQ  x_base+0(FP), DI
	MOVQ  x_len+8(FP), BX
	TESTQ BX, BX
	JZ    asmdone
	AVXMASK(BX, Y14)
	EXPCONST256
	VBROADCASTSS expConst<>+56(SB), Y7 // -Inf

	// m = max(x); the lanes past the end of a last partial vector hold -Inf.
	VMOVAPS Y7, Y4
	VMOVAPS Y7, Y5
	XORQ    AX, AX
	MOVQ    BX, DX
	ANDQ    $-16, DX
	JZ      asmmax8

asmmax16:
	VMAXPS (DI)(AX*4), Y4, Y4
	VMAXPS 32(DI)(AX*4), Y5, Y5
	ADDQ   $16, AX
	CMPQ   AX, DX
	JLT    asmmax16

asmmax8:
	MOVQ BX, DX
	ANDQ $-8, DX

asmmax8loop:
	CMPQ   AX, DX
	JGE    asmmaxtail
	VMAXPS (DI)(AX*4), Y4, Y4
	ADDQ   $8, AX
	JMP    asmmax8loop

asmmaxtail:
	CMPQ       AX, BX
	JGE        asmmaxred
	VMASKMOVPS (DI)(AX*4), Y14, Y0
	VBLENDVPS  Y14, Y0, Y7, Y0
	VMAXPS     Y0, Y5, Y5

asmmaxred:
	VMAXPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0x4e, X4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0xb1, X4, X5
	VMAXPS       X5, X4, X4
	VBROADCASTSS X4, Y6

	// x = exp(x-m), summed in float64; -Inf past the end gives 0.
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	XORQ   AX, AX

asmexp8:
	CMPQ         AX, DX
	JGE          asmexptail
	VMOVUPS      (DI)(AX*4), Y0
	VSUBPS       Y6, Y0, Y0
	EXP256
	VMOVUPS      Y0, (DI)(AX*4)
	VCVTPS2PD    X0, Y1
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD    X2, Y2
	VADDPD       Y1, Y4, Y4
	VADDPD       Y2, Y5, Y5
	ADDQ         $8, AX
	JMP          asmexp8

asmexptail:
	CMPQ         AX, BX
	JGE          asmsum
	VMASKMOVPS   (DI)(AX*4), Y14, Y0
	VBLENDVPS    Y14, Y0, Y7, Y0
	VSUBPS       Y6, Y0, Y0
	EXP256
	VMASKMOVPS   Y0, Y14, (DI)(AX*4)
	VCVTPS2PD    X0, Y1
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD    X2, Y2
	VADDPD       Y1, Y4, Y4
	VADDPD       Y2, Y5, Y5

asmsum:
	VADDPD Y5, Y4, Y4
	HSUMPD256(Y4, X4)
	MOVQ         $0x3ff0000000000000, R11 // 1.0
	VMOVQ        R11, X1
	VDIVSD       X4, X1, X1
	VCVTSD2SS    X1, X1, X1
	VBROADCASTSS X1, Y6

	// x *= 1/Σ
	XORQ AX, AX

asmscale8:
	CMPQ    AX, DX
	JGE     asmscaletail
	VMULPS  (DI)(AX*4), Y6, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     asmscale8

asmscaletail:
	CMPQ       AX, BX
	JGE        asmdone
	VMASKMOVPS (DI)(AX*4), Y14, Y0
	VMULPS     Y6, Y0, Y0
	VMASKMOVPS Y0, Y14, (DI)(AX*4)

asmdone:
	VZEROUPPER
	RET

// func expAVX2(dst, x []float32)
TEXT ·expAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), BX
	AVXMASK(BX, Y14)
	EXPCONST256
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-8, DX

aexp8:
	CMPQ    AX, DX
	JGE     aexptail
	VMOVUPS (SI)(AX*4), Y0
	EXP256
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     aexp8

aexptail:
	CMPQ       AX, BX
	JGE        aexpdone
	VMASKMOVPS (SI)(AX*4), Y14, Y0
	EXP256
	VMASKMOVPS Y0, Y14, (DI)(AX*4)

aexpdone:
	VZEROUPPER
	RET

// func bf16ToF32AVX2(dst []float32, src []uint16)
TEXT ·bf16ToF32AVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), BX
	ANDQ $-8, BX
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-32, DX
	JZ   awb8

awb32:
	VPMOVZXWD (SI)(AX*2), Y0
	VPMOVZXWD 16(SI)(AX*2), Y1
	VPMOVZXWD 32(SI)(AX*2), Y2
	VPMOVZXWD 48(SI)(AX*2), Y3
	VPSLLD    $16, Y0, Y0
	VPSLLD    $16, Y1, Y1
	VPSLLD    $16, Y2, Y2
	VPSLLD    $16, Y3, Y3
	VMOVUPS   Y0, (DI)(AX*4)
	VMOVUPS   Y1, 32(DI)(AX*4)
	VMOVUPS   Y2, 64(DI)(AX*4)
	VMOVUPS   Y3, 96(DI)(AX*4)
	ADDQ      $32, AX
	CMPQ      AX, DX
	JLT       awb32

awb8:
	CMPQ      AX, BX
	JGE       awbdone
	VPMOVZXWD (SI)(AX*2), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)(AX*4)
	ADDQ      $8, AX
	JMP       awb8

awbdone:
	VZEROUPPER
	RET

// func f16ToF32AVX2(dst []float32, src []uint16)
TEXT ·f16ToF32AVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), BX
	ANDQ $-8, BX
	XORQ AX, AX
	MOVQ BX, DX
	ANDQ $-32, DX
	JZ   awh8

awh32:
	VCVTPH2PS (SI)(AX*2), Y0
	VCVTPH2PS 16(SI)(AX*2), Y1
	VCVTPH2PS 32(SI)(AX*2), Y2
	VCVTPH2PS 48(SI)(AX*2), Y3
	VMOVUPS   Y0, (DI)(AX*4)
	VMOVUPS   Y1, 32(DI)(AX*4)
	VMOVUPS   Y2, 64(DI)(AX*4)
	VMOVUPS   Y3, 96(DI)(AX*4)
	ADDQ      $32, AX
	CMPQ      AX, DX
	JLT       awh32

awh8:
	CMPQ      AX, BX
	JGE       awhdone
	VCVTPH2PS (SI)(AX*2), Y0
	VMOVUPS   Y0, (DI)(AX*4)
	ADDQ      $8, AX
	JMP       awh8

awhdone:
	VZEROUPPER
	RET

// func f32ToBF16AVX2(dst []uint16, src []float32)
TEXT ·f32ToBF16AVX2(SB), NOSPLIT, $0-48
	MOVQ         dst_base+0(FP), DI
	MOVQ         src_base+24(FP), SI
	MOVQ         src_len+32(FP), BX
	ANDQ         $-8, BX
	VPBROADCASTD bf16Const<>+0(SB), Y11
	VPBROADCASTD bf16Const<>+4(SB), Y12
	VPBROADCASTD bf16Const<>+8(SB), Y13
	VPBROADCASTD bf16Const<>+12(SB), Y14
	VPBROADCASTD bf16Const<>+16(SB), Y15
	XORQ         AX, AX

// As ROUNDBF16, with a blend for the NaN lanes (|u| > 0x7f800000, a signed compare since
// both sides are non-negative) and the eight results packed into words.
anb8:
	CMPQ         AX, BX
	JGE          anbdone
	VMOVDQU      (SI)(AX*4), Y0
	VPSRLD       $16, Y0, Y1
	VPAND        Y11, Y1, Y2
	VPADDD       Y12, Y2, Y2
	VPADDD       Y0, Y2, Y2
	VPSRLD       $16, Y2, Y2
	VPAND        Y13, Y0, Y3
	VPCMPGTD     Y14, Y3, Y3
	VPOR         Y15, Y1, Y1
	VPBLENDVB    Y3, Y1, Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPACKUSDW    X3, X2, X2
	VMOVDQU      X2, (DI)(AX*2)
	ADDQ         $8, AX
	JMP          anb8

anbdone:
	VZEROUPPER
	RET

// func dotsAVX2(dst, x []float32, ys *float32, ldy int, scale float32)
//
// dst[j] = dotAVX2(x, ys[j·ldy:])·scale for len(x) a multiple of 32: the same four chains and
// the same sum of them, one row of ys after another, without a call for each.
TEXT ·dotsAVX2(SB), NOSPLIT, $0-68
	MOVQ   dst_base+0(FP), R8
	MOVQ   dst_len+8(FP), R9
	MOVQ   x_base+24(FP), SI
	MOVQ   x_len+32(FP), BX
	MOVQ   ys+48(FP), DI
	MOVQ   ldy+56(FP), R10
	SHLQ   $2, R10
	VMOVSS scale+64(FP), X14
	TESTQ  R9, R9
	JZ     adotsdone

adotskey:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX

adots32:
	DOT32_AVX2
	ADDQ        $32, AX
	CMPQ        AX, BX
	JLT         adots32

	DOTSUM_AVX2
	VMULSS X14, X0, X0
	VMOVSS X0, (R8)
	ADDQ   $4, R8
	ADDQ   R10, DI
	DECQ   R9
	JNZ    adotskey

adotsdone:
	VZEROUPPER
	RET

// func dotsAVX512(dst, x []float32, ys *float32, ldy int, scale float32)
//
// dst[j] = dotAVX512(x, ys[j·ldy:])·scale for len(x) a multiple of 64: the same four chains
// and the same sum of them, one row of ys after another, without a call for each.
TEXT ·dotsAVX512(SB), NOSPLIT, $0-68
	MOVQ   dst_base+0(FP), R8
	MOVQ   dst_len+8(FP), R9
	MOVQ   x_base+24(FP), SI
	MOVQ   x_len+32(FP), BX
	MOVQ   ys+48(FP), DI
	MOVQ   ldy+56(FP), R10
	SHLQ   $2, R10
	VMOVSS scale+64(FP), X14
	TESTQ  R9, R9
	JZ     zdotsdone

zdotskey:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ   AX, AX

zdots64:
	VMOVUPS     (SI)(AX*4), Z4
	VMOVUPS     64(SI)(AX*4), Z5
	VMOVUPS     128(SI)(AX*4), Z6
	VMOVUPS     192(SI)(AX*4), Z7
	VFMADD231PS (DI)(AX*4), Z4, Z0
	VFMADD231PS 64(DI)(AX*4), Z5, Z1
	VFMADD231PS 128(DI)(AX*4), Z6, Z2
	VFMADD231PS 192(DI)(AX*4), Z7, Z3
	ADDQ        $64, AX
	CMPQ        AX, BX
	JLT         zdots64

	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	HSUM512(Z0, Y0, X0)
	VMULSS X14, X0, X0
	VMOVSS X0, (R8)
	ADDQ   $4, R8
	ADDQ   R10, DI
	DECQ   R9
	JNZ    zdotskey

zdotsdone:
	VZEROUPPER
	RET

// DOTS4_CHUNK multiplies the 64 elements at AX of the key row (DI) into the four queries'
// chains: query q's four accumulators are Z4q..Z4q+3, as dotAVX512's Z0..Z3.
#define DOTS4_CHUNK \
	VMOVUPS     (DI)(AX*4), Z16;     \
	VMOVUPS     64(DI)(AX*4), Z17;   \
	VMOVUPS     128(DI)(AX*4), Z18;  \
	VMOVUPS     192(DI)(AX*4), Z19;  \
	VFMADD231PS (SI)(AX*4), Z16, Z0;     \
	VFMADD231PS 64(SI)(AX*4), Z17, Z1;   \
	VFMADD231PS 128(SI)(AX*4), Z18, Z2;  \
	VFMADD231PS 192(SI)(AX*4), Z19, Z3;  \
	VFMADD231PS (R11)(AX*4), Z16, Z4;    \
	VFMADD231PS 64(R11)(AX*4), Z17, Z5;  \
	VFMADD231PS 128(R11)(AX*4), Z18, Z6; \
	VFMADD231PS 192(R11)(AX*4), Z19, Z7; \
	VFMADD231PS (R12)(AX*4), Z16, Z8;    \
	VFMADD231PS 64(R12)(AX*4), Z17, Z9;  \
	VFMADD231PS 128(R12)(AX*4), Z18, Z10; \
	VFMADD231PS 192(R12)(AX*4), Z19, Z11; \
	VFMADD231PS (R13)(AX*4), Z16, Z12;    \
	VFMADD231PS 64(R13)(AX*4), Z17, Z13;  \
	VFMADD231PS 128(R13)(AX*4), Z18, Z14; \
	VFMADD231PS 192(R13)(AX*4), Z19, Z15

// DOTS4_SUM sums the chains a..d as dotAVX512 does, scales the sum and stores it at (p).
// HSUM512 clobbers Y15, so the fourth query (Z12..Z15) is summed first.
#define DOTS4_SUM(a, b, c, d, y, x, p) \
	VADDPS b, a, a;        \
	VADDPS d, c, c;        \
	VADDPS c, a, a;        \
	HSUM512(a, y, x);      \
	VMULSS X25, x, x;      \
	VMOVSS x, (p)

// func dots4AVX512(d0, d1, d2, d3 *float32, n int, x0, x1, x2, x3 *float32, hd int, ys *float32, ldy int, scale float32)
//
// dst_q[j] = dotAVX512(x_q, ys[j·ldy:])·scale for four queries q at once and hd a multiple of
// 64: each key row is loaded once for the four, and each dot is dotAVX512's four chains and
// sum, the same bits as four calls of dotsAVX512.
TEXT ·dots4AVX512(SB), NOSPLIT, $0-100
	MOVQ   d0+0(FP), R8
	MOVQ   d1+8(FP), R9
	MOVQ   d2+16(FP), DX
	MOVQ   d3+24(FP), CX
	MOVQ   n+32(FP), R14
	MOVQ   x0+40(FP), SI
	MOVQ   x1+48(FP), R11
	MOVQ   x2+56(FP), R12
	MOVQ   x3+64(FP), R13
	MOVQ   hd+72(FP), BX
	MOVQ   ys+80(FP), DI
	MOVQ   ldy+88(FP), R10
	SHLQ   $2, R10
	VMOVSS scale+96(FP), X25
	TESTQ  R14, R14
	JZ     d4done

d4key:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	XORQ   AX, AX

d4chunk:
	DOTS4_CHUNK
	ADDQ $64, AX
	CMPQ AX, BX
	JLT  d4chunk

	DOTS4_SUM(Z12, Z13, Z14, Z15, Y12, X12, CX)
	DOTS4_SUM(Z0, Z1, Z2, Z3, Y0, X0, R8)
	DOTS4_SUM(Z4, Z5, Z6, Z7, Y4, X4, R9)
	DOTS4_SUM(Z8, Z9, Z10, Z11, Y8, X8, DX)
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $4, DX
	ADDQ $4, CX
	ADDQ R10, DI
	DECQ R14
	JNZ  d4key

d4done:
	VZEROUPPER
	RET
