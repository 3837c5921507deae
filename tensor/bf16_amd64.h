// Instructions the Go assembler does not know, as BYTE sequences behind named macros: the
// AVX512-BF16 ones (VDPBF16PS, VCVTNEPS2BF16) and the AMX ones. Each .s file that uses one
// includes this header; TestEncodings (asm_test.go) reads every macro back with objdump
// through the table in encodings_amd64.s, which must use each macro defined here.
//
// Operands are register numbers: 0-31 for Z registers, 0-7 for tiles, and the r* constants
// below for general registers. Their order is Go's: sources first, destination last.
//
// The Go assembler does know VPDPBUSD (AVX512_VNNI, EVEX form): write it directly, not here.

// Numbers of the general registers, as the ModRM and SIB fields name them.
#define rAX 0
#define rCX 1
#define rDX 2
#define rBX 3
#define rSP 4
#define rBP 5
#define rSI 6
#define rDI 7
#define rR8 8
#define rR9 9
#define rR10 10
#define rR11 11
#define rR12 12
#define rR13 13
#define rR14 14
#define rR15 15

// ---------------------------------------------------------------------------------------
// AVX512-BF16, EVEX-encoded: 62, then
//
//	P0 = R X B R' 0 m m m: R, R' bits 3 and 4 of ModRM.reg, X, B bits 4 and 3 of ModRM.rm,
//	     all four inverted; mmm = 010 (map 0F38)
//	P1 = W vvvv 1 pp:      W = 0, vvvv = the second source inverted, pp = 10 (F3)
//	P2 = z L'L b V' aaa:   z = 0, L'L = 10 (512 bits), b = 0, V' = bit 4 of vvvv inverted,
//	                       aaa = 000 (no mask)
//
// then the opcode and ModRM (mod 11, reg, rm). The inverted bits are XORed into the
// all-ones pattern: register 0 everywhere gives 62 F2 7E 48.

// VDPBF16PS(b, a, d) is VDPBF16PS Zb, Za, Zd (Intel: vdpbf16ps zmm_d, zmm_a, zmm_b;
// EVEX.512.F3.0F38.W0 52 /r):
//
//	Zd.f32[i] += Za.bf16[2i]·Zb.bf16[2i] + Za.bf16[2i+1]·Zb.bf16[2i+1]
//
// (subnormal inputs and outputs flushed to zero). VDPBF16PS(1, 2, 3) is 62 F2 6E 48 52 D9.
// (The {1to16} memory-broadcast form, one instruction per product instead of a VPBROADCASTD
// per W pair, measured 5-7% slower in the GEMM on a Xeon with AVX512_BF16.)
#define VDPBF16PS(b, a, d) \
	BYTE $0x62; \
	BYTE $(0xF2 ^ ((((d)>>3)&1)<<7) ^ ((((b)>>4)&1)<<6) ^ ((((b)>>3)&1)<<5) ^ ((((d)>>4)&1)<<4)); \
	BYTE $(0x7E ^ (((a)&15)<<3)); \
	BYTE $(0x48 ^ ((((a)>>4)&1)<<3)); \
	BYTE $0x52; \
	BYTE $(0xC0 | (((d)&7)<<3) | ((b)&7))

// VCVTNEPS2BF16(s, d) is VCVTNEPS2BF16 Zs, Yd (Intel: vcvtneps2bf16 ymm_d, zmm_s;
// EVEX.512.F3.0F38.W0 72 /r, vvvv unused): the 16 floats of Zs rounded to bf16, ties to
// even. It flushes subnormal inputs to zero, which Float32ToBF16 does not, so the kernels
// round with integer operations instead; TestVCVTNEPS2BF16 shows the difference.
#define VCVTNEPS2BF16(s, d) \
	BYTE $0x62; \
	BYTE $(0xF2 ^ ((((d)>>3)&1)<<7) ^ ((((s)>>4)&1)<<6) ^ ((((s)>>3)&1)<<5) ^ ((((d)>>4)&1)<<4)); \
	BYTE $0x7E; \
	BYTE $0x48; \
	BYTE $0x72; \
	BYTE $(0xC0 | (((d)&7)<<3) | ((s)&7))

// ---------------------------------------------------------------------------------------
// AMX, VEX-encoded in map 0F38 with W0, L0: C4, then ~R ~X ~B and m-mmmm = 00010 (E2 less
// the inverted extension bits of the SIB index and base), then W vvvv L pp (vvvv = 1111
// unless it names a tile), opcode, ModRM [, SIB, disp32].

// LDTILECFG(base) is LDTILECFG (base) — VEX.128.NP.0F38.W0 49 /0: load the tile
// configuration, 64 bytes at base (ModRM mod 00, so base is not SP, BP, R12 or R13).
// LDTILECFG(rAX) is C4 E2 78 49 00.
#define LDTILECFG(base) \
	BYTE $0xC4; BYTE $(0xE2 ^ ((((base)>>3)&1)<<5)); BYTE $0x78; BYTE $0x49; BYTE $((base)&7)

// TILERELEASE — VEX.128.NP.0F38.W0 49 C0: return the tiles to their initial state.
#define TILERELEASE \
	BYTE $0xC4; BYTE $0xE2; BYTE $0x78; BYTE $0x49; BYTE $0xC0

// TILEZERO(t) is TILEZERO tmm(t) — VEX.128.F2.0F38.W0 49 11:ttt:000.
#define TILEZERO(t) \
	BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $(0xC0 | ((t)<<3))

// TILELOADD(t, base, index, disp) is TILELOADD disp(base)(index*1), tmm(t) —
// VEX.128.F2.0F38.W0 4B, ModRM 10:ttt:100, SIB 00:index:base, disp32: load the configured
// rows of tmm(t), row r from base+disp+r·index. index is not SP.
// TILELOADD(1, rAX, rCX, 64) is C4 E2 7B 4B 8C 08 40 00 00 00.
#define TILELOADD(t, base, index, disp) \
	BYTE $0xC4; BYTE $(0xE2 ^ ((((index)>>3)&1)<<6) ^ ((((base)>>3)&1)<<5)); BYTE $0x7B; BYTE $0x4B; \
	BYTE $(0x84 | ((t)<<3)); BYTE $((((index)&7)<<3) | ((base)&7)); LONG $(disp)

// TILESTORED(t, base, index, disp) is TILESTORED tmm(t), disp(base)(index*1) —
// VEX.128.F3.0F38.W0 4B, addressed as TILELOADD.
#define TILESTORED(t, base, index, disp) \
	BYTE $0xC4; BYTE $(0xE2 ^ ((((index)>>3)&1)<<6) ^ ((((base)>>3)&1)<<5)); BYTE $0x7A; BYTE $0x4B; \
	BYTE $(0x84 | ((t)<<3)); BYTE $((((index)&7)<<3) | ((base)&7)); LONG $(disp)

// TDPBF16PS(b, a, c) is TDPBF16PS tmm(b), tmm(a), tmm(c) — VEX.128.F3.0F38.W0 5C
// 11:ccc:aaa, vvvv = ~b:
//
//	c.f32[m][n] += Σ_q a.bf16[m][2q]·b.bf16[q][2n] + a.bf16[m][2q+1]·b.bf16[q][2n+1]
//
// TDPBF16PS(7, 6, 0) is C4 E2 42 5C C6.
#define TDPBF16PS(b, a, c) \
	BYTE $0xC4; BYTE $0xE2; BYTE $(0x02 | ((15-(b))<<3)); BYTE $0x5C; BYTE $(0xC0 | ((c)<<3) | (a))
