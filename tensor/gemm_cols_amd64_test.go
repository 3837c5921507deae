//go:build linux && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The column kernels read exactly what their contract names: inputs end where an unmapped
// page begins (endGuarded, gemm_test.go), so one element too many faults. By columns the last
// step is the tight one: it reads nw elements (pairs), so reading the aliased rows ≥ nw
// as themselves would fault there.
func TestGemmColsBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		R, C := kn.GemmRows, kn.GemmCols
		for _, k := range []int{1, 2, 3, 4, 5, 8, 9, 16, 17, 34} {
			xp := endGuarded[float32](t, k*R)
			xb := endGuarded[uint16](t, k*R)
			for i := range xp {
				xp[i] = float32(rng.NormFloat64())
				xb[i] = Float32ToBF16(float32(rng.NormFloat64()))
			}
			for nw := 1; nw <= C; nw++ {
				for _, ldp := range []int{nw, nw + 1, PackedRows} {
					name := fmt.Sprintf("k=%d nw=%d ldp=%d", k, nw, ldp)
					w := endGuarded[float32](t, (k-1)*ldp+nw)
					for i := range w {
						w[i] = float32(rng.NormFloat64())
					}
					tile, check := guarded(nw * R)
					kn.GemmF32Cols(tile, xp, w, ldp, k, nw, false)
					check(t, "GemmF32Cols "+name)
					want := make([]float32, nw*R)
					gemmF32ColsGeneric(R)(want, xp, w, ldp, k, nw, false)
					near(t, "GemmF32Cols "+name, tile, want, ones(nw*R, float32(4*k)), 1e-6)

					if kn.GemmBF16Cols == nil || k%2 != 0 {
						continue
					}
					wb := endGuarded[uint16](t, 2*((k/2-1)*ldp+nw))
					for i := range wb {
						wb[i] = Float32ToBF16(float32(rng.NormFloat64()))
					}
					kn.GemmBF16Cols(tile, xb, wb, ldp, k, nw, false)
					check(t, "GemmBF16Cols "+name)
					gemmBF16ColsGeneric(R)(want, xb, wb, ldp, k, nw, false)
					near(t, "GemmBF16Cols "+name, tile, want, ones(nw*R, float32(4*k)), 1e-5)
				}
			}
		}
		for _, steps := range []int{1, 2, 5} {
			src := endGuarded[uint16](t, steps*2*PackedRows)
			dst := endGuarded[float32](t, steps*2*PackedRows)
			for i := range src {
				src[i] = uint16(rng.Uint32())
			}
			kn.UnpackF32(dst, src, steps)
			want := make([]float32, len(dst))
			unpackF32Panels(kn.UnpackWidth)(want, src, steps)
			sameBits(t, fmt.Sprintf("UnpackF32 steps=%d", steps), dst, want)
		}
	})
}

func ones(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// At the AMX level GemmCols is 32 and the column kernels run blocks of 8: the same chains
// as the 8-row kernel's, block by block. The wider form is built here at AVX-512.
func TestGemmColsWide(t *testing.T) {
	if !hasLevel(AVX512) {
		t.Skip("no AVX-512 on this CPU")
	}
	kn := Implementations()[AVX512]
	rng := rand.New(rand.NewPCG(12, 12))
	R, C, B := gemmRows512, gemmColsAMX, gemmCols512
	wideF32 := gemmF32ColsAVX512(C, gemmF32Cols48x8)
	var wideBF16 func(tile []float32, xp []uint16, w []uint16, ldp, k, nw int, acc bool)
	if hasLevel(AVX512BF16) {
		wideBF16 = gemmBF16ColsAVX512BF16(C, gemmBF16Cols48x8)
	}
	for _, k := range []int{2, 34} {
		xp, xb := randSlice(rng, k*R, 1), bf16Slice(rng, k*R)
		for _, nw := range []int{1, 9, 17, 31, 32} {
			name := fmt.Sprintf("k=%d nw=%d", k, nw)
			ldp := PackedRows
			w, wb := randSlice(rng, (k-1)*ldp+nw, 1), bf16Slice(rng, 2*((k/2-1)*ldp+nw))
			tile, check := guarded(nw * R)
			wideF32(tile, xp, w, ldp, k, nw, false)
			check(t, "wide GemmF32Cols "+name)
			want := make([]float32, nw*R)
			for j := 0; j < nw; j += B {
				kn.GemmF32Cols(want[j*R:], xp, w[j:], ldp, k, min(B, nw-j), false)
			}
			sameBits(t, "wide GemmF32Cols "+name, tile, want)
			if wideBF16 == nil {
				continue
			}
			bf := Implementations()[AVX512BF16]
			wideBF16(tile, xb, wb, ldp, k, nw, false)
			check(t, "wide GemmBF16Cols "+name)
			for j := 0; j < nw; j += B {
				bf.GemmBF16Cols(want[j*R:], xb, wb[2*j:], ldp, k, min(B, nw-j), false)
			}
			sameBits(t, "wide GemmBF16Cols "+name, tile, want)
		}
	}
}

// GemmF32Cols32 and GemmBF16Cols32 give rows 0…31 of the tile the bits of GemmF32Cols and
// GemmBF16Cols, with and without acc, and leave rows 32…47 as they were.
func TestGemmCols32(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		if kn.GemmF32Cols32 == nil {
			t.Skipf("%s has no 32-row column kernels", kn.Level)
		}
		R, C := kn.GemmRows, kn.GemmCols
		for _, k := range []int{2, 6, 34} {
			xp, xb := randSlice(rng, k*R, 1), bf16Slice(rng, k*R)
			for _, nw := range []int{1, 5, C} {
				ldp := PackedRows
				w, wb := randSlice(rng, (k-1)*ldp+nw, 1), bf16Slice(rng, 2*((k/2-1)*ldp+nw))
				for _, acc := range []bool{false, true} {
					name := fmt.Sprintf("k=%d nw=%d acc=%v", k, nw, acc)
					start := randSlice(rng, nw*R, 1)
					check32 := func(what string, got, want []float32) {
						t.Helper()
						for j := range nw {
							for i := range R {
								g, w := got[j*R+i], want[j*R+i]
								if i >= 32 {
									w = start[j*R+i]
								}
								if math.Float32bits(g) != math.Float32bits(w) {
									t.Fatalf("%s %s: tile[%d][%d] = %v, want %v", what, name, j, i, g, w)
								}
							}
						}
					}
					got, want := append([]float32(nil), start...), append([]float32(nil), start...)
					kn.GemmF32Cols32(got, xp, w, ldp, k, nw, acc)
					kn.GemmF32Cols(want, xp, w, ldp, k, nw, acc)
					check32("GemmF32Cols32", got, want)
					if kn.GemmBF16Cols32 == nil {
						continue
					}
					got, want = append(got[:0], start...), append(want[:0], start...)
					kn.GemmBF16Cols32(got, xb, wb, ldp, k, nw, acc)
					kn.GemmBF16Cols(want, xb, wb, ldp, k, nw, acc)
					check32("GemmBF16Cols32", got, want)
				}
			}
		}
	})
}

// Calls outside the contract panic instead of reading or writing past the slices.
func TestGemmColsContract(t *testing.T) {
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		if kn.Level == Generic {
			t.Skip("the plain-Go kernels rely on Go's bounds checks")
		}
		R, C, k, ldp := kn.GemmRows, kn.GemmCols, 32, PackedRows
		xp, w := make([]float32, k*R), make([]float32, (k-1)*ldp+C)
		xb, wb := make([]uint16, k*R), make([]uint16, 2*((k/2-1)*ldp+C))
		tile := make([]float32, C*R)
		src, dst := make([]uint16, 3*2*PackedRows), make([]float32, 3*2*PackedRows)
		calls := map[string]func(){
			"nw<0":          func() { kn.GemmF32Cols(tile, xp, w, ldp, k, -1, false) },
			"nw>C":          func() { kn.GemmF32Cols(tile, xp, w, ldp, k, C+1, false) },
			"short w":       func() { kn.GemmF32Cols(tile, xp, w[:len(w)-1], ldp, k, C, false) },
			"short xp":      func() { kn.GemmF32Cols(tile, xp[:k*R-1], w, ldp, k, C, false) },
			"short tile":    func() { kn.GemmF32Cols(tile[:C*R-1], xp, w, ldp, k, C, false) },
			"negative ldp":  func() { kn.GemmF32Cols(tile, xp, w, -1, k, 2, false) },
			"unpack short":  func() { kn.UnpackF32(dst, src[:len(src)-1], 3) },
			"unpack into":   func() { kn.UnpackF32(dst[:len(dst)-1], src, 3) },
			"unpack steps<": func() { kn.UnpackF32(dst, src, -1) },
		}
		if kn.GemmBF16Cols != nil {
			calls["bf16 odd k"] = func() { kn.GemmBF16Cols(tile, xb, wb, ldp, k-1, C, false) }
			calls["bf16 short w"] = func() { kn.GemmBF16Cols(tile, xb, wb[:len(wb)-1], ldp, k, C, false) }
			calls["bf16 short xp"] = func() { kn.GemmBF16Cols(tile, xb[:k*R-1], wb, ldp, k, C, false) }
		}
		for name, call := range calls {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic", name)
					}
				}()
				call()
			}()
		}
	})
}
