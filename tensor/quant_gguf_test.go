package tensor_test

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/tensor"
)

// The golden quantized files were made by llama-quantize from the F32 files beside them
// (testdata/gguf/manifest.json), without an importance matrix: each quantized tensor is
// ggml's reference quantizer applied to the F32 file's tensor.
var quantized = []struct{ file, source string }{
	{"tiny-a-q8_0.gguf", "tiny-a-f32.gguf"},
	{"small-c-q8_0.gguf", "small-c-f32.gguf"},
	{"small-c-q6_k.gguf", "small-c-f32.gguf"},
	{"small-c-q4_k_m.gguf", "small-c-f32.gguf"},
}

func openGolden(t *testing.T, name string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(filepath.Join("..", "testdata", "gguf", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// pairs calls fn for every tensor of a golden quantized file stored in a block format, with
// the F32 tensor it was made from.
func pairs(t *testing.T, fn func(t *testing.T, name string, q tensor.Host, src []float32)) {
	for _, c := range quantized {
		qf, sf := openGolden(t, c.file), openGolden(t, c.source)
		for _, name := range qf.Names() {
			q, err := qf.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			if !q.DType.Quantized() {
				continue
			}
			s, err := sf.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.DType != tensor.F32 || s.Len() != q.Len() {
				t.Fatalf("%s: source %s%v for %s%v", name, s.DType, s.Shape, q.DType, q.Shape)
			}
			t.Run(fmt.Sprintf("%s/%s/%s", c.file, name, q.DType), func(t *testing.T) { fn(t, name, q, s.F32()) })
		}
	}
}

// TestQuantizeMatchesLlamaQuantize quantizes each F32 golden tensor with our reference
// quantizer and compares the bytes with those llama-quantize wrote: they must be the same.
func TestQuantizeMatchesLlamaQuantize(t *testing.T) {
	blocks, differ := map[tensor.DType]int{}, map[tensor.DType]int{}
	pairs(t, func(t *testing.T, name string, q tensor.Host, src []float32) {
		got := make([]byte, len(q.Data))
		tensor.Quantize(got, q.DType, src)
		bb := q.DType.BlockBytes()
		n, first := 0, -1
		for i := 0; i < len(got); i += bb {
			if !bytes.Equal(got[i:i+bb], q.Data[i:i+bb]) {
				if n++; first < 0 {
					first = i / bb
				}
			}
		}
		blocks[q.DType] += len(got) / bb
		differ[q.DType] += n
		if n > 0 {
			i := first * bb
			t.Errorf("%d of %d blocks differ from llama-quantize's; block %d:\n got %x\nwant %x", n, len(got)/bb, first, got[i:i+bb], q.Data[i:i+bb])
		}
	})
	for dt, n := range blocks {
		t.Logf("%s: %d of %d blocks differ from llama-quantize's", dt, differ[dt], n)
	}
}

// TestDequantizeGolden dequantizes each quantized golden tensor and bounds its error against
// the F32 tensor it was made from, block by block, by what the format can do: Q8_0 within half
// a step d/2 (plus the f16 rounding of d over 127 steps); the K-quants within one step of
// their sub-block (d·sc: rounding gives half a step, and their scale search may clamp an
// extreme element by up to about a further half step).
func TestDequantizeGolden(t *testing.T) {
	pairs(t, func(t *testing.T, name string, q tensor.Host, src []float32) {
		got := q.ToF32()
		bs, bb := q.DType.BlockSize(), q.DType.BlockBytes()
		var worst float64 // largest error in steps
		var sq, ref float64
		for b := 0; b < len(got)/bs; b++ {
			blk := q.Data[b*bb : (b+1)*bb]
			for i := b * bs; i < (b+1)*bs; i++ {
				e := math.Abs(float64(got[i]) - float64(src[i]))
				if math.IsNaN(e) {
					t.Fatalf("element %d: NaN", i)
				}
				sq += e * e
				ref += float64(src[i]) * float64(src[i])
				step, bound := stepOf(q.DType, blk, i-b*bs)
				if step == 0 {
					if e > 1e-30 {
						t.Fatalf("element %d: zero step but error %g", i, e)
					}
					continue
				}
				worst = max(worst, e/step)
				if e > bound*step+1e-7*math.Abs(float64(src[i])) {
					t.Fatalf("element %d (block %d): %g for %g, error %g is %.3f steps of %g, bound %.3f", i, b, got[i], src[i], e, e/step, step, bound)
				}
			}
		}
		t.Logf("worst error %.3f steps; relative RMS error %.4f", worst, math.Sqrt(sq/ref))
	})
}

// stepOf is the quantization step of element i of a block, and the bound on the error in
// steps.
func stepOf(dt tensor.DType, b []byte, i int) (step, bound float64) {
	f16 := func(o int) float64 { return float64(tensor.F16ToFloat32(uint16(b[o]) | uint16(b[o+1])<<8)) }
	switch dt {
	case tensor.Q8_0:
		return f16(0), 0.5 + 127*math.Pow(2, -11) + 1e-3
	case tensor.Q4_K, tensor.Q5_K:
		j := i / 32
		var sc uint8
		if q := b[4:16]; j < 4 {
			sc = q[j] & 63
		} else {
			sc = q[j+4]&0xF | (q[j-4]>>6)<<4
		}
		return f16(0) * float64(sc), 1.5
	case tensor.Q6_K:
		return math.Abs(f16(208) * float64(int8(b[192+i/16]))), 1
	}
	panic(dt)
}
