// The register-blocked GEMM micro-kernels' shared parts, for the kernels over row-major W
// (gemm_amd64.s) and over W stored by columns (gemm_cols_amd64.s); see gemm_amd64.go.
//
// A kernel keeps a transposed R×C tile in registers and walks k once: every step loads the
// packed column(s) of X for the R panel rows as vectors and broadcasts one element (f32) or
// one pair of elements (bf16) of each of the C rows of W. W rows are addressed as row base +
// SI: row-major, row j's base is w + j·ldw elements and SI steps 4 bytes (one f32 or one bf16
// pair); by columns, row j's base is w + 4j bytes and SI steps ldp·4 bytes. When nw < C the
// missing rows alias row 0: their columns are computed and dropped, so no row ≥ nw of W is
// ever read.
//
// Include it after bf16_amd64.h, whose VDPBF16PS bf16Step512 uses.

// ---------------------------------------------------------------------------------------
// AVX-512: R = 48 rows (3 zmm) × C = 8 rows of W; accumulators Z0…Z23, column j in
// Z(3j), Z(3j+1), Z(3j+2); X in Z24…Z26; broadcasts of W in Z27, Z28 (alternately).
// W rows j = 0…7 in AX, BX, CX, DX, R8, R9, R10, R11; SI the byte offset in them; DI the panel.

// gemm512Rows sets the row bases BX…R11 of rows 1…7 from AX (row 0) and R12 (the bytes from
// one row's base to the next's) for SI = nw rows, rows ≥ nw aliasing row 0.
#define gemm512Rows \
	MOVQ AX, BX; \
	MOVQ AX, CX; \
	MOVQ AX, DX; \
	MOVQ AX, R8; \
	MOVQ AX, R9; \
	MOVQ AX, R10; \
	MOVQ AX, R11; \
	CMPQ SI, $2; \
	JLT  rowsDone; \
	LEAQ (AX)(R12*1), BX; \
	CMPQ SI, $3; \
	JLT  rowsDone; \
	LEAQ (BX)(R12*1), CX; \
	CMPQ SI, $4; \
	JLT  rowsDone; \
	LEAQ (CX)(R12*1), DX; \
	CMPQ SI, $5; \
	JLT  rowsDone; \
	LEAQ (DX)(R12*1), R8; \
	CMPQ SI, $6; \
	JLT  rowsDone; \
	LEAQ (R8)(R12*1), R9; \
	CMPQ SI, $7; \
	JLT  rowsDone; \
	LEAQ (R9)(R12*1), R10; \
	CMPQ SI, $8; \
	JLT  rowsDone; \
	LEAQ (R10)(R12*1), R11; \
rowsDone:

// gemm512Acc sets the accumulators to zero or, with acc, to the tile's columns j < nw
// (SI = nw); it clobbers R12.
#define gemm512Acc \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23; \
	CMPB acc+48(FP), $0; \
	JEQ  accDone; \
	MOVQ tile+0(FP), R12; \
	VMOVUPS (R12), Z0; \
	VMOVUPS 64(R12), Z1; \
	VMOVUPS 128(R12), Z2; \
	CMPQ SI, $2; \
	JLT  accDone; \
	VMOVUPS 192(R12), Z3; \
	VMOVUPS 256(R12), Z4; \
	VMOVUPS 320(R12), Z5; \
	CMPQ SI, $3; \
	JLT  accDone; \
	VMOVUPS 384(R12), Z6; \
	VMOVUPS 448(R12), Z7; \
	VMOVUPS 512(R12), Z8; \
	CMPQ SI, $4; \
	JLT  accDone; \
	VMOVUPS 576(R12), Z9; \
	VMOVUPS 640(R12), Z10; \
	VMOVUPS 704(R12), Z11; \
	CMPQ SI, $5; \
	JLT  accDone; \
	VMOVUPS 768(R12), Z12; \
	VMOVUPS 832(R12), Z13; \
	VMOVUPS 896(R12), Z14; \
	CMPQ SI, $6; \
	JLT  accDone; \
	VMOVUPS 960(R12), Z15; \
	VMOVUPS 1024(R12), Z16; \
	VMOVUPS 1088(R12), Z17; \
	CMPQ SI, $7; \
	JLT  accDone; \
	VMOVUPS 1152(R12), Z18; \
	VMOVUPS 1216(R12), Z19; \
	VMOVUPS 1280(R12), Z20; \
	CMPQ SI, $8; \
	JLT  accDone; \
	VMOVUPS 1344(R12), Z21; \
	VMOVUPS 1408(R12), Z22; \
	VMOVUPS 1472(R12), Z23; \
accDone:

// gemm512Store writes columns j < nw of the tile and returns.
#define gemm512Store \
	MOVQ tile+0(FP), DI; \
	MOVQ nw+40(FP), SI; \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, 128(DI); \
	CMPQ SI, $2; \
	JLT  storeDone; \
	VMOVUPS Z3, 192(DI); \
	VMOVUPS Z4, 256(DI); \
	VMOVUPS Z5, 320(DI); \
	CMPQ SI, $3; \
	JLT  storeDone; \
	VMOVUPS Z6, 384(DI); \
	VMOVUPS Z7, 448(DI); \
	VMOVUPS Z8, 512(DI); \
	CMPQ SI, $4; \
	JLT  storeDone; \
	VMOVUPS Z9, 576(DI); \
	VMOVUPS Z10, 640(DI); \
	VMOVUPS Z11, 704(DI); \
	CMPQ SI, $5; \
	JLT  storeDone; \
	VMOVUPS Z12, 768(DI); \
	VMOVUPS Z13, 832(DI); \
	VMOVUPS Z14, 896(DI); \
	CMPQ SI, $6; \
	JLT  storeDone; \
	VMOVUPS Z15, 960(DI); \
	VMOVUPS Z16, 1024(DI); \
	VMOVUPS Z17, 1088(DI); \
	CMPQ SI, $7; \
	JLT  storeDone; \
	VMOVUPS Z18, 1152(DI); \
	VMOVUPS Z19, 1216(DI); \
	VMOVUPS Z20, 1280(DI); \
	CMPQ SI, $8; \
	JLT  storeDone; \
	VMOVUPS Z21, 1344(DI); \
	VMOVUPS Z22, 1408(DI); \
	VMOVUPS Z23, 1472(DI); \
storeDone: \
	VZEROUPPER; \
	RET

// One step of GemmF32: X column p (48 floats at xoff(DI)) times W[j][p] (at woff(row j)(SI)).
#define f32Step512(xoff, woff) \
	VMOVUPS xoff(DI), Z24; \
	VMOVUPS xoff+64(DI), Z25; \
	VMOVUPS xoff+128(DI), Z26; \
	VBROADCASTSS woff(AX)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z0; \
	VFMADD231PS Z25, Z27, Z1; \
	VFMADD231PS Z26, Z27, Z2; \
	VBROADCASTSS woff(BX)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z3; \
	VFMADD231PS Z25, Z28, Z4; \
	VFMADD231PS Z26, Z28, Z5; \
	VBROADCASTSS woff(CX)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z6; \
	VFMADD231PS Z25, Z27, Z7; \
	VFMADD231PS Z26, Z27, Z8; \
	VBROADCASTSS woff(DX)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z9; \
	VFMADD231PS Z25, Z28, Z10; \
	VFMADD231PS Z26, Z28, Z11; \
	VBROADCASTSS woff(R8)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z12; \
	VFMADD231PS Z25, Z27, Z13; \
	VFMADD231PS Z26, Z27, Z14; \
	VBROADCASTSS woff(R9)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z15; \
	VFMADD231PS Z25, Z28, Z16; \
	VFMADD231PS Z26, Z28, Z17; \
	VBROADCASTSS woff(R10)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z18; \
	VFMADD231PS Z25, Z27, Z19; \
	VFMADD231PS Z26, Z27, Z20; \
	VBROADCASTSS woff(R11)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z21; \
	VFMADD231PS Z25, Z28, Z22; \
	VFMADD231PS Z26, Z28, Z23

// One step of GemmBF16: X column pair p, p+1 (48 pairs at xoff(DI)) times the pair
// W[j][p], W[j][p+1] (at woff(row j)(SI)), broadcast as one 32-bit element.
#define bf16Step512(xoff, woff) \
	VMOVUPS xoff(DI), Z24; \
	VMOVUPS xoff+64(DI), Z25; \
	VMOVUPS xoff+128(DI), Z26; \
	VPBROADCASTD woff(AX)(SI*1), Z27; \
	VDPBF16PS(27, 24, 0); \
	VDPBF16PS(27, 25, 1); \
	VDPBF16PS(27, 26, 2); \
	VPBROADCASTD woff(BX)(SI*1), Z28; \
	VDPBF16PS(28, 24, 3); \
	VDPBF16PS(28, 25, 4); \
	VDPBF16PS(28, 26, 5); \
	VPBROADCASTD woff(CX)(SI*1), Z27; \
	VDPBF16PS(27, 24, 6); \
	VDPBF16PS(27, 25, 7); \
	VDPBF16PS(27, 26, 8); \
	VPBROADCASTD woff(DX)(SI*1), Z28; \
	VDPBF16PS(28, 24, 9); \
	VDPBF16PS(28, 25, 10); \
	VDPBF16PS(28, 26, 11); \
	VPBROADCASTD woff(R8)(SI*1), Z27; \
	VDPBF16PS(27, 24, 12); \
	VDPBF16PS(27, 25, 13); \
	VDPBF16PS(27, 26, 14); \
	VPBROADCASTD woff(R9)(SI*1), Z28; \
	VDPBF16PS(28, 24, 15); \
	VDPBF16PS(28, 25, 16); \
	VDPBF16PS(28, 26, 17); \
	VPBROADCASTD woff(R10)(SI*1), Z27; \
	VDPBF16PS(27, 24, 18); \
	VDPBF16PS(27, 25, 19); \
	VDPBF16PS(27, 26, 20); \
	VPBROADCASTD woff(R11)(SI*1), Z28; \
	VDPBF16PS(28, 24, 21); \
	VDPBF16PS(28, 25, 22); \
	VDPBF16PS(28, 26, 23)

// The 32-row variants run a prompt's last panel when it has at most 32 rows: two thirds
// of the arithmetic, and the same bits in rows 0…31 as the 48-row kernels.

// gemm512Acc32 is gemm512Acc for the first 32 rows of the tile: accumulators Z0…Z15,
// column j in Z(2j), Z(2j+1). It clobbers R12.
#define gemm512Acc32 \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	CMPB acc+48(FP), $0; \
	JEQ  accDone; \
	MOVQ tile+0(FP), R12; \
	VMOVUPS 0(R12), Z0; \
	VMOVUPS 64(R12), Z1; \
	CMPQ SI, $2; \
	JLT  accDone; \
	VMOVUPS 192(R12), Z2; \
	VMOVUPS 256(R12), Z3; \
	CMPQ SI, $3; \
	JLT  accDone; \
	VMOVUPS 384(R12), Z4; \
	VMOVUPS 448(R12), Z5; \
	CMPQ SI, $4; \
	JLT  accDone; \
	VMOVUPS 576(R12), Z6; \
	VMOVUPS 640(R12), Z7; \
	CMPQ SI, $5; \
	JLT  accDone; \
	VMOVUPS 768(R12), Z8; \
	VMOVUPS 832(R12), Z9; \
	CMPQ SI, $6; \
	JLT  accDone; \
	VMOVUPS 960(R12), Z10; \
	VMOVUPS 1024(R12), Z11; \
	CMPQ SI, $7; \
	JLT  accDone; \
	VMOVUPS 1152(R12), Z12; \
	VMOVUPS 1216(R12), Z13; \
	CMPQ SI, $8; \
	JLT  accDone; \
	VMOVUPS 1344(R12), Z14; \
	VMOVUPS 1408(R12), Z15; \
accDone:

// gemm512Store32 writes the first 32 rows of columns j < nw of the tile and returns.
#define gemm512Store32 \
	MOVQ tile+0(FP), DI; \
	MOVQ nw+40(FP), SI; \
	VMOVUPS Z0, 0(DI); \
	VMOVUPS Z1, 64(DI); \
	CMPQ SI, $2; \
	JLT  storeDone; \
	VMOVUPS Z2, 192(DI); \
	VMOVUPS Z3, 256(DI); \
	CMPQ SI, $3; \
	JLT  storeDone; \
	VMOVUPS Z4, 384(DI); \
	VMOVUPS Z5, 448(DI); \
	CMPQ SI, $4; \
	JLT  storeDone; \
	VMOVUPS Z6, 576(DI); \
	VMOVUPS Z7, 640(DI); \
	CMPQ SI, $5; \
	JLT  storeDone; \
	VMOVUPS Z8, 768(DI); \
	VMOVUPS Z9, 832(DI); \
	CMPQ SI, $6; \
	JLT  storeDone; \
	VMOVUPS Z10, 960(DI); \
	VMOVUPS Z11, 1024(DI); \
	CMPQ SI, $7; \
	JLT  storeDone; \
	VMOVUPS Z12, 1152(DI); \
	VMOVUPS Z13, 1216(DI); \
	CMPQ SI, $8; \
	JLT  storeDone; \
	VMOVUPS Z14, 1344(DI); \
	VMOVUPS Z15, 1408(DI); \
storeDone: \
	VZEROUPPER; \
	RET

// f32Step512x32 is f32Step512 for the first 32 rows of the panel (its step still 48 wide).
#define f32Step512x32(xoff, woff) \
	VMOVUPS xoff(DI), Z24; \
	VMOVUPS xoff+64(DI), Z25; \
	VBROADCASTSS woff(AX)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z0; \
	VFMADD231PS Z25, Z27, Z1; \
	VBROADCASTSS woff(BX)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z2; \
	VFMADD231PS Z25, Z28, Z3; \
	VBROADCASTSS woff(CX)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z4; \
	VFMADD231PS Z25, Z27, Z5; \
	VBROADCASTSS woff(DX)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z6; \
	VFMADD231PS Z25, Z28, Z7; \
	VBROADCASTSS woff(R8)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z8; \
	VFMADD231PS Z25, Z27, Z9; \
	VBROADCASTSS woff(R9)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z10; \
	VFMADD231PS Z25, Z28, Z11; \
	VBROADCASTSS woff(R10)(SI*1), Z27; \
	VFMADD231PS Z24, Z27, Z12; \
	VFMADD231PS Z25, Z27, Z13; \
	VBROADCASTSS woff(R11)(SI*1), Z28; \
	VFMADD231PS Z24, Z28, Z14; \
	VFMADD231PS Z25, Z28, Z15

// bf16Step512x32 is bf16Step512 for the first 32 rows of the panel (its step still 48
// pairs wide).
#define bf16Step512x32(xoff, woff) \
	VMOVUPS xoff(DI), Z24; \
	VMOVUPS xoff+64(DI), Z25; \
	VPBROADCASTD woff(AX)(SI*1), Z27; \
	VDPBF16PS(27, 24, 0); \
	VDPBF16PS(27, 25, 1); \
	VPBROADCASTD woff(BX)(SI*1), Z28; \
	VDPBF16PS(28, 24, 2); \
	VDPBF16PS(28, 25, 3); \
	VPBROADCASTD woff(CX)(SI*1), Z27; \
	VDPBF16PS(27, 24, 4); \
	VDPBF16PS(27, 25, 5); \
	VPBROADCASTD woff(DX)(SI*1), Z28; \
	VDPBF16PS(28, 24, 6); \
	VDPBF16PS(28, 25, 7); \
	VPBROADCASTD woff(R8)(SI*1), Z27; \
	VDPBF16PS(27, 24, 8); \
	VDPBF16PS(27, 25, 9); \
	VPBROADCASTD woff(R9)(SI*1), Z28; \
	VDPBF16PS(28, 24, 10); \
	VDPBF16PS(28, 25, 11); \
	VPBROADCASTD woff(R10)(SI*1), Z27; \
	VDPBF16PS(27, 24, 12); \
	VDPBF16PS(27, 25, 13); \
	VPBROADCASTD woff(R11)(SI*1), Z28; \
	VDPBF16PS(28, 24, 14); \
	VDPBF16PS(28, 25, 15)

// ---------------------------------------------------------------------------------------
// AVX2: R = 24 rows (3 ymm) × C = 4 rows of W; accumulators Y0…Y11, column j in
// Y(3j), Y(3j+1), Y(3j+2); X in Y12…Y14; broadcast in Y15. W rows in AX, BX, CX, DX; SI the
// byte offset in them; DI the panel.

// gemm256Rows sets the row bases BX, CX, DX of rows 1…3 from AX (row 0) and R8 (the bytes
// from one row's base to the next's) for SI = nw rows, rows ≥ nw aliasing row 0.
#define gemm256Rows \
	MOVQ AX, BX; \
	MOVQ AX, CX; \
	MOVQ AX, DX; \
	CMPQ SI, $2; \
	JLT  rowsDone; \
	LEAQ (AX)(R8*1), BX; \
	CMPQ SI, $3; \
	JLT  rowsDone; \
	LEAQ (BX)(R8*1), CX; \
	CMPQ SI, $4; \
	JLT  rowsDone; \
	LEAQ (CX)(R8*1), DX; \
rowsDone:

// gemm256Acc sets the accumulators to zero or, with acc, to the tile's columns j < nw
// (SI = nw); it clobbers R8.
#define gemm256Acc \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	VXORPS Y8, Y8, Y8; \
	VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11; \
	CMPB   acc+48(FP), $0; \
	JEQ    accDone; \
	MOVQ   tile+0(FP), R8; \
	VMOVUPS (R8), Y0; \
	VMOVUPS 32(R8), Y1; \
	VMOVUPS 64(R8), Y2; \
	CMPQ   SI, $2; \
	JLT    accDone; \
	VMOVUPS 96(R8), Y3; \
	VMOVUPS 128(R8), Y4; \
	VMOVUPS 160(R8), Y5; \
	CMPQ   SI, $3; \
	JLT    accDone; \
	VMOVUPS 192(R8), Y6; \
	VMOVUPS 224(R8), Y7; \
	VMOVUPS 256(R8), Y8; \
	CMPQ   SI, $4; \
	JLT    accDone; \
	VMOVUPS 288(R8), Y9; \
	VMOVUPS 320(R8), Y10; \
	VMOVUPS 352(R8), Y11; \
accDone:

// gemm256Store writes columns j < nw of the tile and returns.
#define gemm256Store \
	MOVQ    tile+0(FP), DI; \
	MOVQ    nw+40(FP), SI; \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, 32(DI); \
	VMOVUPS Y2, 64(DI); \
	CMPQ    SI, $2; \
	JLT     storeDone; \
	VMOVUPS Y3, 96(DI); \
	VMOVUPS Y4, 128(DI); \
	VMOVUPS Y5, 160(DI); \
	CMPQ    SI, $3; \
	JLT     storeDone; \
	VMOVUPS Y6, 192(DI); \
	VMOVUPS Y7, 224(DI); \
	VMOVUPS Y8, 256(DI); \
	CMPQ    SI, $4; \
	JLT     storeDone; \
	VMOVUPS Y9, 288(DI); \
	VMOVUPS Y10, 320(DI); \
	VMOVUPS Y11, 352(DI); \
storeDone: \
	VZEROUPPER; \
	RET

// One step of GemmF32: X column p (24 floats at xoff(DI)) times W[j][p] (at woff(row j)(SI)).
#define f32Step256(xoff, woff) \
	VMOVUPS xoff(DI), Y12; \
	VMOVUPS xoff+32(DI), Y13; \
	VMOVUPS xoff+64(DI), Y14; \
	VBROADCASTSS woff(AX)(SI*1), Y15; \
	VFMADD231PS Y12, Y15, Y0; \
	VFMADD231PS Y13, Y15, Y1; \
	VFMADD231PS Y14, Y15, Y2; \
	VBROADCASTSS woff(BX)(SI*1), Y15; \
	VFMADD231PS Y12, Y15, Y3; \
	VFMADD231PS Y13, Y15, Y4; \
	VFMADD231PS Y14, Y15, Y5; \
	VBROADCASTSS woff(CX)(SI*1), Y15; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VFMADD231PS Y14, Y15, Y8; \
	VBROADCASTSS woff(DX)(SI*1), Y15; \
	VFMADD231PS Y12, Y15, Y9; \
	VFMADD231PS Y13, Y15, Y10; \
	VFMADD231PS Y14, Y15, Y11
