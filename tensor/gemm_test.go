//go:build linux && amd64 && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// Tests of the prefill kernels beyond TestGemm: inputs placed against an unmapped page, so
// that reading one element too many faults; odd k; the values rounding to bf16 is hard for;
// and the contract checks (TestEncodings in asm_test.go checks the hand-encoded instructions).

// endGuarded returns n zeroed elements of T that end where an inaccessible page begins.
func endGuarded[T any](t *testing.T, n int) []T {
	t.Helper()
	var zero T
	size := int(unsafe.Sizeof(zero))
	page := os.Getpagesize()
	bytes := (n*size + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, bytes+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[bytes:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[bytes-n*size])), n)
}

func TestGemmBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		R, C := kn.GemmRows, kn.GemmCols
		for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 14, 15, 16, 17, 18, 31, 32, 33, 34, 48, 49, 100, 3072} {
			for _, rows := range []int{0, 1, 2, R / 3, R/2 + 1, R - 1, R} {
				ldx := k + rows%3 // also ldx = k: rows back to back
				// Packing reads exactly rows of x: (rows-1)·ldx + k elements.
				xn := 0
				if rows > 0 && k > 0 {
					xn = (rows-1)*ldx + k
				}
				x := endGuarded[float32](t, xn)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				xp := endGuarded[float32](t, k*R)
				for i := range xp {
					xp[i] = guard
				}
				kn.PackF32(xp, x, ldx, rows, k)
				want := make([]float32, k*R)
				packF32Generic(R)(want, x, ldx, rows, k)
				for i := range want {
					if xp[i] != want[i] {
						t.Fatalf("PackF32 k=%d rows=%d: element %d = %v, want %v", k, rows, i, xp[i], want[i])
					}
				}
				if k%2 == 0 {
					xb := endGuarded[uint16](t, k*R)
					for i := range xb {
						xb[i] = 0xdead
					}
					kn.PackBF16(xb, x, ldx, rows, k)
					wantB := make([]uint16, k*R)
					packBF16Generic(R)(wantB, x, ldx, rows, k)
					for i := range wantB {
						if xb[i] != wantB[i] {
							t.Fatalf("PackBF16 k=%d rows=%d: element %d = %#x, want %#x", k, rows, i, xb[i], wantB[i])
						}
					}
				}
			}

			// The kernels read exactly k·R of the panel and nw rows of W: (nw-1)·ldw + k.
			xp := endGuarded[float32](t, k*R)
			xb := endGuarded[uint16](t, k*R)
			for i := range xp {
				xp[i] = float32(rng.NormFloat64())
				xb[i] = Float32ToBF16(float32(rng.NormFloat64()))
			}
			for nw := 1; nw <= C; nw++ {
				for _, ldw := range []int{k, k + 1, k + 6} {
					wn := (nw-1)*ldw + k
					w := endGuarded[float32](t, wn)
					wb := endGuarded[uint16](t, wn)
					mag := make([]float32, nw*R)
					for j := range nw {
						for p := range k {
							w[j*ldw+p] = float32(rng.NormFloat64())
							wb[j*ldw+p] = Float32ToBF16(float32(rng.NormFloat64()))
							for i := range R {
								mag[j*R+i] += float32(math.Abs(float64(xp[p*R+i]*w[j*ldw+p]))) +
									float32(math.Abs(float64(BF16ToFloat32(xb[p*R+i])*BF16ToFloat32(wb[j*ldw+p]))))
							}
						}
					}
					for _, acc := range []bool{false, true} {
						name := fmt.Sprintf("k=%d nw=%d ldw=%d acc=%v", k, nw, ldw, acc)
						tile, check := guarded(nw * R)
						want := make([]float32, nw*R)
						for i := range tile {
							tile[i], want[i] = float32(i%7), float32(i%7)
						}
						kn.GemmF32(tile, xp, w, ldw, k, nw, acc)
						check(t, "GemmF32 "+name)
						gemmF32Generic(R)(want, xp, w, ldw, k, nw, acc)
						near(t, "GemmF32 "+name, tile, want, addSevens(mag), 1e-6)

						if kn.GemmBF16 == nil || k%2 != 0 {
							continue
						}
						for i := range tile {
							tile[i], want[i] = float32(i%7), float32(i%7)
						}
						kn.GemmBF16(tile, xb, wb, ldw, k, nw, acc)
						check(t, "GemmBF16 "+name)
						gemmBF16Generic(R)(want, xb, wb, ldw, k, nw, acc)
						near(t, "GemmBF16 "+name, tile, want, addSevens(mag), 1e-5)
					}
				}
			}
		}
	})
}

func addSevens(mag []float32) []float32 {
	out := make([]float32, len(mag))
	for i, m := range mag {
		out[i] = m + float32(i%7)
	}
	return out
}

// PackBF16 must round exactly as Float32ToBF16: ties to even, subnormals kept (VCVTNEPS2BF16
// would flush them), NaNs quieted with their sign, overflow to infinity.
func TestPackBF16Rounding(t *testing.T) {
	special := []uint32{
		0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x00007fff, 0x00008000, 0x00018000,
		0x0000ffff, 0x007fffff, 0x807fffff, 0x00800000, 0x3f808000, 0x3f818000, 0x3f80ffff,
		0x3f7fffff, 0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f800000, 0xff800000, 0x7f800001,
		0xff800001, 0x7fbfffff, 0x7fc00000, 0xffffffff, 0x7fffffff, 0x7f80ffff, 0x3effff00,
	}
	rng := rand.New(rand.NewPCG(7, 7))
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		R := kn.GemmRows
		for _, k := range []int{2, 16, 32, 40} {
			x := make([]float32, R*k)
			for i := range x {
				if rng.IntN(2) == 0 {
					x[i] = math.Float32frombits(special[rng.IntN(len(special))])
				} else {
					x[i] = math.Float32frombits(rng.Uint32())
				}
			}
			got, want := make([]uint16, k*R), make([]uint16, k*R)
			kn.PackBF16(got, x, k, R, k)
			packBF16Generic(R)(want, x, k, R, k)
			for i := range want {
				if got[i] != want[i] {
					p, r := i/(2*R)*2+i%2, i%(2*R)/2
					t.Fatalf("k=%d: x[%d][%d] = %#08x packs to %#04x, want %#04x", k, r, p, math.Float32bits(x[r*k+p]), got[i], want[i])
				}
			}
		}
	})
}

// Calls outside the contract panic instead of reading or writing past the slices.
func TestGemmContract(t *testing.T) {
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		if kn.Level == Generic {
			t.Skip("the plain-Go kernels rely on Go's bounds checks")
		}
		R, C, k := kn.GemmRows, kn.GemmCols, 32
		xp, w := make([]float32, k*R), make([]float32, C*k)
		xb, wb := make([]uint16, k*R), make([]uint16, C*k)
		tile := make([]float32, C*R)
		x := make([]float32, R*k)
		calls := map[string]func(){
			"nw<0":        func() { kn.GemmF32(tile, xp, w, k, k, -1, false) },
			"nw>C":        func() { kn.GemmF32(tile, xp, w, k, k, C+1, false) },
			"short w":     func() { kn.GemmF32(tile, xp, w[:C*k-1], k, k, C, false) },
			"short xp":    func() { kn.GemmF32(tile, xp[:k*R-1], w, k, k, C, false) },
			"short tile":  func() { kn.GemmF32(tile[:C*R-1], xp, w, k, k, C, false) },
			"negative ld": func() { kn.GemmF32(tile, xp, w, -1, k, 2, false) },
			"pack rows>R": func() { kn.PackF32(xp, x, k, R+1, k) },
			"pack short":  func() { kn.PackF32(xp, x[:R*k-1], k, R, k) },
			"pack into":   func() { kn.PackF32(xp[:k*R-1], x, k, R, k) },
			"bf16 short":  func() { kn.PackBF16(xb, x[:R*k-1], k, R, k) },
		}
		if kn.GemmBF16 != nil {
			calls["bf16 odd k"] = func() { kn.GemmBF16(tile, xb, wb, k, k-1, C, false) }
			calls["bf16 short w"] = func() { kn.GemmBF16(tile, xb, wb[:C*k-1], k, k, C, false) }
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
