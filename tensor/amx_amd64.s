//go:build linux && !purego

#include "textflag.h"
#include "bf16_amd64.h"

// AMX GemmBF16 kernels; see amx_amd64.go for the loop each function computes and for the
// tile configurations they load.
//
// With the transposed tile convention tile[j·48 + i] (j a W row, i a panel row), C = W·Xᵀ
// maps onto TDPBF16PS with W as the A operand, loaded straight from the weights (16 W rows ×
// 32 k, 64 bytes a row, stride ldw·2), the packed panel as the B operand (16 k-pair rows ×
// 16 panel rows: within a PackBF16 pair-row of 48×2 bf16 = 192 bytes, panel block c starts
// at byte 64c, stride 192), and accumulators of 16 W rows × 16 panel rows stored at
// &tile[16·jb·48 + 16c] with stride 48·4 = 192 bytes: the tile layout itself. One step
// covers 32 columns of k: 64 bytes of each W row and 16 pair-rows (3072 bytes) of the panel.

// func amxBF16x32(cfg *[64]byte, tile *float32, xp, w *uint16, ldw, steps int, acc bool)
//
// Two blocks of 16 W rows by the panel's three blocks of 16 rows: six accumulators TMM0…TMM5
// (TMM(3jb+c) for W block jb, panel block c), W in TMM6, the panel in TMM7. A step loads
// W block 0, panel blocks 0, 1, 2, W block 1, then panel blocks 1 and 0 again (7 loads for 6
// products), walking the panel blocks in a snake so that one is reused without reloading.
// Of 1 W block × 3 (loads 4 per 3 products, with or without W double-buffered), 2 × 2 plus
// 2 × 1 in a second pass, this with software prefetch of W or with TILELOADDT1 for W, this
// ran fastest both with W in cache and streaming W.
//
// AX: tile, R9: tile row 16; SI, R8: W blocks 0 and 1; DX: the W stride in bytes;
// DI: the panel; CX: 192, the stride of both panel and tile; BX: steps left.
TEXT ·amxBF16x32(SB), NOSPLIT, $0-49
	MOVQ cfg+0(FP), AX
	LDTILECFG(rAX)
	MOVQ tile+8(FP), AX
	LEAQ 3072(AX), R9
	MOVQ xp+16(FP), DI
	MOVQ w+24(FP), SI
	MOVQ ldw+32(FP), DX
	SHLQ $1, DX
	MOVQ DX, R8
	SHLQ $4, R8
	ADDQ SI, R8
	MOVQ steps+40(FP), BX
	MOVQ $192, CX
	CMPB acc+48(FP), $0
	JEQ  zero
	TILELOADD(0, rAX, rCX, 0)
	TILELOADD(1, rAX, rCX, 64)
	TILELOADD(2, rAX, rCX, 128)
	TILELOADD(3, rR9, rCX, 0)
	TILELOADD(4, rR9, rCX, 64)
	TILELOADD(5, rR9, rCX, 128)
	JMP  loop

zero:
	TILEZERO(0)
	TILEZERO(1)
	TILEZERO(2)
	TILEZERO(3)
	TILEZERO(4)
	TILEZERO(5)

loop:
	TILELOADD(6, rSI, rDX, 0)
	TILELOADD(7, rDI, rCX, 0)
	TDPBF16PS(7, 6, 0)
	TILELOADD(7, rDI, rCX, 64)
	TDPBF16PS(7, 6, 1)
	TILELOADD(7, rDI, rCX, 128)
	TDPBF16PS(7, 6, 2)
	TILELOADD(6, rR8, rDX, 0)
	TDPBF16PS(7, 6, 5)
	TILELOADD(7, rDI, rCX, 64)
	TDPBF16PS(7, 6, 4)
	TILELOADD(7, rDI, rCX, 0)
	TDPBF16PS(7, 6, 3)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $3072, DI
	DECQ BX
	JNZ  loop

	TILESTORED(0, rAX, rCX, 0)
	TILESTORED(1, rAX, rCX, 64)
	TILESTORED(2, rAX, rCX, 128)
	TILESTORED(3, rR9, rCX, 0)
	TILESTORED(4, rR9, rCX, 64)
	TILESTORED(5, rR9, rCX, 128)
	TILERELEASE
	RET

// func amxBF16x16(cfg *[64]byte, tile *float32, xp, w *uint16, ldw, steps int, acc bool)
//
// One block of m ≤ 16 W rows (the rows cfg gives TMM0…TMM3) by the panel's three blocks:
// accumulators TMM0…TMM2, W in TMM3, the panel blocks in TMM4…TMM6. Registers as in
// amxBF16x32.
TEXT ·amxBF16x16(SB), NOSPLIT, $0-49
	MOVQ cfg+0(FP), AX
	LDTILECFG(rAX)
	MOVQ tile+8(FP), AX
	MOVQ xp+16(FP), DI
	MOVQ w+24(FP), SI
	MOVQ ldw+32(FP), DX
	SHLQ $1, DX
	MOVQ steps+40(FP), BX
	MOVQ $192, CX
	CMPB acc+48(FP), $0
	JEQ  zero
	TILELOADD(0, rAX, rCX, 0)
	TILELOADD(1, rAX, rCX, 64)
	TILELOADD(2, rAX, rCX, 128)
	JMP  loop

zero:
	TILEZERO(0)
	TILEZERO(1)
	TILEZERO(2)

loop:
	TILELOADD(3, rSI, rDX, 0)
	TILELOADD(4, rDI, rCX, 0)
	TILELOADD(5, rDI, rCX, 64)
	TILELOADD(6, rDI, rCX, 128)
	TDPBF16PS(4, 3, 0)
	TDPBF16PS(5, 3, 1)
	TDPBF16PS(6, 3, 2)
	ADDQ $64, SI
	ADDQ $3072, DI
	DECQ BX
	JNZ  loop

	TILESTORED(0, rAX, rCX, 0)
	TILESTORED(1, rAX, rCX, 64)
	TILESTORED(2, rAX, rCX, 128)
	TILERELEASE
	RET
