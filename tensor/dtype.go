package tensor

import "fmt"

// DType is the element type of a tensor. The floating types F32, F16 and BF16 are the ones
// weights and activations use; the integer types exist so that files holding them (token ids
// in reference data, integer buffers in checkpoints) can be read and named in messages.
//
// Q8_0, Q4_K, Q6_K and Q5_K are block formats, ggml's (GGUF's) layouts: a tensor's elements
// come in blocks of BlockSize along its innermost dimension, each block BlockBytes bytes that
// hold its scales and quantized values (see quant.go). A tensor of a block dtype has no
// per-element size; its byte length is Bytes(Len()).
type DType uint8

const (
	F32  DType = iota // IEEE 754 binary32
	F16               // IEEE 754 binary16
	BF16              // bfloat16: the top half of a binary32
	F64
	I64
	I32
	I16
	I8
	U8
	Bool
	Q8_0 // blocks of 32: f16 scale d, 32 int8 q; x = d·q (34 bytes, 8.5 bits a weight)
	Q4_K // super-blocks of 256: f16 d, dmin, 8 6-bit scales and mins, 256 4-bit q (144 bytes)
	Q6_K // super-blocks of 256: 256 6-bit q, 16 int8 scales, f16 d (210 bytes)
	Q5_K // super-blocks of 256: as Q4_K with a fifth bit per q (176 bytes)
)

// For a plain dtype block is 1 and size the bytes of one element; a block dtype's block
// elements take size bytes.
var dtypes = [...]struct {
	name        string
	size, block int
}{
	F32: {"F32", 4, 1}, F16: {"F16", 2, 1}, BF16: {"BF16", 2, 1}, F64: {"F64", 8, 1},
	I64: {"I64", 8, 1}, I32: {"I32", 4, 1}, I16: {"I16", 2, 1}, I8: {"I8", 1, 1}, U8: {"U8", 1, 1}, Bool: {"BOOL", 1, 1},
	Q8_0: {"Q8_0", 34, 32}, Q4_K: {"Q4_K", 144, 256}, Q6_K: {"Q6_K", 210, 256}, Q5_K: {"Q5_K", 176, 256},
}

func (d DType) valid() {
	if int(d) >= len(dtypes) {
		panic(fmt.Sprintf("tensor: invalid dtype %d", d))
	}
}

// Size is the number of bytes of one element. A block dtype has none: Size panics, and
// Bytes gives the length of a run of its elements.
func (d DType) Size() int {
	d.valid()
	if dtypes[d].block != 1 {
		panic("tensor: " + d.String() + " is a block format: its elements have no size of their own")
	}
	return dtypes[d].size
}

// Quantized reports whether d is a block format (Q8_0, Q4_K, Q6_K, Q5_K).
func (d DType) Quantized() bool { d.valid(); return dtypes[d].block != 1 }

// BlockSize is the number of elements of one block: 1 for a plain dtype.
func (d DType) BlockSize() int { d.valid(); return dtypes[d].block }

// BlockBytes is the number of bytes of one block: Size for a plain dtype.
func (d DType) BlockBytes() int { d.valid(); return dtypes[d].size }

// Bytes is the number of bytes n elements take; for a block dtype n must be a whole number
// of blocks.
func (d DType) Bytes(n int) int {
	d.valid()
	t := dtypes[d]
	if n%t.block != 0 {
		panic(fmt.Sprintf("tensor: %d elements are not a whole number of %s blocks of %d", n, d, t.block))
	}
	return n / t.block * t.size
}

// String returns the safetensors name of the dtype ("F32", "BF16", "I64", ...), or
// ggml's for a block format ("Q4_K").
func (d DType) String() string {
	if int(d) >= len(dtypes) {
		return fmt.Sprintf("DType(%d)", d)
	}
	return dtypes[d].name
}

// IsFloat reports whether the engine computes with the dtype: F32, F16 or BF16.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 }

// ParseDType maps a safetensors dtype name to a DType. Block formats are not safetensors
// dtypes (a safetensors reader sizes tensors by element), so their names are refused.
func ParseDType(s string) (DType, error) {
	for d, t := range dtypes {
		if t.name == s {
			if t.block != 1 {
				return 0, fmt.Errorf("dtype %q is a block format, not an element type", s)
			}
			return DType(d), nil
		}
	}
	return 0, fmt.Errorf("unsupported dtype %q", s)
}
