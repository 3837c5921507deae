package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Every level's Dequantize gives the package's bits, over every int8 and scales from f16
// subnormals to the largest, negative and zero among them.
func TestDequantizeLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, kn := range Implementations() {
		for _, dt := range []DType{Q8_0, Q4_K, Q5_K, Q6_K} {
			for _, blocks := range []int{1, 3, 17} {
				n := blocks * dt.BlockSize()
				src := make([]byte, dt.Bytes(n))
				for i := range src {
					src[i] = byte(rng.Uint32())
				}
				if dt == Q8_0 {
					for i := 0; i < len(src); i += 34 {
						h := uint16(rng.Uint32()) & 0xfbff // finite
						switch i / 34 % 4 {
						case 0:
							h &= 0x83ff // subnormal or zero
						case 1:
							h = 0
						}
						src[i], src[i+1] = byte(h), byte(h>>8)
					}
				}
				got, want := make([]float32, n+1), make([]float32, n)
				got[n] = guard
				kn.Dequantize(got[:n], dt, src)
				Dequantize(want, dt, src)
				if got[n] != guard {
					t.Fatalf("%s %s: wrote past dst", kn.Level, dt)
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %s blocks=%d: element %d = %g, want %g", kn.Level, dt, blocks, i, got[i], want[i])
					}
				}
			}
		}
	}
}
