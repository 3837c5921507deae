package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
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

// f16Ref converts with float64 arithmetic: the nearest binary16, ties to even.
func f16Ref(f float32) uint16 {
	x := float64(f)
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	switch {
	case math.IsNaN(x):
		return 0x7e00
	case x >= 65520: // halfway between max half 65504 and 65536 rounds up to Inf
		return sign | 0x7c00
	}
	// Scale to an integer count of the spacing at x's exponent.
	exp := max(math.Floor(math.Log2(x)), -14)
	if x == 0 {
		exp = -14
	}
	ulp := math.Ldexp(1, int(exp)-10)
	q := math.RoundToEven(x / ulp)
	v := q * ulp
	if v == 0 {
		return sign
	}
	e := max(math.Floor(math.Log2(v)), -14)
	if e == -14 && v < math.Ldexp(1, -14) {
		return sign | uint16(v/math.Ldexp(1, -24))
	}
	man := v/math.Ldexp(1, int(e)) - 1
	return sign | uint16(e+15)<<10 | uint16(math.Round(man*1024))
}

func TestF16(t *testing.T) {
	// Every half survives a round trip through float32.
	for h := range 1 << 16 {
		f := F16ToFloat32(uint16(h))
		if f != f {
			continue
		}
		if back := Float32ToF16(f); back != uint16(h) {
			t.Fatalf("%#04x → %v → %#04x", h, f, back)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		// Values across the half range, subnormals and overflow included.
		f := float32(math.Ldexp(rng.Float64()*2-1, rng.IntN(44)-26))
		if got, want := Float32ToF16(f), f16Ref(f); got != want {
			t.Fatalf("Float32ToF16(%v) = %#04x, want %#04x", f, got, want)
		}
	}
	if got := Float32ToF16(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("NaN became %#04x", got)
	}
}
