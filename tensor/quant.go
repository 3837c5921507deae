package tensor

import (
	"fmt"
	"math"
)

// Block formats: ggml's quantized layouts, byte for byte as GGUF files store them, so that
// tensors move between minitron and llama.cpp unchanged. Each format has a dequantizer and a
// reference quantizer in plain Go; the quantizers follow ggml's reference ones
// (quantize_row_*_ref in ggml-quants.c: the same searches, in the same float32 arithmetic),
// so that quantizing the same float32 weights gives the bytes llama-quantize writes.
//
// Every multi-byte field is little-endian; a block's f16 fields are IEEE binary16.

// Dequantize decodes len(dst) elements of block dtype dt from src, which holds exactly
// dt.Bytes(len(dst)) bytes.
func Dequantize(dst []float32, dt DType, src []byte) {
	n := checkBlocks(dt, len(dst), len(src))
	bs, bb := dt.BlockSize(), dt.BlockBytes()
	var f func(dst []float32, b []byte)
	switch dt {
	case Q8_0:
		f = dequantizeQ8_0
	case Q4_K:
		f = dequantizeQ4_K
	case Q5_K:
		f = dequantizeQ5_K
	case Q6_K:
		f = dequantizeQ6_K
	}
	for i := range n {
		f(dst[i*bs:(i+1)*bs], src[i*bb:(i+1)*bb])
	}
}

// Quantize encodes src in block dtype dt into dst, which holds exactly dt.Bytes(len(src))
// bytes. Blocks are independent: a tensor is quantized row by row or all at once alike.
func Quantize(dst []byte, dt DType, src []float32) {
	n := checkBlocks(dt, len(src), len(dst))
	bs, bb := dt.BlockSize(), dt.BlockBytes()
	var f func(b []byte, x []float32)
	switch dt {
	case Q8_0:
		f = quantizeQ8_0
	case Q4_K:
		f = quantizeQ4_K
	case Q5_K:
		f = quantizeQ5_K
	case Q6_K:
		f = quantizeQ6_K
	}
	for i := range n {
		f(dst[i*bb:(i+1)*bb], src[i*bs:(i+1)*bs])
	}
}

func checkBlocks(dt DType, elems, bytes int) int {
	if !dt.Quantized() {
		panic("tensor: " + dt.String() + " is not a block format")
	}
	if elems%dt.BlockSize() != 0 || bytes != dt.Bytes(elems) {
		panic(fmt.Sprintf("tensor: %d elements in %d bytes of %s (blocks of %d in %d bytes)", elems, bytes, dt, dt.BlockSize(), dt.BlockBytes()))
	}
	return elems / dt.BlockSize()
}

// Quantize returns the tensor in block dtype dt: a floating-point tensor is quantized (as
// float32 values), one already in dt is returned as is. The innermost dimension must be a
// whole number of blocks, so that every row starts a block.
func (h Host) Quantize(dt DType) (Host, error) {
	if h.DType == dt {
		return h, nil
	}
	if !dt.Quantized() {
		return Host{}, fmt.Errorf("tensor: %s is not a block format", dt)
	}
	if !h.DType.IsFloat() {
		return Host{}, fmt.Errorf("tensor: cannot quantize a %s tensor to %s", h.DType, dt)
	}
	if len(h.Shape) == 0 || h.Shape[len(h.Shape)-1]%dt.BlockSize() != 0 {
		return Host{}, fmt.Errorf("tensor: %s needs rows of a multiple of %d elements, shape is %s", dt, dt.BlockSize(), ShapeString(h.Shape))
	}
	out := Host{DType: dt, Shape: append([]int(nil), h.Shape...), Data: make([]byte, dt.Bytes(h.Len()))}
	Quantize(out.Data, dt, h.ToF32())
	return out, nil
}

// nearestInt rounds to the nearest integer, ties to even: ggml's nearest_int, which adds
// 1.5·2²³ in float32 arithmetic and reads the low mantissa bits (valid for |f| < 2²²).
func nearestInt(f float32) int { return int(math.RoundToEven(float64(f))) }

func f16At(b []byte) float32     { return F16ToFloat32(uint16(b[0]) | uint16(b[1])<<8) }
func putF16(b []byte, f float32) { h := Float32ToF16(f); b[0], b[1] = byte(h), byte(h>>8) }

// f16Round is f rounded to binary16 and back: the value a stored f16 scale has.
func f16Round(f float32) float32 { return F16ToFloat32(Float32ToF16(f)) }

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

func sqrt32(f float32) float32 { return float32(math.Sqrt(float64(f))) }
