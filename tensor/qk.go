package tensor

// The K-quants' scale searches, ggml's make_qkx2_quants and make_qx_quants. They are written
// in ggml's order of float32 operations, with each product rounded on its own (the explicit
// float32 conversions forbid Go to fuse a multiply and add), so that they choose the scales
// ggml's reference quantizers choose.

// groupMaxEps is ggml's GROUP_MAX_EPS: below it a group counts as all zero.
const groupMaxEps = 1e-15

// makeQKX2 quantizes x to levels 0..nmax with a scale and a minimum (x ≈ scale·L − theMin),
// searching nstep+1 scales around nmax/(max−min) for the least weighted squared error, and
// refitting scale and minimum by least squares for each. It returns the scale and the minimum
// negated (theMin ≥ 0), and leaves the levels in L.
func makeQKX2(nmax int, x, weights []float32, L, aux []uint8, rmin, rdelta float32, nstep int) (scale, theMin float32) {
	n := len(x)
	lo, hi := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < lo {
			lo = x[i]
		}
		if x[i] > hi {
			hi = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		for i := range L[:n] {
			L[i] = 0
		}
		return 0, -lo
	}
	fmax := float32(nmax)
	iscale := fmax / (hi - lo)
	scale = 1 / iscale
	var bestMad float32
	for i := range n {
		l := nearestInt(float32(iscale * float32(x[i]-lo)))
		L[i] = uint8(max(0, min(nmax, l)))
		diff := float32(float32(scale*float32(L[i]))+lo) - x[i]
		bestMad += float32(weights[i] * float32(diff*diff))
	}
	if nstep < 1 {
		return scale, -lo
	}
	for is := 0; is <= nstep; is++ {
		iscale = (float32(rmin+float32(rdelta*float32(is))) + fmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i := range n {
			l := nearestInt(float32(iscale * float32(x[i]-lo)))
			l = max(0, min(nmax, l))
			aux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			wl := float32(w * fl)
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * x[i])
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var mad float32
			for i := range n {
				diff := float32(float32(thisScale*float32(aux[i]))+thisMin) - x[i]
				mad += float32(weights[i] * float32(diff*diff))
			}
			if mad < bestMad {
				copy(L[:n], aux[:n])
				bestMad = mad
				scale = thisScale
				lo = thisMin
			}
		}
	}
	return scale, -lo
}

// makeQX quantizes x to levels −nmax..nmax−1 with one scale (x ≈ scale·L), weighting each
// element by x² (ggml's rmse_type 1) and trying 18 scales around −nmax/max, max being the
// element of largest magnitude. L receives the levels offset by nmax (0..2·nmax−1).
func makeQX(nmax int, x []float32, L []int8) float32 {
	n := len(x)
	var mx, amax float32
	for _, v := range x {
		if ax := abs32(v); ax > amax {
			amax, mx = ax, v
		}
	}
	if amax < groupMaxEps {
		for i := range L[:n] {
			L[i] = 0
		}
		return 0
	}
	fmax := float32(nmax)
	clamp := func(l int) int { return max(-nmax, min(nmax-1, l)) }
	sums := func(iscale float32) (sumLX, sumL2 float32) {
		for _, v := range x {
			l := float32(clamp(nearestInt(float32(iscale * v))))
			w := float32(v * v)
			sumLX += float32(float32(w*v) * l)
			sumL2 += float32(float32(w*l) * l)
		}
		return sumLX, sumL2
	}
	levels := func(iscale float32) {
		for i, v := range x {
			L[i] = int8(nmax + clamp(nearestInt(float32(iscale*v))))
		}
	}
	iscale := -fmax / mx
	levels(iscale)
	sumLX, sumL2 := sums(iscale)
	var scale float32
	if sumL2 != 0 {
		scale = sumLX / sumL2
	}
	best := float32(scale * sumLX)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fmax + float32(float32(0.1)*float32(is))) / mx
		sumLX, sumL2 = sums(iscale)
		if sumL2 > 0 && float32(sumLX*sumLX) > float32(best*sumL2) {
			levels(iscale)
			scale = sumLX / sumL2
			best = float32(scale * sumLX)
		}
	}
	return scale
}

// scaleMinK4 unpacks the 6-bit scale and minimum of sub-block j from the 12 bytes Q4_K and
// Q5_K keep them in (ggml's get_scale_min_k4): sub-blocks 0–3 in the low 6 bits of bytes
// 0–3 and 4–7, sub-blocks 4–7 in the nibbles of bytes 8–11 with their top 2 bits in the top
// bits of bytes 0–7.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// putScaleMinK4 packs scale ls and minimum lm (each < 64) of sub-block j, the inverse of
// scaleMinK4; the bytes must start zeroed.
func putScaleMinK4(j int, q []byte, ls, lm uint8) {
	if j < 4 {
		q[j] = ls
		q[j+4] = lm
		return
	}
	q[j+4] = ls&0xF | (lm&0xF)<<4
	q[j-4] |= (ls >> 4) << 6
	q[j] |= (lm >> 4) << 6
}

// quantizeKMinMax is the common part of Q4_K and Q5_K (ggml's quantize_row_q4_K_ref and
// _q5_K_ref): per 32-element sub-block a scale and minimum found by makeQKX2 with weights
// rms(x)+|x|, both quantized to 6 bits against the super-block's largest (kept as f16 d and
// dmin), then every element quantized again with the scales as stored. It writes d, dmin and
// the scales into b and returns the levels.
func quantizeKMinMax(b []byte, x []float32, nmax int, rmin, rdelta float32, nstep int, L *[256]uint8) {
	var scales, mins [8]float32
	var weights [32]float32
	var aux [32]uint8
	var maxScale, maxMin float32
	for j := range 8 {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := sqrt32(sumX2 / 32)
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2(nmax, xs, weights[:], L[32*j:32*j+32], aux[:], rmin, rdelta, nstep)
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	q := b[4:16]
	clear(q)
	for j := range 8 {
		ls := min(63, uint8(nearestInt(float32(invScale*scales[j]))))
		lm := min(63, uint8(nearestInt(float32(invMin*mins[j]))))
		putScaleMinK4(j, q, ls, lm)
	}
	putF16(b[0:], maxScale/63)
	putF16(b[2:], maxMin/63)
	d, dmin := f16At(b[0:]), f16At(b[2:])
	for j := range 8 {
		sc, m := scaleMinK4(j, q)
		ds := float32(d * float32(sc))
		if ds == 0 {
			continue // the levels of makeQKX2 stay
		}
		dm := float32(dmin * float32(m))
		for i, v := range x[32*j : 32*j+32] {
			L[32*j+i] = uint8(max(0, min(nmax, nearestInt((v+dm)/ds))))
		}
	}
}
