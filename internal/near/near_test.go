package near

import (
	"math"
	"testing"
)

func TestDiff(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		got, want, diff float64
	}{
		{1, 1, 0}, {1, 1.5, 0.5}, {-2, 2, 4},
		{nan, 1, inf}, {1, nan, inf}, {nan, nan, 0},
		{inf, 1, inf}, {-inf, 1, inf}, {1, inf, inf}, {inf, inf, 0}, {-inf, -inf, 0}, {inf, -inf, inf},
		{nan, inf, inf},
	} {
		if d := Diff(c.got, c.want); d != c.diff {
			t.Errorf("Diff(%v, %v) = %v, want %v", c.got, c.want, d, c.diff)
		}
	}
	if d := Diff(float32(math.NaN()), 0.0); !math.IsInf(d, 1) {
		t.Errorf("Diff(float32 NaN, 0) = %v", d)
	}
}

func TestMaxAndCheck(t *testing.T) {
	want := []float64{1, 2, 3, 4}
	if w, at := Max([]float32{1, 2.5, 3, 4}, want); w != 0.5 || at != 1 {
		t.Errorf("Max = %v at %d, want 0.5 at 1", w, at)
	}
	if w, at := Max([]float32{}, []float64{}); w != 0 || at != -1 {
		t.Errorf("Max of nothing = %v at %d", w, at)
	}
	nan := float32(math.NaN())
	for _, got := range [][]float32{{nan, 2, 3, 4}, {1, 2, 3, nan}, {1, float32(math.Inf(-1)), 3, 4}} {
		if err := Check(got, want, 1e9); err == nil {
			t.Errorf("Check(%v) passed", got)
		}
		if w, _ := Max(got, want); !math.IsInf(w, 1) {
			t.Errorf("Max(%v) = %v, want +Inf", got, w)
		}
	}
	if err := Check([]float32{1, 2, 3, 4}, want, 0); err != nil {
		t.Error(err)
	}
	if err := Check([]float32{1, 2, 3}, want, 1); err == nil {
		t.Error("Check passed a short result")
	}
}
