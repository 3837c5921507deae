package tensor

import (
	"math/rand/v2"
	"testing"
)

func TestStreamSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	buf := make([]byte, 4096+8)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 7, 8, 16, 120, 128, 136, 256, 1000, 4096} {
		if got, want := StreamSum(buf[:n]), streamSumGeneric(buf[:n/8*8]); got != want {
			t.Errorf("n=%d: %#x, want %#x", n, got, want)
		}
	}
}
