package tensor

// Q6_K (ggml's block_q6_K): 256 weights in 16 sub-blocks of 16, 210 bytes:
//
//	uint8 ql[128]; uint8 qh[64]; int8 scales[16]; f16 d
//	x = d·scales[j]·(q − 32)     q in 0..63
//
// Per half of 128 weights (ql 64 bytes, qh 32): ql[l] holds the low 4 bits of weights l and
// l+64, ql[l+32] those of l+32 and l+96; qh[l] their top 2 bits, in bits 0–1, 2–3, 4–5, 6–7
// for l, l+32, l+64, l+96.

func dequantizeQ6_K(dst []float32, b []byte) {
	d := f16At(b[208:])
	for h := range 2 {
		ql, qh := b[64*h:64*h+64], b[128+32*h:128+32*h+32]
		sc := b[192+8*h : 192+8*h+8]
		y := dst[128*h : 128*h+128]
		for l := range 32 {
			is := l / 16
			q1 := int(ql[l]&0xF|(qh[l]>>0&3)<<4) - 32
			q2 := int(ql[l+32]&0xF|(qh[l]>>2&3)<<4) - 32
			q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			// (d·scale)·q, in ggml's order: the product of three can round.
			y[l] = float32(d*float32(int8(sc[is]))) * float32(q1)
			y[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
			y[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
			y[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
		}
	}
}

func quantizeQ6_K(b []byte, x []float32) {
	var L [256]int8
	var scales [16]float32
	var maxScale, maxAbsScale float32
	for ib := range 16 {
		s := makeQX(32, x[16*ib:16*ib+16], L[16*ib:16*ib+16])
		scales[ib] = s
		if a := abs32(s); a > maxAbsScale {
			maxAbsScale, maxScale = a, s
		}
	}
	clear(b[:210])
	if maxAbsScale < groupMaxEps {
		return // an all-zero block: d = 0
	}
	iscale := -128 / maxScale
	putF16(b[208:], 1/iscale)
	d := f16At(b[208:])
	sc := b[192:208]
	for ib := range 16 {
		sc[ib] = byte(int8(min(127, nearestInt(float32(iscale*scales[ib])))))
	}
	for j := range 16 {
		ds := float32(d * float32(int8(sc[j])))
		if ds == 0 {
			continue
		}
		for i, v := range x[16*j : 16*j+16] {
			L[16*j+i] = int8(max(-32, min(31, nearestInt(v/ds))) + 32)
		}
	}
	for h := range 2 {
		ql, qh := b[64*h:64*h+64], b[128+32*h:128+32*h+32]
		Lh := L[128*h : 128*h+128]
		for l := range 32 {
			q1, q2, q3, q4 := uint8(Lh[l]), uint8(Lh[l+32]), uint8(Lh[l+64]), uint8(Lh[l+96])
			ql[l] = q1&0xF | (q3&0xF)<<4
			ql[l+32] = q2&0xF | (q4&0xF)<<4
			qh[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
		}
	}
}
