package tensor

// Q5_K (ggml's block_q5_K): as Q4_K with a fifth bit per weight, 176 bytes:
//
//	f16 d, dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]
//	x = d·sc[j]·q − dmin·m[j]     q in 0..31
//
// qs holds the low 4 bits as Q4_K does; bit 2g of qh[l] is the fifth bit of weight l of group
// g (64 weights), bit 2g+1 that of weight l+32.

func dequantizeQ5_K(dst []float32, b []byte) {
	d, dmin := f16At(b[0:]), f16At(b[2:])
	scales, qh, qs := b[4:16], b[16:48], b[48:176]
	for g := range 4 {
		sc, m := scaleMinK4(2*g, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = scaleMinK4(2*g+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		q, y := qs[32*g:32*g+32], dst[64*g:64*g+64]
		for l := range 32 {
			lo := q[l]&0xF | (qh[l]>>(2*g)&1)<<4
			hi := q[l]>>4 | (qh[l]>>(2*g+1)&1)<<4
			y[l] = float32(d1*float32(lo)) - m1
			y[l+32] = float32(d2*float32(hi)) - m2
		}
	}
}

func quantizeQ5_K(b []byte, x []float32) {
	var L [256]uint8
	quantizeKMinMax(b, x, 31, -0.5, 0.1, 15, &L)
	qh, qs := b[16:48], b[48:176]
	clear(qh)
	for g := range 4 {
		for l := range 32 {
			lo, hi := L[64*g+l], L[64*g+l+32]
			qh[l] |= (lo>>4)<<(2*g) | (hi>>4)<<(2*g+1)
			qs[32*g+l] = lo&0xF | (hi&0xF)<<4
		}
	}
}
