package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestPackBF16RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, mk := range [][2]int{{1, 2}, {5, 8}, {128, 64}, {130, 6}, {300, 34}} {
		m, k := mk[0], mk[1]
		w := bf16Slice(rng, m*k)
		p := make([]uint16, PackedLen(m, k))
		for i := range p {
			p[i] = 0xffff // PackBF16 must write every element, padding included
		}
		PackBF16(p, w, m, k)
		row := make([]uint16, k)
		for r := range m {
			UnpackedRow(row, p, r, k)
			for c := range k {
				if row[c] != w[r*k+c] {
					t.Fatalf("%d×%d: element (%d, %d) = %#x, want %#x", m, k, r, c, row[c], w[r*k+c])
				}
			}
		}
		for r := m; r < PackedLen(m, k)/k; r++ {
			UnpackedRow(row, p, r, k)
			for c, v := range row {
				if v != 0 {
					t.Fatalf("%d×%d: padding row %d col %d = %#x, want 0", m, k, r, c, v)
				}
			}
		}
	}
}

// TestGemvPacked checks every implementation's packed products against float64 sums, and
// that the exact one is the GEMM's chain bit for bit: a row of x through GemvBF16Packed gives
// exactly the tile GemmF32Cols computes over the unpacked group, k split into blocks or not.
func TestGemvPacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, impl := range Implementations() {
		for _, m := range []int{1, 100, 128, 200, 384, 520, 1024} { // 520, 1024: the four-stream kernels' quads
			for _, k := range []int{2, 16, 34, 64, 1000, 3072, 4100} {
				name := fmt.Sprintf("%s/m=%d/k=%d", impl.Level, m, k)
				w := bf16Slice(rng, m*k)
				p := make([]uint16, PackedLen(m, k))
				PackBF16(p, w, m, k)
				rows := len(p) / k
				x := randSlice(rng, k, 1)
				dst := make([]float32, rows+1)
				dst[rows] = guard
				ldg := PackedRows * k
				impl.GemvBF16Packed(dst[:rows], p, x, ldg, false)
				if dst[rows] != guard {
					t.Fatalf("%s: wrote past dst", name)
				}
				// In two blocks of columns, the chains carried over: the same bits.
				if split := k / 2 &^ 1; split > 0 {
					two := make([]float32, rows)
					impl.GemvBF16Packed(two, p, x[:split], ldg, false)
					impl.GemvBF16Packed(two, p[split*PackedRows:], x[split:], ldg, true)
					for r := range rows {
						if math.Float32bits(two[r]) != math.Float32bits(dst[r]) {
							t.Fatalf("%s: in two blocks of columns row %d = %g, in one %g", name, r, two[r], dst[r])
						}
					}
				}
				for r := range m {
					var ref, mag float64
					for c := range k {
						v := float64(BF16ToFloat32(w[r*k+c])) * float64(x[c])
						ref += v
						mag += math.Abs(v)
					}
					if d := math.Abs(float64(dst[r]) - ref); !(d <= 2e-7*float64(k)*mag/float64(k)*math.Sqrt(float64(k))+1e-30) {
						t.Fatalf("%s: row %d = %g, want %g (|diff| %.3g)", name, r, dst[r], ref, d)
					}
				}
				for r := m; r < rows; r++ {
					if dst[r] != 0 {
						t.Fatalf("%s: padding row %d = %g, want 0", name, r, dst[r])
					}
				}
				if impl.GemvBF16Packed2 != nil {
					x1 := randSlice(rng, k, 1)
					one := make([]float32, rows)
					impl.GemvBF16Packed(one, p, x1, ldg, false)
					d0, d1 := make([]float32, rows), make([]float32, rows)
					impl.GemvBF16Packed2(d0, d1, p, x, x1, ldg, false)
					if split := k / 2 &^ 1; split > 0 { // and in two blocks of columns
						impl.GemvBF16Packed2(d0, d1, p, x[:split], x1[:split], ldg, false)
						impl.GemvBF16Packed2(d0, d1, p[split*PackedRows:], x[split:], x1[split:], ldg, true)
					}
					for r := range rows {
						if math.Float32bits(d0[r]) != math.Float32bits(dst[r]) || math.Float32bits(d1[r]) != math.Float32bits(one[r]) {
							t.Fatalf("%s: two rows at once give row %d = %g, %g; one at a time %g, %g", name, r, d0[r], d1[r], dst[r], one[r])
						}
					}
				}
				if impl.GemvBF16Packed4 != nil {
					checkPacked4(t, name, impl, rng, p, x, dst[:rows], ldg)
				}
				if impl.GemvBF16PackedFast != nil {
					xb := make([]uint16, k)
					impl.F32ToBF16(xb, x)
					fast := make([]float32, rows)
					impl.GemvBF16PackedFast(fast, p, xb, ldg, false)
					if impl.GemvBF16Packed2Fast != nil {
						xb1 := make([]uint16, k)
						impl.F32ToBF16(xb1, randSlice(rng, k, 1))
						one := make([]float32, rows)
						impl.GemvBF16PackedFast(one, p, xb1, ldg, false)
						d0, d1 := make([]float32, rows), make([]float32, rows)
						impl.GemvBF16Packed2Fast(d0, d1, p, xb, xb1, ldg, false)
						for r := range rows {
							if math.Float32bits(d0[r]) != math.Float32bits(fast[r]) || math.Float32bits(d1[r]) != math.Float32bits(one[r]) {
								t.Fatalf("%s fast: two rows at once differ from one at a time at row %d", name, r)
							}
						}
					}
					want := make([]float32, rows)
					gemvPackedFastGeneric(want, p, xb, ldg, false)
					for r := range m {
						if d := math.Abs(float64(fast[r] - want[r])); !(d <= 1e-5*math.Abs(float64(want[r]))+1e-4) {
							t.Fatalf("%s fast: row %d = %g, want %g", name, r, fast[r], want[r])
						}
					}
				}
				checkPackedGemmIdentical(t, name, impl, p, x, dst[:rows], k)
			}
		}
	}
}

// checkPacked4 requires GemvBF16Packed4 to give each row of x the bits GemvBF16Packed gives
// it (x and want are row 0's), in one block of columns or in two, and to write nothing past
// its rows.
func checkPacked4(t *testing.T, name string, impl *Kernels, rng *rand.Rand, p []uint16, x, want []float32, ldg int) {
	t.Helper()
	k, rows := len(x), len(want)
	var xs, d [4][]float32
	wants := [4][]float32{want}
	xs[0] = x
	for i := 1; i < 4; i++ {
		xs[i] = randSlice(rng, k, 1)
		wants[i] = make([]float32, rows)
		impl.GemvBF16Packed(wants[i], p, xs[i], ldg, false)
	}
	for i := range 4 {
		d[i] = make([]float32, rows+1)
		d[i][rows] = guard
		d[i] = d[i][:rows]
	}
	for _, split := range []int{0, k / 2 &^ 1, 32} {
		if split > 0 && split < k {
			var lo, hi [4][]float32
			for i := range 4 {
				lo[i], hi[i] = xs[i][:split], xs[i][split:]
			}
			impl.GemvBF16Packed4(d, p, lo, ldg, false)
			impl.GemvBF16Packed4(d, p[split*PackedRows:], hi, ldg, true)
		} else {
			impl.GemvBF16Packed4(d, p, xs, ldg, false)
		}
		for i := range 4 {
			if d[i][:rows+1][rows] != guard {
				t.Fatalf("%s: four rows at once wrote past row %d's outputs", name, i)
			}
			for r := range rows {
				if math.Float32bits(d[i][r]) != math.Float32bits(wants[i][r]) {
					t.Fatalf("%s: four rows at once (split %d) give row %d's output %d = %g; one at a time %g", name, split, i, r, d[i][r], wants[i][r])
				}
			}
		}
	}
}

// checkPackedGemmIdentical runs x (as the first row of a panel) through the GEMM over each
// group of p and requires the decode kernel's outputs exactly.
func checkPackedGemmIdentical(t *testing.T, name string, impl *Kernels, p []uint16, x, gemv []float32, k int) {
	t.Helper()
	R, C := impl.GemmRows, impl.GemmCols
	xp := make([]float32, k*R)
	impl.PackF32(xp, x, k, 1, k)
	cols := make([]float32, k*PackedRows)
	tile := make([]float32, C*R)
	groups := len(p) / (PackedRows * k)
	// First GemmF32 over the rows unpacked to row-major float32: the chain of every level's
	// GEMM kernel.
	rowB := make([]uint16, k)
	rows := make([]float32, C*k)
	for r0 := 0; r0 < groups*PackedRows; r0 += C {
		for j := range C {
			UnpackedRow(rowB, p, r0+j, k)
			bf16ToF32Generic(rows[j*k:], rowB)
		}
		impl.GemmF32(tile, xp, rows, k, k, C, false)
		for j := range C {
			if got, want := tile[j*R], gemv[r0+j]; math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%s: GemmF32 gives row %d = %g, the decode kernel %g: not bit-identical", name, r0+j, got, want)
			}
		}
	}
	for g := range groups {
		impl.UnpackF32(cols, p[g*PackedRows*k:(g+1)*PackedRows*k], k/2)
		for j0 := 0; j0 < PackedRows; j0 += C {
			for _, split := range []int{k, k / 2 &^ 1} {
				if split == 0 {
					continue
				}
				W := impl.UnpackWidth
				impl.GemmF32Cols(tile, xp, cols[impl.UnpackedIndex(j0, 0, k):], W, split, C, false)
				if split < k {
					impl.GemmF32Cols(tile, xp[split*R:], cols[impl.UnpackedIndex(j0, split, k):], W, k-split, C, true)
				}
				for j := range C {
					want := gemv[g*PackedRows+j0+j]
					if got := tile[j*R]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%s: GEMM (k in blocks of %d) gives row %d = %g, the decode kernel %g: not bit-identical", name, split, g*PackedRows+j0+j, got, want)
					}
				}
			}
		}
	}
}

func TestUnpackF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, impl := range Implementations() {
		for _, steps := range []int{1, 3, 8, 17} {
			src := bf16Slice(rng, steps*2*PackedRows)
			got := make([]float32, steps*2*PackedRows+1)
			got[len(got)-1] = guard
			impl.UnpackF32(got, src, steps)
			// Each element where UnpackedIndex says, read from the packed step directly.
			k := 2 * steps
			for r := range PackedRows {
				for p := range k {
					w := BF16ToFloat32(src[(p/2*PackedRows+r)*2+p%2])
					if v := got[impl.UnpackedIndex(r, p, k)]; math.Float32bits(v) != math.Float32bits(w) {
						t.Fatalf("%s/steps=%d: w(%d, %d) = %g at UnpackedIndex, want %g", impl.Level, steps, r, p, v, w)
					}
				}
			}
			want := make([]float32, steps*2*PackedRows)
			unpackF32Panels(impl.UnpackWidth)(want, src, steps)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s/steps=%d: element %d = %g, want %g", impl.Level, steps, i, got[i], want[i])
				}
			}
			if got[len(got)-1] != guard {
				t.Fatalf("%s: wrote past dst", impl.Level)
			}
		}
	}
}
