package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The GEMM kernels over W stored by columns are the row-major kernels with W addressed
// otherwise, so the same values give the same chains: GemmF32Cols must equal GemmF32 bit for
// bit at every level (and GemmBF16Cols GemmBF16), k in one call or two. The plain-Go specs
// (packed.go) are the independent reference, within the rounding of a different order.

// byColumns lays the nw×k row-major w (row stride ldw) out by columns: element (j, p) at
// c[p·ldp + j], c ending with the last element a kernel may read.
func byColumns(w []float32, ldw, nw, k, ldp int) []float32 {
	c := make([]float32, (k-1)*ldp+nw)
	for i := range c {
		c[i] = float32(math.NaN()) // between the columns: never read
	}
	for j := range nw {
		for p := range k {
			c[p*ldp+j] = w[j*ldw+p]
		}
	}
	return c
}

// byColumnPairs lays the nw×k row-major bf16 w out as a packed group holds it: pair (j, s),
// columns 2s and 2s+1 of row j, at c[(s·ldp + j)·2].
func byColumnPairs(w []uint16, ldw, nw, k, ldp int) []uint16 {
	c := make([]uint16, 2*((k/2-1)*ldp+nw))
	for i := range c {
		c[i] = 0x7fc1 // a NaN: never read
	}
	for j := range nw {
		for s := range k / 2 {
			c[(s*ldp+j)*2] = w[j*ldw+2*s]
			c[(s*ldp+j)*2+1] = w[j*ldw+2*s+1]
		}
	}
	return c
}

// sameBits fails unless got and want hold the same float32 bit patterns.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %v (%#08x), want %v (%#08x): not bit-identical",
				what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func TestGemmCols(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		if (kn.GemmBF16Cols == nil) != (kn.GemmBF16 == nil) {
			t.Fatalf("GemmBF16Cols and GemmBF16 not both present or both absent")
		}
		R, C := kn.GemmRows, kn.GemmCols
		refF32, refBF16 := gemmF32ColsGeneric(R), gemmBF16ColsGeneric(R)
		for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 33, 130, 1000} {
			xp := randSlice(rng, k*R, 1)
			xb := bf16Slice(rng, k*R)
			for nw := 1; nw <= C; nw++ {
				for _, ldp := range []int{nw, nw + 5, PackedRows} {
					ldw := k + 3
					w := randSlice(rng, nw*ldw, 1)
					wb := bf16Slice(rng, nw*ldw)
					wc := byColumns(w, ldw, nw, k, ldp)
					mag := make([]float32, nw*R)
					for j := range nw {
						for p := range k {
							for i := range R {
								mag[j*R+i] += float32(math.Abs(float64(xp[p*R+i]*w[j*ldw+p]))) +
									float32(math.Abs(float64(BF16ToFloat32(xb[p*R+i])*BF16ToFloat32(wb[j*ldw+p]))))
							}
						}
					}
					for i := range mag {
						mag[i] += float32(i % 7) // the tile acc starts from
					}
					for _, acc := range []bool{false, true} {
						name := fmt.Sprintf("k=%d nw=%d ldp=%d acc=%v", k, nw, ldp, acc)
						start := func(tile []float32) {
							for i := range tile {
								tile[i] = float32(i % 7) // what acc adds to
							}
						}
						tile, check := guarded(nw * R)
						want := make([]float32, nw*R)
						start(tile)
						start(want)
						kn.GemmF32Cols(tile, xp, wc, ldp, k, nw, acc)
						check(t, "GemmF32Cols "+name)
						kn.GemmF32(want, xp, w, ldw, k, nw, acc)
						sameBits(t, "GemmF32Cols vs GemmF32 "+name, tile, want)
						start(want)
						refF32(want, xp, wc, ldp, k, nw, acc)
						near(t, "GemmF32Cols vs gemmF32ColsGeneric "+name, tile, want, mag, 1e-6)

						// k in two calls, the second adding to the tile: the same chains.
						if k1 := k / 2; k1 > 0 {
							start(tile)
							kn.GemmF32Cols(tile, xp, wc, ldp, k1, nw, acc)
							kn.GemmF32Cols(tile, xp[k1*R:], wc[k1*ldp:], ldp, k-k1, nw, true)
							check(t, "GemmF32Cols split "+name)
							start(want)
							kn.GemmF32(want, xp, w, ldw, k, nw, acc)
							sameBits(t, "GemmF32Cols split vs GemmF32 "+name, tile, want)
						}

						if kn.GemmBF16Cols == nil || k%2 != 0 {
							continue
						}
						wcb := byColumnPairs(wb, ldw, nw, k, ldp)
						start(tile)
						kn.GemmBF16Cols(tile, xb, wcb, ldp, k, nw, acc)
						check(t, "GemmBF16Cols "+name)
						start(want)
						kn.GemmBF16(want, xb, wb, ldw, k, nw, acc)
						sameBits(t, "GemmBF16Cols vs GemmBF16 "+name, tile, want)
						start(want)
						refBF16(want, xb, wcb, ldp, k, nw, acc)
						near(t, "GemmBF16Cols vs gemmBF16ColsGeneric "+name, tile, want, mag, 1e-5)
						if k1 := k / 2 &^ 1; k1 > 0 {
							start(tile)
							kn.GemmBF16Cols(tile, xb, wcb, ldp, k1, nw, acc)
							kn.GemmBF16Cols(tile, xb[k1*R:], wcb[k1*ldp:], ldp, k-k1, nw, true)
							check(t, "GemmBF16Cols split "+name)
							start(want)
							kn.GemmBF16(want, xb, wb, ldw, k, nw, acc)
							sameBits(t, "GemmBF16Cols split vs GemmBF16 "+name, tile, want)
						}
					}
				}
			}
		}
	})
}

// The plain-Go spec of GemmBF16Cols against float64 sums over the same bf16 values, so that
// the reference above can fail.
func TestGemmBF16ColsGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const R, k, nw, ldp = 8, 34, 3, 5
	xb, wb := bf16Slice(rng, k*R), bf16Slice(rng, nw*k)
	wcb := byColumnPairs(wb, k, nw, k, ldp)
	tile := make([]float32, nw*R)
	gemmBF16ColsGeneric(R)(tile, xb, wcb, ldp, k, nw, false)
	for j := range nw {
		for i := range R {
			var ref, mag float64
			for p := range k {
				v := float64(BF16ToFloat32(xb[p/2*2*R+2*i+p%2])) * float64(BF16ToFloat32(wb[j*k+p]))
				ref += v
				mag += math.Abs(v)
			}
			if d := math.Abs(float64(tile[j*R+i]) - ref); !(d <= 1e-6*mag) {
				t.Fatalf("row %d, W row %d: %g, want %g (|diff| %g)", i, j, tile[j*R+i], ref, d)
			}
		}
	}
}

// UnpackF32 must widen every bf16 bit pattern exactly (NaNs, infinities, subnormals).
func TestUnpackF32Bits(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		for _, steps := range []int{0, 1, 2, 3, 4, 5, 16, 17} {
			src := make([]uint16, steps*2*PackedRows)
			for i := range src {
				src[i] = uint16(rng.Uint32())
			}
			if steps > 0 {
				copy(src, []uint16{0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x0001, 0x8001, 0x007f, 0x8000, 0xffff})
			}
			got, check := guarded(len(src))
			kn.UnpackF32(got, src, steps)
			check(t, fmt.Sprintf("UnpackF32 steps=%d", steps))
			want := make([]float32, len(src))
			unpackF32Panels(kn.UnpackWidth)(want, src, steps)
			sameBits(t, fmt.Sprintf("UnpackF32 steps=%d", steps), got, want)
		}
	})
}
