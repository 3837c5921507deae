package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/x448/float16"
)

func TestBF16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3f80},
		{-2, 0xc000},
		{float32(math.Inf(1)), 0x7f80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even below
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, even above
		{math.Float32frombits(0x3f808001), 0x3f81}, // just above a tie
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max float rounds to Inf
	}
	for _, tt := range tests {
		if got := Float32ToBF16(tt.in); got != tt.want {
			t.Errorf("Float32ToBF16(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	if nan := Float32ToBF16(float32(math.NaN())); BF16ToFloat32(nan) == BF16ToFloat32(nan) {
		t.Errorf("NaN became %#04x", nan)
	}
	// Every bf16 value survives a round trip through float32.
	for b := range 1 << 16 {
		f := BF16ToFloat32(uint16(b))
		if f != f {
			continue
		}
		if back := Float32ToBF16(f); back != uint16(b) {
			t.Fatalf("%#04x → %v → %#04x", b, f, back)
		}
	}
}

// The binary16 conversions are tested against github.com/x448/float16, whose authors checked
// its conversions over every input (all 2³² float32 for Fromfloat32): it rounds to nearest,
// ties to even, and treats NaN as the x86 instructions do (VCVTPH2PS, VCVTPS2PH): sign and
// payload kept, quiet bit set. So the comparison is of bits, NaN included.

// TestF16ToFloat32 widens every binary16 value, with F16ToFloat32 and with every
// implementation's F16ToF32 kernel.
func TestF16ToFloat32(t *testing.T) {
	all := make([]uint16, 1<<16)
	want := make([]uint32, len(all))
	for h := range all {
		all[h] = uint16(h)
		want[h] = math.Float32bits(float16.Frombits(uint16(h)).Float32())
		if got := math.Float32bits(F16ToFloat32(uint16(h))); got != want[h] {
			t.Fatalf("F16ToFloat32(%#04x) = %#08x, want %#08x", h, got, want[h])
		}
	}
	forEachImpl(t, func(t *testing.T, kn *Kernels) {
		got := make([]float32, len(all))
		kn.F16ToF32(got, all)
		for h := range all {
			if g := math.Float32bits(got[h]); g != want[h] {
				t.Fatalf("F16ToF32(%#04x) = %#08x, want %#08x", h, g, want[h])
			}
		}
	})
}

// f16Inputs returns float32 values where rounding to binary16 is decided: for every half
// (subnormals, the largest finite and the infinities included) the half itself, the
// midpoint to the next half above in magnitude, and the float32 values just around both;
// every float32 exponent; NaNs with assorted payloads; and random bit patterns.
func f16Inputs() []float32 {
	var fs []float32
	add := func(u uint32) { fs = append(fs, math.Float32frombits(u)) }
	for h := range 1 << 15 {
		lo := math.Float32bits(float16.Frombits(uint16(h)).Float32())
		if lo >= 0x7f800000 {
			break // Inf and NaN: below
		}
		next := float64(65536) // past the largest finite half, 65504, the next step would be 2¹⁶
		if h+1 < 0x7c00 {
			next = float64(float16.Frombits(uint16(h + 1)).Float32())
		}
		mid := math.Float32bits(float32((float64(math.Float32frombits(lo)) + next) / 2)) // exact in float32
		for _, u := range []uint32{lo, lo + 1, mid - 1, mid, mid + 1} {
			add(u)
			add(u | 0x80000000)
		}
		if lo > 0 {
			add(lo - 1)
		}
	}
	for e := range uint32(256) {
		for _, m := range []uint32{0, 1, 0x1000, 0x2000, 0x3000, 0x400000, 0x7fffff} {
			add(e<<23 | m)
			add(0x80000000 | e<<23 | m)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1 << 20 {
		add(rng.Uint32())
	}
	return fs
}

// TestFloat32ToF16 rounds the float32 values of f16Inputs to binary16 and back: every
// finite half survives the round trip.
func TestFloat32ToF16(t *testing.T) {
	for _, f := range f16Inputs() {
		if got, want := Float32ToF16(f), float16.Fromfloat32(f).Bits(); got != want {
			t.Fatalf("Float32ToF16(%v = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN: quieted on the way
		}
		if back := Float32ToF16(F16ToFloat32(uint16(h))); back != uint16(h) {
			t.Fatalf("%#04x → %v → %#04x", h, F16ToFloat32(uint16(h)), back)
		}
	}
}
