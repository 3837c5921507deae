//go:build !purego

#include "textflag.h"

// Q8_0 matrix-vector products and the activation quantizer. See qgemv_q8_amd64.go.
//
// The products walk four rows at a time, rows t, t+q, t+2q and t+3q of n (q = n/4), as the
// bf16 kernels do (gemv_amd64.s): each quarter of the rows is then one sequential stream.
// The four row pointers stay at their rows' starts while one offset walks the 34-byte
// blocks; two blocks per loop iteration, then one if the row has an odd number. The n%4
// rows left at the end run as one more group whose missing rows repeat the last real one
// (read, never stored), so there is one loop body.
//
// Registers shared by the products:
//
//	DI  dst[t]            R8  groups left (0 in the last group)   R9  bytes of q rows
//	DX  bytes of q floats SI, R12, R13, R14  the four rows' starts
//	BX  byte offset of the block in a row     CX  block index (scaled, see each kernel)
//	AX  end of CX for the two-block loop      R10 x (or the activations' int8 values)
//	X14 the four rows' sums, lane i for row i of the group

// How far ahead of its reads each row stream is prefetched, in bytes (as gemv_amd64.s).
#define PFDIST 2048

// PF4 prefetches the four row streams PFDIST bytes ahead of the block at BX, once per loop
// iteration of two blocks (68 bytes, about a cache line); NOPF builds the kernels without.
#define PF4 \
	PREFETCHT0 PFDIST(SI)(BX*1);  \
	PREFETCHT0 PFDIST(R12)(BX*1); \
	PREFETCHT0 PFDIST(R13)(BX*1); \
	PREFETCHT0 PFDIST(R14)(BX*1)

#define NOPF

// GROUPS is the row loop around a group body: full groups of four rows with the four rows'
// sums stored at dst[t], dst[t+q], dst[t+2q], dst[t+3q], then the n%4 rows left as a last
// group (R8 = 0), whose rows 4q… are consecutive and whose sums are stored one by one. kl
// is the operand holding k (an argument's length). BODY leaves the sums in X14 and, as it ends, the
// row length in bytes in BX; it may clobber AX, CX and R10-R11 (reloading what it needs).
#define GROUPS(BODY, kl) \
	MOVQ  dst_base+0(FP), DI;    \
	MOVQ  dst_len+8(FP), R8;     \
	MOVQ  w_base+24(FP), SI;     \
	SHRQ  $2, R8;                \
	MOVQ  kl, R9;          \
	SHRQ  $5, R9;                \
	IMULQ $34, R9;               \
	IMULQ R8, R9;                \
	MOVQ  R8, DX;                \
	SHLQ  $2, DX;                \
groups:                          \
	TESTQ R8, R8;                \
	JEQ   lastRows;              \
	LEAQ  (SI)(R9*1), R12;       \
	LEAQ  (SI)(R9*2), R13;       \
	LEAQ  (R12)(R9*2), R14;      \
group:                           \
	BODY;                        \
	TESTQ R8, R8;                \
	JEQ   lastStore;             \
	VMOVSS     X14, (DI);        \
	VEXTRACTPS $1, X14, (DI)(DX*1); \
	VEXTRACTPS $2, X14, (DI)(DX*2); \
	LEAQ       (DI)(DX*2), R12;  \
	VEXTRACTPS $3, X14, (R12)(DX*1); \
	ADDQ  BX, SI;                \
	ADDQ  $4, DI;                \
	DECQ  R8;                    \
	JMP   groups;                \
lastRows:                        \
	MOVQ  dst_len+8(FP), CX;     \
	ANDQ  $3, CX;                \
	JZ    done;                  \
	LEAQ  (SI)(R9*2), SI;        \
	ADDQ  R9, SI;                \
	LEAQ  (DI)(DX*2), DI;        \
	ADDQ  DX, DI;                \
	MOVQ  kl, AX;          \
	SHRQ  $5, AX;                \
	IMULQ $34, AX;               \
	MOVQ  SI, R12;               \
	CMPQ  CX, $2;                \
	JB    last1;                 \
	ADDQ  AX, R12;               \
last1:                           \
	MOVQ  R12, R13;              \
	CMPQ  CX, $3;                \
	JB    last2;                 \
	ADDQ  AX, R13;               \
last2:                           \
	MOVQ  R13, R14;              \
	JMP   group;                 \
lastStore:                       \
	VMOVSS     X14, (DI);        \
	MOVQ       dst_len+8(FP), CX; \
	ANDQ       $3, CX;           \
	CMPQ       CX, $2;           \
	JB         done;             \
	VEXTRACTPS $1, X14, 4(DI);   \
	CMPQ       CX, $3;           \
	JB         done;             \
	VEXTRACTPS $2, X14, 8(DI);   \
done:                            \
	VZEROUPPER;                  \
	RET

// BLOCKS runs BLK2 (two blocks at BX) while CX < AX, stepping BX by 68 and CX by cs, then
// BLK1 once if the row has an odd number of blocks (kl is the operand holding k).
#define BLOCKS(BLK2, BLK1, PF, cs, kl) \
	CMPQ CX, AX;          \
	JAE  pairsDone;       \
pairs:                    \
	PF;                   \
	BLK2;                 \
	ADDQ $68, BX;         \
	ADDQ $(cs), CX;       \
	CMPQ CX, AX;          \
	JB   pairs;           \
pairsDone:                \
	MOVQ kl, AX;    \
	TESTQ $32, AX;        \
	JZ   blocksDone;      \
	BLK1;                 \
	ADDQ $34, BX;         \
blocksDone:

// ---------------------------------------------------------------------------------------
// The exact product: for each block, the 32 int8 weights widened to float32 (VPMOVSXBD,
// VCVTDQ2PS) and multiplied by x into a block sum, which is then multiplied by the block's
// scale d (VCVTPH2PS) into the row's accumulator: Σ_b d_b·(Σ_j q_bj·x_bj). CX = 16·block,
// so that x of the block is at (R10)(CX*8).

// EX256(wo, row, acc) adds one block of row (weights at wo(row)(BX*1)), times the block's
// x in Y12-Y15, into the 8 lanes of acc. Clobbers Y0-Y4.
#define EX256(wo, row, acc) \
	VPMOVSXBD   wo+2(row)(BX*1), Y0;   \
	VCVTDQ2PS   Y0, Y0;                \
	VMULPS      Y12, Y0, Y4;           \
	VPMOVSXBD   wo+10(row)(BX*1), Y1;  \
	VCVTDQ2PS   Y1, Y1;                \
	VFMADD231PS Y13, Y1, Y4;           \
	VPMOVSXBD   wo+18(row)(BX*1), Y2;  \
	VCVTDQ2PS   Y2, Y2;                \
	VFMADD231PS Y14, Y2, Y4;           \
	VPMOVSXBD   wo+26(row)(BX*1), Y3;  \
	VCVTDQ2PS   Y3, Y3;                \
	VFMADD231PS Y15, Y3, Y4;           \
	VCVTPH2PS   wo(row)(BX*1), X0;     \
	VBROADCASTSS X0, Y0;               \
	VFMADD231PS Y0, Y4, acc

// EX256x4 adds one block of the four rows, x at xo(R10)(CX*8).
#define EX256x4(wo, xo) \
	VMOVUPS xo(R10)(CX*8), Y12;    \
	VMOVUPS xo+32(R10)(CX*8), Y13; \
	VMOVUPS xo+64(R10)(CX*8), Y14; \
	VMOVUPS xo+96(R10)(CX*8), Y15; \
	EX256(wo, SI, Y8);  \
	EX256(wo, R12, Y9); \
	EX256(wo, R13, Y10); \
	EX256(wo, R14, Y11)

#define EX256x4x2 \
	EX256x4(0, 0); \
	EX256x4(34, 128)

#define EX256x4x1 \
	EX256x4(0, 0)

// HSUM4_256 sums each of Y8..Y11 into lane 0..3 of X14.
#define HSUM4_256 \
	VUNPCKLPS    Y9, Y8, Y0;   \
	VUNPCKHPS    Y9, Y8, Y1;   \
	VADDPS       Y1, Y0, Y0;   \
	VUNPCKLPS    Y11, Y10, Y1; \
	VUNPCKHPS    Y11, Y10, Y2; \
	VADDPS       Y2, Y1, Y1;   \
	VUNPCKLPD    Y1, Y0, Y2;   \
	VUNPCKHPD    Y1, Y0, Y3;   \
	VADDPS       Y3, Y2, Y2;   \
	VEXTRACTF128 $1, Y2, X3;   \
	VADDPS       X3, X2, X14

// EXBODY256 is the exact product of one group of four rows (AVX2).
#define EXBODY256(PF) \
	MOVQ   x_base+48(FP), R10;   \
	MOVQ   x_len+56(FP), AX;     \
	SHRQ   $1, AX;               \
	ANDQ   $-32, AX;             \
	XORQ   BX, BX;               \
	XORQ   CX, CX;               \
	VXORPS Y8, Y8, Y8;           \
	VXORPS Y9, Y9, Y9;           \
	VXORPS Y10, Y10, Y10;        \
	VXORPS Y11, Y11, Y11;        \
	BLOCKS(EX256x4x2, EX256x4x1, PF, 32, x_len+56(FP)) \
	HSUM4_256

// EX512 is EX256 with 16 weights per vector, two per block, x in Z12 and Z13.
#define EX512(wo, row, acc) \
	VPMOVSXBD   wo+2(row)(BX*1), Z0;   \
	VCVTDQ2PS   Z0, Z0;                \
	VMULPS      Z12, Z0, Z4;           \
	VPMOVSXBD   wo+18(row)(BX*1), Z1;  \
	VCVTDQ2PS   Z1, Z1;                \
	VFMADD231PS Z13, Z1, Z4;           \
	VCVTPH2PS   wo(row)(BX*1), X2;     \
	VBROADCASTSS X2, Z2;               \
	VFMADD231PS Z2, Z4, acc

#define EX512x4(wo, xo) \
	VMOVUPS xo(R10)(CX*8), Z12;    \
	VMOVUPS xo+64(R10)(CX*8), Z13; \
	EX512(wo, SI, Z8);  \
	EX512(wo, R12, Z9); \
	EX512(wo, R13, Z10); \
	EX512(wo, R14, Z11)

#define EX512x4x2 \
	EX512x4(0, 0); \
	EX512x4(34, 128)

#define EX512x4x1 \
	EX512x4(0, 0)

// EXBODY512 is the exact product of one group of four rows (AVX-512).
#define EXBODY512(PF) \
	MOVQ   x_base+48(FP), R10;   \
	MOVQ   x_len+56(FP), AX;     \
	SHRQ   $1, AX;               \
	ANDQ   $-32, AX;             \
	XORQ   BX, BX;               \
	XORQ   CX, CX;               \
	VPXORD Z8, Z8, Z8;           \
	VPXORD Z9, Z9, Z9;           \
	VPXORD Z10, Z10, Z10;        \
	VPXORD Z11, Z11, Z11;        \
	BLOCKS(EX512x4x2, EX512x4x1, PF, 32, x_len+56(FP)) \
	VEXTRACTF64X4 $1, Z8, Y0;    \
	VADDPS        Y0, Y8, Y8;    \
	VEXTRACTF64X4 $1, Z9, Y1;    \
	VADDPS        Y1, Y9, Y9;    \
	VEXTRACTF64X4 $1, Z10, Y2;   \
	VADDPS        Y2, Y10, Y10;  \
	VEXTRACTF64X4 $1, Z11, Y3;   \
	VADDPS        Y3, Y11, Y11;  \
	HSUM4_256

// ---------------------------------------------------------------------------------------
// The fast product: for each block, the 32 int8 weights w times the 32 int8 activations x
// as exact int32 sums, with the sign trick (|w| as unsigned bytes against x·sign(w), whose
// products are w·x) for the unsigned×signed byte products of VPMADDUBSW and VPDPBUSD; the
// four rows' 8-lane sums are reduced to one vector of four, which is converted to float32
// and added as the plain-Go twin adds it: s += (d_w·D)·float32(isum). CX = 4·block, so
// that the block's int8 activations are at (R10)(CX*8) and its scale D at (R11)(CX*1).

// DOT_AVX2(addr, acc) sets acc to 8 int32 partial sums of the products of the 32 weights
// at addr with the activations in Y0. Y15 holds sixteen int16 ones. Clobbers Y1, Y2.
// VPMADDUBSW cannot saturate: |w| ≤ 128 and |x| ≤ 127, so a pair sums to at most 32512.
#define DOT_AVX2(addr, acc) \
	VMOVDQU    addr, Y1;     \
	VPSIGNB    Y1, Y0, Y2;   \
	VPABSB     Y1, Y1;       \
	VPMADDUBSW Y2, Y1, Y1;   \
	VPMADDWD   Y15, Y1, acc

// DOT_VNNI is DOT_AVX2 with VPDPBUSD (EVEX-encoded on ymm registers).
#define DOT_VNNI(addr, acc) \
	VMOVDQU  addr, Y1;       \
	VPSIGNB  Y1, Y0, Y2;     \
	VPABSB   Y1, Y1;         \
	VPXOR    acc, acc, acc;  \
	VPDPBUSD Y2, Y1, acc

// FAST4(DOT, wo, qo, do) adds one block of the four rows (weights at wo(row)(BX*1), the
// activations at qo(R10)(CX*8), their scale at do(R11)(CX*1)) into X14.
#define FAST4(DOT, wo, qo, do) \
	VMOVDQU     qo(R10)(CX*8), Y0;   \
	DOT(wo+2(SI)(BX*1), Y4);         \
	DOT(wo+2(R12)(BX*1), Y5);        \
	DOT(wo+2(R13)(BX*1), Y6);        \
	DOT(wo+2(R14)(BX*1), Y7);        \
	VPUNPCKLDQ  Y5, Y4, Y8;          \
	VPUNPCKHDQ  Y5, Y4, Y9;          \
	VPADDD      Y9, Y8, Y8;          \
	VPUNPCKLDQ  Y7, Y6, Y9;          \
	VPUNPCKHDQ  Y7, Y6, Y10;         \
	VPADDD      Y10, Y9, Y9;         \
	VPUNPCKLQDQ Y9, Y8, Y10;         \
	VPUNPCKHQDQ Y9, Y8, Y11;         \
	VPADDD      Y11, Y10, Y10;       \
	VEXTRACTI128 $1, Y10, X11;       \
	VPADDD      X11, X10, X10;       \
	VCVTDQ2PS   X10, X10;            \
	VMOVD       wo(SI)(BX*1), X12;   \
	VPINSRW     $1, wo(R12)(BX*1), X12, X12; \
	VPINSRW     $2, wo(R13)(BX*1), X12, X12; \
	VPINSRW     $3, wo(R14)(BX*1), X12, X12; \
	VCVTPH2PS   X12, X12;            \
	VBROADCASTSS do(R11)(CX*1), X13; \
	VMULPS      X13, X12, X12;       \
	VMULPS      X12, X10, X10;       \
	VADDPS      X10, X14, X14

#define FAST4x2_AVX2 \
	FAST4(DOT_AVX2, 0, 0, 0); \
	FAST4(DOT_AVX2, 34, 32, 4)
#define FAST4x1_AVX2 \
	FAST4(DOT_AVX2, 0, 0, 0)
#define FAST4x2_VNNI \
	FAST4(DOT_VNNI, 0, 0, 0); \
	FAST4(DOT_VNNI, 34, 32, 4)
#define FAST4x1_VNNI \
	FAST4(DOT_VNNI, 0, 0, 0)

// FASTBODY is the fast product of one group of four rows.
#define FASTBODY(BLK2, BLK1, PF) \
	MOVQ   q_base+48(FP), R10;   \
	MOVQ   d_base+72(FP), R11;   \
	MOVQ   q_len+56(FP), AX;     \
	SHRQ   $3, AX;               \
	ANDQ   $-8, AX;              \
	XORQ   BX, BX;               \
	XORQ   CX, CX;               \
	VXORPS X14, X14, X14;        \
	BLOCKS(BLK2, BLK1, PF, 8, q_len+56(FP))

// ones16 is sixteen int16 ones, for VPMADDWD.
DATA ones16<>+0(SB)/4, $0x00010001
GLOBL ones16<>(SB), RODATA|NOPTR, $4

// ---------------------------------------------------------------------------------------
// The activation quantizer, one block (chunks of 32 values) per outer iteration: amax =
// max|x| over the block, d = amax/127 and id = 1/d (0 where d = 0) in float32 scalars as
// the twin computes them; then per chunk q = VCVTPS2DQ(x·id) (round to nearest even under
// Go's MXCSR), packed to bytes with signed saturation (a no-op: |x·id| ≤ 127 up to
// rounding), and the sums of q over each 16 as int16.
//
//	SI  x (walks)   DI  q   R8  d   R10  sums   R9  x's end   R11  chunks a block
//	BX, DX  the amax pass's pointer and count

DATA quantConst<>+0(SB)/4, $0x7fffffff // |x| mask
DATA quantConst<>+4(SB)/4, $127.0
DATA quantConst<>+8(SB)/4, $1.0
GLOBL quantConst<>(SB), RODATA|NOPTR, $12

// packOrder puts the dwords of VPACKSSDW+VPACKSSWB's lane-wise result back in order.
DATA packOrder<>+0(SB)/4, $0
DATA packOrder<>+4(SB)/4, $4
DATA packOrder<>+8(SB)/4, $1
DATA packOrder<>+12(SB)/4, $5
DATA packOrder<>+16(SB)/4, $2
DATA packOrder<>+20(SB)/4, $6
DATA packOrder<>+24(SB)/4, $3
DATA packOrder<>+28(SB)/4, $7
GLOBL packOrder<>(SB), RODATA|NOPTR, $32

// QSCALE takes amax in every lane of X4 and leaves d in X4 (lane 0) and id in all of Y5.
#define QSCALE \
	VDIVSS       X14, X4, X4;     \
	VDIVSS       X4, X13, X5;     \
	VCMPSS       $4, X12, X4, X6; \
	VANDPS       X6, X5, X5;      \
	VBROADCASTSS X5, Y5

// QMAX4 folds the 8 lanes of Y4 to their maximum in every lane of X4.
#define QMAX4 \
	VEXTRACTF128 $1, Y4, X5;       \
	VMAXPS       X5, X4, X4;       \
	VPERMILPS    $0x4E, X4, X5;    \
	VMAXPS       X5, X4, X4;       \
	VPERMILPS    $0xB1, X4, X5;    \
	VMAXPS       X5, X4, X4

// ---------------------------------------------------------------------------------------
// The kernels.

// func gemvQ8_0AVX2(dst []float32, w []byte, x []float32)
TEXT ·gemvQ8_0AVX2(SB), NOSPLIT, $0-72
	GROUPS(EXBODY256(PF4), x_len+56(FP))

// func gemvQ8_0AVX2NoPF(dst []float32, w []byte, x []float32)
TEXT ·gemvQ8_0AVX2NoPF(SB), NOSPLIT, $0-72
	GROUPS(EXBODY256(NOPF), x_len+56(FP))

// func gemvQ8_0AVX512(dst []float32, w []byte, x []float32)
TEXT ·gemvQ8_0AVX512(SB), NOSPLIT, $0-72
	GROUPS(EXBODY512(PF4), x_len+56(FP))

// func gemvQ8_0AVX512NoPF(dst []float32, w []byte, x []float32)
TEXT ·gemvQ8_0AVX512NoPF(SB), NOSPLIT, $0-72
	GROUPS(EXBODY512(NOPF), x_len+56(FP))

// func gemvQ8_0Q8AVX2(dst []float32, w []byte, q []int8, d []float32)
TEXT ·gemvQ8_0Q8AVX2(SB), NOSPLIT, $0-96
	VPBROADCASTD ones16<>(SB), Y15
	GROUPS(FASTBODY(FAST4x2_AVX2, FAST4x1_AVX2, PF4), q_len+56(FP))

// func gemvQ8_0Q8AVX2NoPF(dst []float32, w []byte, q []int8, d []float32)
TEXT ·gemvQ8_0Q8AVX2NoPF(SB), NOSPLIT, $0-96
	VPBROADCASTD ones16<>(SB), Y15
	GROUPS(FASTBODY(FAST4x2_AVX2, FAST4x1_AVX2, NOPF), q_len+56(FP))

// func gemvQ8_0Q8VNNI(dst []float32, w []byte, q []int8, d []float32)
TEXT ·gemvQ8_0Q8VNNI(SB), NOSPLIT, $0-96
	GROUPS(FASTBODY(FAST4x2_VNNI, FAST4x1_VNNI, PF4), q_len+56(FP))

// func gemvQ8_0Q8VNNINoPF(dst []float32, w []byte, q []int8, d []float32)
TEXT ·gemvQ8_0Q8VNNINoPF(SB), NOSPLIT, $0-96
	GROUPS(FASTBODY(FAST4x2_VNNI, FAST4x1_VNNI, NOPF), q_len+56(FP))

// func quantizeQ8ActAVX2(q []int8, d []float32, sums []int16, x []float32, chunks int)
TEXT ·quantizeQ8ActAVX2(SB), NOSPLIT, $0-104
	MOVQ q_base+0(FP), DI
	MOVQ d_base+24(FP), R8
	MOVQ sums_base+48(FP), R10
	MOVQ x_base+72(FP), SI
	MOVQ x_len+80(FP), R9
	LEAQ (SI)(R9*4), R9
	MOVQ chunks+96(FP), R11
	VBROADCASTSS quantConst<>+0(SB), Y15
	VMOVSS quantConst<>+4(SB), X14
	VMOVSS quantConst<>+8(SB), X13
	VXORPS X12, X12, X12
	VMOVDQU packOrder<>(SB), Y11
	CMPQ SI, R9
	JAE  qdone
qblock:
	MOVQ   SI, BX
	MOVQ   R11, DX
	VXORPS Y4, Y4, Y4
qamax:
	VANDPS (BX), Y15, Y0
	VANDPS 32(BX), Y15, Y1
	VANDPS 64(BX), Y15, Y2
	VANDPS 96(BX), Y15, Y3
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VMAXPS Y0, Y4, Y4
	ADDQ   $128, BX
	DECQ   DX
	JNZ    qamax
	QMAX4
	QSCALE
	VMOVSS X4, (R8)
	ADDQ   $4, R8
	MOVQ   R11, DX
qchunk:
	VMULPS    (SI), Y5, Y0
	VMULPS    32(SI), Y5, Y1
	VMULPS    64(SI), Y5, Y2
	VMULPS    96(SI), Y5, Y3
	VCVTPS2DQ Y0, Y0
	VCVTPS2DQ Y1, Y1
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	VPACKSSDW Y1, Y0, Y6
	VPACKSSDW Y3, Y2, Y7
	VPACKSSWB Y7, Y6, Y6
	VPERMD    Y6, Y11, Y6
	VMOVDQU   Y6, (DI)
	// Y8 and Y9: each lane the sum of 2 of the first and the second 16 values; then their
	// two totals as int16.
	VPADDD       Y1, Y0, Y8
	VPADDD       Y3, Y2, Y9
	VPHADDD      Y9, Y8, Y8
	VPHADDD      Y8, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD       X9, X8, X8
	VPACKSSDW    X8, X8, X8
	VMOVD        X8, (R10)
	ADDQ         $4, R10
	ADDQ         $128, SI
	ADDQ         $32, DI
	DECQ         DX
	JNZ          qchunk
	CMPQ         SI, R9
	JB           qblock
qdone:
	VZEROUPPER
	RET
