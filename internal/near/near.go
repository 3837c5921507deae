// Package near compares floating-point results with their references in tests. Every
// comparison counts a NaN or an infinity in a result as infinitely wrong, unless the reference
// holds the same non-finite value, so that a kernel returning NaN cannot pass a check written
// as `d > tol` (false for a NaN d).
package near

import (
	"fmt"
	"math"
)

// Float is the element type of results and references.
type Float interface{ ~float32 | ~float64 }

// Diff is |got − want| in float64, or +Inf when either is non-finite and they are not the
// same value (NaN matches only NaN, an infinity only the same infinity); then 0.
func Diff[G, W Float](got G, want W) float64 {
	g, w := float64(got), float64(want)
	if finite(g) && finite(w) {
		return math.Abs(g - w)
	}
	if (math.IsNaN(g) && math.IsNaN(w)) || g == w {
		return 0
	}
	return math.Inf(1)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Max returns the largest Diff over the elements and its index (-1 when there are none). It
// panics when the lengths differ: a short result is a bug in the test, not a tolerance.
func Max[G, W Float](got []G, want []W) (worst float64, at int) {
	if len(got) != len(want) {
		panic(fmt.Sprintf("near: %d values against a reference of %d", len(got), len(want)))
	}
	at = -1
	for i := range got {
		if d := Diff(got[i], want[i]); at < 0 || d > worst {
			worst, at = d, i
		}
	}
	return worst, at
}

// Check returns nil when every Diff is at most tol, else an error naming the worst element.
func Check[G, W Float](got []G, want []W, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	worst, at := Max(got, want)
	if at >= 0 && !(worst <= tol) {
		return fmt.Errorf("max |diff| %.3g at %d (got %v, want %v), tolerance %.3g", worst, at, got[at], want[at], tol)
	}
	return nil
}
