package tensor

// Q4_K (ggml's block_q4_K): 256 weights in 8 sub-blocks of 32, 144 bytes:
//
//	f16 d, dmin; uint8 scales[12]; uint8 qs[128]
//	x = d·sc[j]·q − dmin·m[j]     q in 0..15
//
// scales holds each sub-block's 6-bit sc and m (see scaleMinK4). qs holds 64 weights per 32
// bytes: the low nibbles are weights 0–31 of the group, the high nibbles 32–63.

func dequantizeQ4_K(dst []float32, b []byte) {
	d, dmin := f16At(b[0:]), f16At(b[2:])
	scales, qs := b[4:16], b[16:144]
	for g := range 4 { // groups of 64: sub-blocks 2g and 2g+1
		sc, m := scaleMinK4(2*g, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = scaleMinK4(2*g+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		q, y := qs[32*g:32*g+32], dst[64*g:64*g+64]
		for l := range 32 {
			y[l] = float32(d1*float32(q[l]&0xF)) - m1
			y[l+32] = float32(d2*float32(q[l]>>4)) - m2
		}
	}
}

func quantizeQ4_K(b []byte, x []float32) {
	var L [256]uint8
	quantizeKMinMax(b, x, 15, -1, 0.1, 20, &L)
	qs := b[16:144]
	for g := range 4 {
		for l := range 32 {
			qs[32*g+l] = L[64*g+l] | L[64*g+l+32]<<4
		}
	}
}
