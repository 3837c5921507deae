//go:build !purego

#include "textflag.h"

// func streamSumAVX2(b []byte) uint64
TEXT ·streamSumAVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3

loop128:
	CMPQ CX, $128
	JB   tail8
	VPADDQ (SI), Y0, Y0
	VPADDQ 32(SI), Y1, Y1
	VPADDQ 64(SI), Y2, Y2
	VPADDQ 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $128, CX
	JMP  loop128

tail8:
	VPADDQ Y1, Y0, Y0
	VPADDQ Y3, Y2, Y2
	VPADDQ Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX

tailloop:
	CMPQ CX, $8
	JB   done
	ADDQ (SI), AX
	ADDQ $8, SI
	SUBQ $8, CX
	JMP  tailloop

done:
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET
