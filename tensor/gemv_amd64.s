//go:build !purego

#include "textflag.h"
#include "bf16_amd64.h"

// Matrix-vector products for decoding: dst[r] = Σ_p w[r·k+p]·x[p]. See gemv_amd64.go.
//
// Decoding streams every weight once, so these kernels are written around memory: four rows
// at a time, each vector of x loaded once for the four, two accumulators per row (eight FMA
// chains in flight), and the four row streams prefetched PFDIST bytes ahead. The n rows of a
// call are read as four streams, one per quarter of the rows: group t multiplies rows t,
// t+q, t+2q and t+3q (q = n/4), so each stream walks its quarter from end to end, one row
// after the next, and the hardware prefetcher sees four long sequential streams instead of
// four of one row each. The last n%4 rows then run one at a time.
//
// Registers shared by the kernels:
//
//	DI  dst row t       R8  groups left, then rows left   SI  row t (walks)   R12 row t+q (walks)
//	R9  bytes of q rows R14 3·R9      R11 bytes of q floats (dst)   R10 x     DX  x (walks)
//	CX  k               AX, BX  ends of the unrolled loop and of the one-vector step

// How far ahead of its reads each row stream is prefetched, in bytes. On the development
// machine (a noisy 2-core VM) PREFETCHT0 at 2 KiB streamed 5-15% faster than no prefetch
// (most where rows are short, 3072 columns); 1-4 KiB were within the noise, and
// PREFETCHNTA at 1 KiB halved the rate. Measure again on a new machine with
// BenchmarkGemvBF16 before changing it.
#define PFDIST 2048

// REDUCE4_512 sums each of Z8..Z11 into one float and stores the four as REDUCE4_256 does.
#define REDUCE4_512 \
	VEXTRACTF64X4 $1, Z8, Y0;  \
	VADDPS        Y0, Y8, Y8;  \
	VEXTRACTF64X4 $1, Z9, Y1;  \
	VADDPS        Y1, Y9, Y9;  \
	VEXTRACTF64X4 $1, Z10, Y2; \
	VADDPS        Y2, Y10, Y10; \
	VEXTRACTF64X4 $1, Z11, Y3; \
	VADDPS        Y3, Y11, Y11; \
	REDUCE4_256

// REDUCE4_256 sums each of Y8..Y11 into one float and stores the four at (DI), (DI)+R11,
// (DI)+2·R11 and (DI)+3·R11, the dst of the group's four rows. Clobbers AX.
#define REDUCE4_256 \
	VHADDPS      Y9, Y8, Y8;   \
	VHADDPS      Y11, Y10, Y10; \
	VHADDPS      Y10, Y8, Y8;  \
	VEXTRACTF128 $1, Y8, X0;   \
	VADDPS       X0, X8, X8;   \
	VMOVSS       X8, (DI);     \
	VEXTRACTPS   $1, X8, (DI)(R11*1); \
	VEXTRACTPS   $2, X8, (DI)(R11*2); \
	LEAQ         (DI)(R11*2), AX; \
	VEXTRACTPS   $3, X8, (AX)(R11*1)

// REDUCE1_512 sums Z8 into one float and stores it at (DI).
#define REDUCE1_512 \
	VEXTRACTF64X4 $1, Z8, Y0; \
	VADDPS        Y0, Y8, Y8; \
	REDUCE1_256

// REDUCE1_256 sums Y8 into one float and stores it at (DI).
#define REDUCE1_256 \
	VEXTRACTF128 $1, Y8, X0; \
	VADDPS       X0, X8, X8; \
	VHADDPS      X8, X8, X8; \
	VHADDPS      X8, X8, X8; \
	VMOVSS       X8, (DI)

// PF4x2 prefetches 128 bytes of each of the four streams, PFDIST bytes ahead of SI, SI+R9,
// SI+2·R9 and R12+2·R9 (= SI+3·R9); past the end of a row the stream goes on into the next
// row of its quarter, which is what it reads next. PF4x1 does 64 bytes.
#define PF4x2 \
	PREFETCHT0 PFDIST(SI);             \
	PREFETCHT0 PFDIST+64(SI);          \
	PREFETCHT0 PFDIST(SI)(R9*1);       \
	PREFETCHT0 PFDIST+64(SI)(R9*1);    \
	PREFETCHT0 PFDIST(SI)(R9*2);       \
	PREFETCHT0 PFDIST+64(SI)(R9*2);    \
	PREFETCHT0 PFDIST(R12)(R9*2);      \
	PREFETCHT0 PFDIST+64(R12)(R9*2)

#define PF4x1 \
	PREFETCHT0 PFDIST(SI);             \
	PREFETCHT0 PFDIST(SI)(R9*1);       \
	PREFETCHT0 PFDIST(SI)(R9*2);       \
	PREFETCHT0 PFDIST(R12)(R9*2)

// PF1x2 and PF1x1 prefetch a single row, whose stream runs on into the next row. NOPF, in
// their place, builds the kernels that leave the streams to the hardware prefetcher.
#define PF1x2 \
	PREFETCHT0 PFDIST(SI); \
	PREFETCHT0 PFDIST+64(SI)

#define PF1x1 \
	PREFETCHT0 PFDIST(SI)

#define NOPF

// GROUP4 starts a group of four rows: x from its start, R12 at the second row, AX and BX the
// ends (in the first row) of the columns that the unrolled loop, of u columns, and the
// one-vector step, of v, cover; ws is the bytes of one weight.
#define GROUP4(u, v, ws) \
	LEAQ   (SI)(R9*1), R12;   \
	GROUP1(u, v, ws)

// GROUP1 starts a row, or a group at SI, as GROUP4 does without the rows after the first.
#define GROUP1(u, v, ws) \
	MOVQ   R10, DX;           \
	MOVQ   CX, AX;            \
	ANDQ   $-(u), AX;         \
	IMULQ  $(ws), AX;         \
	ADDQ   SI, AX;            \
	MOVQ   CX, BX;            \
	ANDQ   $-(v), BX;         \
	IMULQ  $(ws), BX;         \
	ADDQ   SI, BX

// ZERO512 and ZERO256 clear the accumulators of four rows, Z8-Z15 or Y8-Y15.
#define ZERO512 \
	VPXORD Z8, Z8, Z8;    \
	VPXORD Z9, Z9, Z9;    \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15

#define ZERO256 \
	VXORPS Y8, Y8, Y8;    \
	VXORPS Y9, Y9, Y9;    \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11; \
	VXORPS Y12, Y12, Y12; \
	VXORPS Y13, Y13, Y13; \
	VXORPS Y14, Y14, Y14; \
	VXORPS Y15, Y15, Y15

// SETUP loads the arguments (x's base and length named xb and xl) into the registers
// above, R8 the number of groups; ws is the bytes of one weight.
#define SETUP(xb, xl, ws) \
	MOVQ  dst_base+0(FP), DI;       \
	MOVQ  dst_len+8(FP), R8;        \
	MOVQ  w_base+24(FP), SI;        \
	MOVQ  xb+48(FP), R10;           \
	MOVQ  xl+56(FP), CX;            \
	MOVQ  R8, R11;                  \
	ANDQ  $-4, R11;                 \
	SHRQ  $2, R8;                   \
	MOVQ  CX, R9;                   \
	IMULQ $(ws), R9;                \
	IMULQ R8, R9;                   \
	LEAQ  (R9)(R9*2), R14

// NEXTGROUP closes a group: dst and the row pointer move one row on (SI already stands at
// the next row of the first quarter), and the next group starts at label again.
#define NEXTGROUP(again) \
	ADDQ $4, DI; \
	DECQ R8;     \
	JMP  again

// LASTROWS moves SI and DI from the end of the first quarter to row 4q, the first of the
// n%4 rows left, and sets R8 to their number.
#define LASTROWS \
	ADDQ  R14, SI;               \
	LEAQ  (R11)(R11*2), AX;      \
	ADDQ  AX, DI;                \
	MOVQ  dst_len+8(FP), R8;     \
	ANDQ  $3, R8

// TAILMASK(m, K) sets mask register K to the lanes of the last k%m columns. Clobbers BX, AX.
#define TAILMASK(m, K) \
	MOVQ  CX, BX;      \
	ANDQ  $((m)-1), BX; \
	MOVQ  $1, AX;      \
	SHLXQ BX, AX, AX;  \
	DECQ  AX;          \
	KMOVQ AX, K

// Weight loaders: 16 weights at addr widened to float32 in Z register z, and the masked
// form for the last k%16 columns (lanes outside K1 are zero and not read).
#define LD_F16(addr, z) \
	VCVTPH2PS addr, z
#define LDM_F16(addr, z) \
	VCVTPH2PS.Z addr, K1, z
#define LD_F32(addr, z) \
	VMOVUPS addr, z
#define LDM_F32(addr, z) \
	VMOVUPS.Z addr, K1, z

// GEMV512 is the body of an AVX-512 kernel with weight loaders LD and LDM, ws the bytes of
// a weight and vb of 16, PF4 and PF1 the prefetches for 2·vb bytes of four rows and of one.
#define GEMV512(LD, LDM, ws, vb, PF4, PF1) \
	SETUP(x_base, x_len, ws)            \
	TAILMASK(16, K1)                    \
rows4:                                  \
	TESTQ   R8, R8                      \
	JEQ     groupsDone                  \
	GROUP4(32, 16, ws)                  \
	ZERO512                             \
	CMPQ    SI, AX                      \
	JAE     step4                       \
loop4:                                  \
	PF4                                 \
	VMOVUPS (DX), Z0                    \
	VMOVUPS 64(DX), Z1                  \
	LD((SI), Z2)                        \
	LD(vb(SI), Z3)                      \
	LD((SI)(R9*1), Z4)                  \
	LD(vb(SI)(R9*1), Z5)                \
	LD((SI)(R9*2), Z6)                  \
	LD(vb(SI)(R9*2), Z7)                \
	LD((R12)(R9*2), Z16)                \
	LD(vb(R12)(R9*2), Z17)              \
	VFMADD231PS Z0, Z2, Z8              \
	VFMADD231PS Z1, Z3, Z12             \
	VFMADD231PS Z0, Z4, Z9              \
	VFMADD231PS Z1, Z5, Z13             \
	VFMADD231PS Z0, Z6, Z10             \
	VFMADD231PS Z1, Z7, Z14             \
	VFMADD231PS Z0, Z16, Z11            \
	VFMADD231PS Z1, Z17, Z15            \
	ADDQ    $(2*vb), SI                 \
	ADDQ    $(2*vb), R12                \
	ADDQ    $128, DX                    \
	CMPQ    SI, AX                      \
	JB      loop4                       \
step4:                                  \
	CMPQ    SI, BX                      \
	JAE     tail4                       \
	VMOVUPS (DX), Z0                    \
	LD((SI), Z2)                        \
	LD((SI)(R9*1), Z4)                  \
	LD((SI)(R9*2), Z6)                  \
	LD((R12)(R9*2), Z16)                \
	VFMADD231PS Z0, Z2, Z8              \
	VFMADD231PS Z0, Z4, Z9              \
	VFMADD231PS Z0, Z6, Z10             \
	VFMADD231PS Z0, Z16, Z11            \
	ADDQ    $vb, SI                     \
	ADDQ    $vb, R12                    \
	ADDQ    $64, DX                     \
tail4:                                  \
	MOVQ    CX, AX                      \
	ANDQ    $15, AX                     \
	JZ      sum4                        \
	VMOVUPS.Z (DX), K1, Z1              \
	LDM((SI), Z3)                       \
	LDM((SI)(R9*1), Z5)                 \
	LDM((SI)(R9*2), Z7)                 \
	LDM((R12)(R9*2), Z17)               \
	VFMADD231PS Z1, Z3, Z12             \
	VFMADD231PS Z1, Z5, Z13             \
	VFMADD231PS Z1, Z7, Z14             \
	VFMADD231PS Z1, Z17, Z15            \
	IMULQ   $(ws), AX                   \
	ADDQ    AX, SI                      \
sum4:                                   \
	VADDPS  Z12, Z8, Z8                 \
	VADDPS  Z13, Z9, Z9                 \
	VADDPS  Z14, Z10, Z10               \
	VADDPS  Z15, Z11, Z11               \
	REDUCE4_512                         \
	NEXTGROUP(rows4)                    \
groupsDone:                             \
	LASTROWS                            \
rows1:                                  \
	TESTQ   R8, R8                      \
	JEQ     done                        \
	GROUP1(32, 16, ws)                  \
	VPXORD  Z8, Z8, Z8                  \
	VPXORD  Z12, Z12, Z12               \
	CMPQ    SI, AX                      \
	JAE     step1                       \
loop1:                                  \
	PF1                                 \
	LD((SI), Z2)                        \
	LD(vb(SI), Z3)                      \
	VFMADD231PS (DX), Z2, Z8            \
	VFMADD231PS 64(DX), Z3, Z12         \
	ADDQ    $(2*vb), SI                 \
	ADDQ    $128, DX                    \
	CMPQ    SI, AX                      \
	JB      loop1                       \
step1:                                  \
	CMPQ    SI, BX                      \
	JAE     tail1                       \
	LD((SI), Z2)                        \
	VFMADD231PS (DX), Z2, Z8            \
	ADDQ    $vb, SI                     \
	ADDQ    $64, DX                     \
tail1:                                  \
	MOVQ    CX, AX                      \
	ANDQ    $15, AX                     \
	JZ      sum1                        \
	VMOVUPS.Z (DX), K1, Z1              \
	LDM((SI), Z3)                       \
	VFMADD231PS Z1, Z3, Z12             \
	IMULQ   $(ws), AX                   \
	ADDQ    AX, SI                      \
sum1:                                   \
	VADDPS  Z12, Z8, Z8                 \
	REDUCE1_512                         \
	ADDQ    $4, DI                      \
	DECQ    R8                          \
	JMP     rows1                       \
done:                                   \
	VZEROUPPER                          \
	RET

// AVX2 weight loaders: 8 weights at addr widened to float32 in Y register y.
#define LD256_BF16(addr, y) \
	VPMOVZXWD addr, y; \
	VPSLLD    $16, y, y
#define LD256_F16(addr, y) \
	VCVTPH2PS addr, y
#define LD256_F32(addr, y) \
	VMOVUPS addr, y

// COLS16_256(LD, wo, wo2, xo) multiplies 16 columns of four rows, weights at wo and wo2 (the
// second 8) from each row's start, x at xo(DX), into Y8-Y15.
#define COLS16_256(LD, wo, wo2, xo) \
	VMOVUPS     xo(DX), Y0;        \
	VMOVUPS     xo+32(DX), Y1;     \
	LD(wo(SI), Y2);                \
	LD(wo2(SI), Y3);               \
	LD(wo(SI)(R9*1), Y4);          \
	LD(wo2(SI)(R9*1), Y5);         \
	LD(wo(SI)(R9*2), Y6);          \
	LD(wo2(SI)(R9*2), Y7);         \
	VFMADD231PS Y0, Y2, Y8;        \
	VFMADD231PS Y1, Y3, Y12;       \
	VFMADD231PS Y0, Y4, Y9;        \
	VFMADD231PS Y1, Y5, Y13;       \
	VFMADD231PS Y0, Y6, Y10;       \
	VFMADD231PS Y1, Y7, Y14;       \
	LD(wo(R12)(R9*2), Y2);         \
	LD(wo2(R12)(R9*2), Y3);        \
	VFMADD231PS Y0, Y2, Y11;       \
	VFMADD231PS Y1, Y3, Y15

// The unrolled loop bodies: 32 columns of 16-bit weights, 16 of float32 (64 bytes a row).
#define LOOP256_BF16 \
	COLS16_256(LD256_BF16, 0, 16, 0); \
	COLS16_256(LD256_BF16, 32, 48, 64)
#define LOOP256_F16 \
	COLS16_256(LD256_F16, 0, 16, 0); \
	COLS16_256(LD256_F16, 32, 48, 64)
#define LOOP256_F32 \
	COLS16_256(LD256_F32, 0, 32, 0)

// GEMV256 is the body of an AVX2 kernel over the first k8 = k&^7 columns, with weight
// loader LD, ws the bytes of a weight and vb of 8, LOOP the unrolled body of u columns, PF4
// and PF1 the prefetches for u·ws bytes of four rows and of one.
#define GEMV256(LD, ws, vb, LOOP, u, PF4, PF1) \
	SETUP(x_base, x_len, ws)            \
rows4:                                  \
	TESTQ   R8, R8                      \
	JEQ     groupsDone                  \
	GROUP4(u, 8, ws)                    \
	ZERO256                             \
	CMPQ    SI, AX                      \
	JAE     step4                       \
loop4:                                  \
	PF4                                 \
	LOOP                                \
	ADDQ    $(u*ws), SI                 \
	ADDQ    $(u*ws), R12                \
	ADDQ    $(u*4), DX                  \
	CMPQ    SI, AX                      \
	JB      loop4                       \
step4:                                  \
	CMPQ    SI, BX                      \
	JAE     sum4                        \
	VMOVUPS (DX), Y0                    \
	LD((SI), Y2)                        \
	LD((SI)(R9*1), Y4)                  \
	LD((SI)(R9*2), Y6)                  \
	LD((R12)(R9*2), Y3)                 \
	VFMADD231PS Y0, Y2, Y8              \
	VFMADD231PS Y0, Y4, Y9              \
	VFMADD231PS Y0, Y6, Y10             \
	VFMADD231PS Y0, Y3, Y11             \
	ADDQ    $vb, SI                     \
	ADDQ    $vb, R12                    \
	ADDQ    $32, DX                     \
	JMP     step4                       \
sum4:                                   \
	VADDPS  Y12, Y8, Y8                 \
	VADDPS  Y13, Y9, Y9                 \
	VADDPS  Y14, Y10, Y10               \
	VADDPS  Y15, Y11, Y11               \
	REDUCE4_256                         \
	MOVQ    CX, AX                      \
	ANDQ    $7, AX                      \
	IMULQ   $(ws), AX                   \
	ADDQ    AX, SI                      \
	NEXTGROUP(rows4)                    \
groupsDone:                             \
	LASTROWS                            \
rows1:                                  \
	TESTQ   R8, R8                      \
	JEQ     done                        \
	GROUP1(8, 8, ws)                    \
	VXORPS  Y8, Y8, Y8                  \
	VXORPS  Y12, Y12, Y12               \
loop1:                                  \
	CMPQ    SI, BX                      \
	JAE     sum1                        \
	PF1                                 \
	LD((SI), Y2)                        \
	VFMADD231PS (DX), Y2, Y8            \
	ADDQ    $vb, SI                     \
	ADDQ    $32, DX                     \
	JMP     loop1                       \
sum1:                                   \
	VADDPS  Y12, Y8, Y8                 \
	REDUCE1_256                         \
	ADDQ    $4, DI                      \
	MOVQ    CX, AX                      \
	ANDQ    $7, AX                      \
	IMULQ   $(ws), AX                   \
	ADDQ    AX, SI                      \
	DECQ    R8                          \
	JMP     rows1                       \
done:                                   \
	VZEROUPPER                          \
	RET

// func gemvF16AVX512(dst []float32, w []uint16, x []float32)
TEXT ·gemvF16AVX512(SB), NOSPLIT, $0-72
	GEMV512(LD_F16, LDM_F16, 2, 32, PF4x1, PF1x1)

TEXT ·gemvF16AVX512NoPF(SB), NOSPLIT, $0-72
	GEMV512(LD_F16, LDM_F16, 2, 32, NOPF, NOPF)

// func gemvF32AVX512(dst []float32, w []float32, x []float32)
TEXT ·gemvF32AVX512(SB), NOSPLIT, $0-72
	GEMV512(LD_F32, LDM_F32, 4, 64, PF4x2, PF1x2)

TEXT ·gemvF32AVX512NoPF(SB), NOSPLIT, $0-72
	GEMV512(LD_F32, LDM_F32, 4, 64, NOPF, NOPF)

// func gemvBF16AVX2(dst []float32, w []uint16, x []float32)
TEXT ·gemvBF16AVX2(SB), NOSPLIT, $0-72
	GEMV256(LD256_BF16, 2, 16, LOOP256_BF16, 32, PF4x1, PF1x1)

TEXT ·gemvBF16AVX2NoPF(SB), NOSPLIT, $0-72
	GEMV256(LD256_BF16, 2, 16, LOOP256_BF16, 32, NOPF, NOPF)

// func gemvF16AVX2(dst []float32, w []uint16, x []float32)
TEXT ·gemvF16AVX2(SB), NOSPLIT, $0-72
	GEMV256(LD256_F16, 2, 16, LOOP256_F16, 32, PF4x1, PF1x1)

TEXT ·gemvF16AVX2NoPF(SB), NOSPLIT, $0-72
	GEMV256(LD256_F16, 2, 16, LOOP256_F16, 32, NOPF, NOPF)

// func gemvF32AVX2(dst []float32, w []float32, x []float32)
TEXT ·gemvF32AVX2(SB), NOSPLIT, $0-72
	GEMV256(LD256_F32, 4, 32, LOOP256_F32, 16, PF4x1, PF1x1)

TEXT ·gemvF32AVX2NoPF(SB), NOSPLIT, $0-72
	GEMV256(LD256_F32, 4, 32, LOOP256_F32, 16, NOPF, NOPF)

// GEMVBF16FAST is the body of gemvBF16FastAVX512(dst []float32, w []uint16, xb []uint16):
// as GEMV512 with VDPBF16PS, 32 bf16 pairs of w and xb per vector (64 bytes), 64 columns
// per loop iteration; K1 holds the words of the last k%32 columns.
#define GEMVBF16FAST(PF4, PF1) \
	SETUP(xb_base, xb_len, 2) \
	TAILMASK(32, K1) \
frows4: \
	TESTQ R8, R8 \
	JEQ   fgroupsDone \
	GROUP4(64, 32, 2) \
	ZERO512 \
	CMPQ SI, AX \
	JAE  fstep4 \
floop4: \
	PF4 \
	VMOVDQU16 (DX), Z0 \
	VMOVDQU16 64(DX), Z1 \
	VMOVDQU16 (SI), Z2 \
	VMOVDQU16 64(SI), Z3 \
	VMOVDQU16 (SI)(R9*1), Z4 \
	VMOVDQU16 64(SI)(R9*1), Z5 \
	VMOVDQU16 (SI)(R9*2), Z6 \
	VMOVDQU16 64(SI)(R9*2), Z7 \
	VMOVDQU16 (R12)(R9*2), Z16 \
	VMOVDQU16 64(R12)(R9*2), Z17 \
	VDPBF16PS(0, 2, 8) \
	VDPBF16PS(1, 3, 12) \
	VDPBF16PS(0, 4, 9) \
	VDPBF16PS(1, 5, 13) \
	VDPBF16PS(0, 6, 10) \
	VDPBF16PS(1, 7, 14) \
	VDPBF16PS(0, 16, 11) \
	VDPBF16PS(1, 17, 15) \
	ADDQ      $128, SI \
	ADDQ      $128, R12 \
	ADDQ      $128, DX \
	CMPQ      SI, AX \
	JB        floop4 \
fstep4: \
	CMPQ      SI, BX \
	JAE       ftail4 \
	VMOVDQU16 (DX), Z0 \
	VMOVDQU16 (SI), Z2 \
	VMOVDQU16 (SI)(R9*1), Z4 \
	VMOVDQU16 (SI)(R9*2), Z6 \
	VMOVDQU16 (R12)(R9*2), Z16 \
	VDPBF16PS(0, 2, 8) \
	VDPBF16PS(0, 4, 9) \
	VDPBF16PS(0, 6, 10) \
	VDPBF16PS(0, 16, 11) \
	ADDQ      $64, SI \
	ADDQ      $64, R12 \
	ADDQ      $64, DX \
ftail4: \
	MOVQ        CX, AX \
	ANDQ        $31, AX \
	JZ          fsum4 \
	VMOVDQU16.Z (DX), K1, Z1 \
	VMOVDQU16.Z (SI), K1, Z3 \
	VMOVDQU16.Z (SI)(R9*1), K1, Z5 \
	VMOVDQU16.Z (SI)(R9*2), K1, Z7 \
	VMOVDQU16.Z (R12)(R9*2), K1, Z17 \
	VDPBF16PS(1, 3, 12) \
	VDPBF16PS(1, 5, 13) \
	VDPBF16PS(1, 7, 14) \
	VDPBF16PS(1, 17, 15) \
	LEAQ        (SI)(AX*2), SI \
fsum4: \
	VADDPS Z12, Z8, Z8 \
	VADDPS Z13, Z9, Z9 \
	VADDPS Z14, Z10, Z10 \
	VADDPS Z15, Z11, Z11 \
	REDUCE4_512 \
	NEXTGROUP(frows4) \
fgroupsDone: \
	LASTROWS \
frows1: \
	TESTQ  R8, R8 \
	JEQ    fdone \
	GROUP1(64, 32, 2) \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z12, Z12, Z12 \
	CMPQ   SI, AX \
	JAE    fstep1 \
floop1: \
	PF1 \
	VMOVDQU16 (DX), Z0 \
	VMOVDQU16 64(DX), Z1 \
	VMOVDQU16 (SI), Z2 \
	VMOVDQU16 64(SI), Z3 \
	VDPBF16PS(0, 2, 8) \
	VDPBF16PS(1, 3, 12) \
	ADDQ      $128, SI \
	ADDQ      $128, DX \
	CMPQ      SI, AX \
	JB        floop1 \
fstep1: \
	CMPQ      SI, BX \
	JAE       ftail1 \
	VMOVDQU16 (DX), Z0 \
	VMOVDQU16 (SI), Z2 \
	VDPBF16PS(0, 2, 8) \
	ADDQ      $64, SI \
	ADDQ      $64, DX \
ftail1: \
	MOVQ        CX, AX \
	ANDQ        $31, AX \
	JZ          fsum1 \
	VMOVDQU16.Z (DX), K1, Z1 \
	VMOVDQU16.Z (SI), K1, Z3 \
	VDPBF16PS(1, 3, 12) \
	LEAQ        (SI)(AX*2), SI \
fsum1: \
	VADDPS Z12, Z8, Z8 \
	REDUCE1_512 \
	ADDQ   $4, DI \
	DECQ   R8 \
	JMP    frows1 \
fdone: \
	VZEROUPPER \
	RET

// func gemvBF16FastAVX512(dst []float32, w []uint16, xb []uint16)
TEXT ·gemvBF16FastAVX512(SB), NOSPLIT, $0-72
	GEMVBF16FAST(PF4x2, PF1x2)

// func gemvBF16FastAVX512NoPF(dst []float32, w []uint16, xb []uint16)
TEXT ·gemvBF16FastAVX512NoPF(SB), NOSPLIT, $0-72
	GEMVBF16FAST(NOPF, NOPF)

// Even/odd lane indices for VPERMT2PS: x[0:32] split into its even and odd elements; then
// the mask of the odd bf16 in a 32-bit lane.
DATA evenOdd<>+0(SB)/4, $0
DATA evenOdd<>+4(SB)/4, $2
DATA evenOdd<>+8(SB)/4, $4
DATA evenOdd<>+12(SB)/4, $6
DATA evenOdd<>+16(SB)/4, $8
DATA evenOdd<>+20(SB)/4, $10
DATA evenOdd<>+24(SB)/4, $12
DATA evenOdd<>+28(SB)/4, $14
DATA evenOdd<>+32(SB)/4, $16
DATA evenOdd<>+36(SB)/4, $18
DATA evenOdd<>+40(SB)/4, $20
DATA evenOdd<>+44(SB)/4, $22
DATA evenOdd<>+48(SB)/4, $24
DATA evenOdd<>+52(SB)/4, $26
DATA evenOdd<>+56(SB)/4, $28
DATA evenOdd<>+60(SB)/4, $30
DATA evenOdd<>+64(SB)/4, $1
DATA evenOdd<>+68(SB)/4, $3
DATA evenOdd<>+72(SB)/4, $5
DATA evenOdd<>+76(SB)/4, $7
DATA evenOdd<>+80(SB)/4, $9
DATA evenOdd<>+84(SB)/4, $11
DATA evenOdd<>+88(SB)/4, $13
DATA evenOdd<>+92(SB)/4, $15
DATA evenOdd<>+96(SB)/4, $17
DATA evenOdd<>+100(SB)/4, $19
DATA evenOdd<>+104(SB)/4, $21
DATA evenOdd<>+108(SB)/4, $23
DATA evenOdd<>+112(SB)/4, $25
DATA evenOdd<>+116(SB)/4, $27
DATA evenOdd<>+120(SB)/4, $29
DATA evenOdd<>+124(SB)/4, $31
DATA evenOdd<>+128(SB)/4, $0xffff0000
GLOBL evenOdd<>(SB), RODATA|NOPTR, $132

// XEO(off) loads x[32 floats at off(DX)] split into its even elements (Z0) and odd (Z1).
#define XEO(off) \
	VMOVUPS   off(DX), Z0;      \
	VMOVAPS   Z0, Z1;           \
	VPERMT2PS off+64(DX), Z30, Z0; \
	VPERMT2PS off+64(DX), Z31, Z1

// XEOM loads the x of the last k%32 columns (lanes K3, K4) as XEO does, zero elsewhere.
#define XEOM \
	VMOVUPS.Z (DX), K3, Z0;   \
	VMOVUPS.Z 64(DX), K4, Z18; \
	VMOVAPS   Z0, Z1;         \
	VPERMT2PS Z18, Z30, Z0;   \
	VPERMT2PS Z18, Z31, Z1

// WEO(addr, e, o) loads 32 bf16 weights at addr as float32: the even ones in Ze, the odd
// ones in Zo. A 32-bit lane holds a pair, the even element in its low half.
#define WEO(addr, e, o) \
	VMOVDQU32 addr, o;    \
	VPSLLD    $16, o, e;  \
	VPANDD    Z29, o, o

// WEOM is WEO for the words of the last k%32 columns (K2), zero elsewhere.
#define WEOM(addr, e, o) \
	VMOVDQU16.Z addr, K2, o; \
	VPSLLD      $16, o, e;   \
	VPANDD      Z29, o, o

// FEO(e, o, acce, acco) accumulates one row's products with the x of XEO.
#define FEO(e, o, acce, acco) \
	VFMADD231PS Z0, e, acce; \
	VFMADD231PS Z1, o, acco

// ROWS4(off) multiplies 32 columns of the four rows at off(SI), off(SI)(R9*1), ... by the
// x at 2·off(DX).
#define ROWS4(off) \
	XEO(2*off);                      \
	WEO(off(SI), Z2, Z3);            \
	WEO(off(SI)(R9*1), Z4, Z5);      \
	WEO(off(SI)(R9*2), Z6, Z7);      \
	WEO(off(R12)(R9*2), Z16, Z17);   \
	FEO(Z2, Z3, Z8, Z12);            \
	FEO(Z4, Z5, Z9, Z13);            \
	FEO(Z6, Z7, Z10, Z14);           \
	FEO(Z16, Z17, Z11, Z15)

// GEMVBF16EXACT is the body of gemvBF16AVX512(dst []float32, w []uint16, x []float32): the
// bf16 pairs of w are widened in place (a shift for the even element, a mask for the
// odd one) against x split into even and odd elements, once per 32 columns for four rows:
// four vector operations per 32 weights where widening with VPMOVZXWD takes six, which
// measured 82 GB/s against 65 from L2 on the development machine. 64 columns per loop
// iteration; K2 holds the words of the last k%32 columns, K3 and K4 its halves for x.
#define GEMVBF16EXACT(PF4, PF1) \
	SETUP(x_base, x_len, 2) \
	TAILMASK(32, K2) \
	KMOVW        AX, K3 \
	SHRQ         $16, AX \
	KMOVW        AX, K4 \
	VMOVDQU32    evenOdd<>+0(SB), Z30 \
	VMOVDQU32    evenOdd<>+64(SB), Z31 \
	VPBROADCASTD evenOdd<>+128(SB), Z29 \
erows4: \
	TESTQ  R8, R8 \
	JEQ    egroupsDone \
	GROUP4(64, 32, 2) \
	ZERO512 \
	CMPQ   SI, AX \
	JAE    estep4 \
eloop4: \
	PF4 \
	ROWS4(0) \
	ROWS4(64) \
	ADDQ $128, SI \
	ADDQ $128, R12 \
	ADDQ $256, DX \
	CMPQ SI, AX \
	JB   eloop4 \
estep4: \
	CMPQ SI, BX \
	JAE  etail4 \
	ROWS4(0) \
	ADDQ $64, SI \
	ADDQ $64, R12 \
	ADDQ $128, DX \
etail4: \
	MOVQ CX, AX \
	ANDQ $31, AX \
	JZ   esum4 \
	XEOM \
	WEOM((SI), Z2, Z3) \
	WEOM((SI)(R9*1), Z4, Z5) \
	WEOM((SI)(R9*2), Z6, Z7) \
	WEOM((R12)(R9*2), Z16, Z17) \
	FEO(Z2, Z3, Z8, Z12) \
	FEO(Z4, Z5, Z9, Z13) \
	FEO(Z6, Z7, Z10, Z14) \
	FEO(Z16, Z17, Z11, Z15) \
	LEAQ (SI)(AX*2), SI \
esum4: \
	VADDPS Z12, Z8, Z8 \
	VADDPS Z13, Z9, Z9 \
	VADDPS Z14, Z10, Z10 \
	VADDPS Z15, Z11, Z11 \
	REDUCE4_512 \
	NEXTGROUP(erows4) \
egroupsDone: \
	LASTROWS \
erows1: \
	TESTQ  R8, R8 \
	JEQ    edone \
	GROUP1(32, 32, 2) \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z12, Z12, Z12 \
	CMPQ   SI, BX \
	JAE    etail1 \
eloop1: \
	PF1 \
	XEO(0) \
	WEO((SI), Z2, Z3) \
	FEO(Z2, Z3, Z8, Z12) \
	ADDQ       $64, SI \
	ADDQ       $128, DX \
	CMPQ       SI, BX \
	JB         eloop1 \
etail1: \
	MOVQ CX, AX \
	ANDQ $31, AX \
	JZ   esum1 \
	XEOM \
	WEOM((SI), Z2, Z3) \
	FEO(Z2, Z3, Z8, Z12) \
	LEAQ (SI)(AX*2), SI \
esum1: \
	VADDPS Z12, Z8, Z8 \
	REDUCE1_512 \
	ADDQ   $4, DI \
	DECQ   R8 \
	JMP    erows1 \
edone: \
	VZEROUPPER \
	RET

// func gemvBF16AVX512(dst []float32, w []uint16, x []float32)
TEXT ·gemvBF16AVX512(SB), NOSPLIT, $0-72
	GEMVBF16EXACT(PF4x2, PF1x1)

// func gemvBF16AVX512NoPF(dst []float32, w []uint16, x []float32)
TEXT ·gemvBF16AVX512NoPF(SB), NOSPLIT, $0-72
	GEMVBF16EXACT(NOPF, NOPF)
