//go:build !purego

package tensor

import (
	"fmt"
	"testing"
)

// TestGemvPackedStreams runs TestGemvPacked with the AVX-512 packed kernels reading one group
// at a time and two, whichever this CPU's vendor chose: both must give the generic twin's
// chains bit for bit.
func TestGemvPackedStreams(t *testing.T) {
	defer func(v bool) { packedTwoStreams = v }(packedTwoStreams)
	for _, two := range []bool{false, true} {
		packedTwoStreams = two
		t.Run(fmt.Sprintf("two=%v", two), TestGemvPacked)
	}
}

// BenchmarkGemvBF16PackedStreams is BenchmarkGemvBF16Packed(Fast) at the AVX-512 levels with
// one stream and with two: the figures packedTwoStreams is chosen from.
func BenchmarkGemvBF16PackedStreams(b *testing.B) {
	defer func(v bool) { packedTwoStreams = v }(packedTwoStreams)
	for _, two := range []bool{false, true} {
		packedTwoStreams = two
		b.Run(fmt.Sprintf("two=%v", two), func(b *testing.B) {
			b.Run("exact", BenchmarkGemvBF16Packed)
			b.Run("fast", BenchmarkGemvBF16PackedFast)
		})
	}
}
