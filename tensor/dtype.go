package tensor

import "fmt"

// DType is the element type of a tensor. The floating types F32, F16 and BF16 are the ones
// weights and activations use; the others exist so that files holding them (token ids in
// reference data, integer buffers in checkpoints) can be read and named in messages.
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
)

var dtypes = [...]struct {
	name string
	size int
}{
	F32: {"F32", 4}, F16: {"F16", 2}, BF16: {"BF16", 2}, F64: {"F64", 8},
	I64: {"I64", 8}, I32: {"I32", 4}, I16: {"I16", 2}, I8: {"I8", 1}, U8: {"U8", 1}, Bool: {"BOOL", 1},
}

// Size is the number of bytes of one element.
func (d DType) Size() int {
	if int(d) >= len(dtypes) {
		panic(fmt.Sprintf("tensor: invalid dtype %d", d))
	}
	return dtypes[d].size
}

// String returns the safetensors name of the dtype ("F32", "BF16", "I64", ...).
func (d DType) String() string {
	if int(d) >= len(dtypes) {
		return fmt.Sprintf("DType(%d)", d)
	}
	return dtypes[d].name
}

// IsFloat reports whether the engine computes with the dtype: F32, F16 or BF16.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 }

// ParseDType maps a safetensors dtype name to a DType.
func ParseDType(s string) (DType, error) {
	for d, t := range dtypes {
		if t.name == s {
			return DType(d), nil
		}
	}
	return 0, fmt.Errorf("unsupported dtype %q", s)
}
