package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestReadRows4 checks every implementation of the read reference against the plain-Go twin
// and against StreamSum (the same words, summed in another order), on rows that are and are
// not multiples of the 128-byte step, with and without rows left over from groups of four.
func TestReadRows4(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 8*4096)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	impls := readRows4Impls()
	if len(impls) == 0 {
		t.Log("no assembly implementation on this CPU or build: the plain-Go twin only")
	}
	for _, rowBytes := range []int{8, 64, 128, 256, 384, 2048, 4096} {
		for _, rows := range []int{0, 1, 3, 4, 5, 7, 8} {
			b := buf[:rows*rowBytes]
			want := streamSumGeneric(b)
			for _, pf := range []bool{false, true} {
				if got := ReadRows4(b, rowBytes, pf); got != want {
					t.Errorf("ReadRows4(%d rows of %d, prefetch %v) = %#x, want %#x", rows, rowBytes, pf, got, want)
				}
			}
			whole := b[:rows/4*4*rowBytes]
			if got, w := readRows4Generic(whole, rowBytes, false), streamSumGeneric(whole); got != w {
				t.Errorf("generic, %d rows of %d: %#x, want %#x", rows, rowBytes, got, w)
			}
			if rowBytes%128 != 0 {
				continue
			}
			for name, f := range impls {
				if got, w := f(whole, rowBytes), readRows4Generic(whole, rowBytes, false); got != w {
					t.Errorf("%s, %d rows of %d: %#x, want %#x", name, rows, rowBytes, got, w)
				}
			}
		}
	}
}

func TestReadRows4BadShape(t *testing.T) {
	for _, c := range []struct{ n, rowBytes int }{{128, 0}, {128, 12}, {130, 64}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ReadRows4 of %d bytes in rows of %d did not panic", c.n, c.rowBytes)
				}
			}()
			ReadRows4(make([]byte, c.n), c.rowBytes, false)
		}()
	}
}
