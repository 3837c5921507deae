package tensor

import (
	"fmt"
	"strconv"
	"unsafe"
)

// Host is a tensor in host memory: row-major, little-endian elements of DType, or for a block
// dtype its blocks in row-major order (each row of the innermost dimension a whole number of
// blocks). Data may be a read-only memory-mapped view of a checkpoint file; Host never copies it.
type Host struct {
	DType DType
	Shape []int
	Data  []byte
}

// NumElements returns the product of the shape; that of a scalar (no dimensions) is 1.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Len is the number of elements.
func (h Host) Len() int { return NumElements(h.Shape) }

// Zeros allocates a zeroed host tensor.
func Zeros(dt DType, shape ...int) Host {
	return Host{DType: dt, Shape: append([]int(nil), shape...), Data: make([]byte, dt.Bytes(NumElements(shape)))}
}

// FromF32 wraps a float32 slice as an F32 host tensor without copying.
func FromF32(v []float32, shape ...int) Host {
	if NumElements(shape) != len(v) {
		panic(fmt.Sprintf("tensor: %d values do not fill shape %v", len(v), shape))
	}
	var b []byte
	if len(v) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	return Host{DType: F32, Shape: append([]int(nil), shape...), Data: b}
}

// F32 views the data of an F32 tensor as float32s (no copy).
func (h Host) F32() []float32 {
	if h.DType != F32 {
		panic("tensor: F32 view of a " + h.DType.String() + " tensor")
	}
	return asF32(h.Data)
}

// U16 views the data of a BF16 or F16 tensor as raw 16-bit values (no copy).
func (h Host) U16() []uint16 {
	if h.DType != BF16 && h.DType != F16 {
		panic("tensor: U16 view of a " + h.DType.String() + " tensor")
	}
	return asU16(h.Data)
}

// ToF32 returns the elements of a floating-point or quantized tensor as a new []float32;
// a quantized one is dequantized.
func (h Host) ToF32() []float32 {
	out := make([]float32, h.Len())
	switch h.DType {
	default:
		if h.DType.Quantized() {
			Dequantize(out, h.DType, h.Data)
			return out
		}
		panic("tensor: ToF32 of a " + h.DType.String() + " tensor")
	case F32:
		copy(out, h.F32())
	case BF16:
		BF16ToF32(out, h.U16())
	case F16:
		F16ToF32(out, h.U16())
	}
	return out
}

// asF32 and asU16 reinterpret little-endian bytes in place; amd64 and arm64 are little-endian,
// and Go's allocator and mmap both give us suitably aligned starts.
func asF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		panic("tensor: misaligned float32 data")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func asU64(b []byte) []uint64 {
	if len(b) < 8 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		panic("tensor: misaligned 64-bit data")
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

func asU16(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%2 != 0 {
		panic("tensor: misaligned 16-bit data")
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

// ShapeString formats a shape for messages: "[3072, 3072]".
func ShapeString(shape []int) string {
	b := []byte{'['}
	for i, d := range shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	return string(append(b, ']'))
}

// StackRows returns the rows of matrices of one dtype and width, one after another, in a new
// buffer: [Σ rows, cols].
func StackRows(parts ...Host) (Host, error) {
	if len(parts) == 0 {
		return Host{}, fmt.Errorf("stacking no matrices")
	}
	dt, rows, size := parts[0].DType, 0, 0
	for i, p := range parts {
		if len(p.Shape) != 2 || p.Shape[1] != parts[0].Shape[1] || p.DType != dt {
			return Host{}, fmt.Errorf("stacking %s%s under %s%s: matrices of one dtype and width are stacked",
				p.DType, ShapeString(p.Shape), parts[0].DType, ShapeString(parts[0].Shape))
		}
		if len(p.Data) != dt.Bytes(p.Len()) {
			return Host{}, fmt.Errorf("stacking part %d: %d bytes for %s%s", i, len(p.Data), dt, ShapeString(p.Shape))
		}
		rows, size = rows+p.Shape[0], size+len(p.Data)
	}
	data := make([]byte, 0, size)
	for _, p := range parts {
		data = append(data, p.Data...)
	}
	return Host{DType: dt, Shape: []int{rows, parts[0].Shape[1]}, Data: data}, nil
}

// Argmax returns the lowest index of the largest value of v: a NaN is never chosen over a
// number, and v of NaNs (or empty) gives 0. It is greedy decoding's choice, the one
// backend.Argmaxer makes where the logits are.
func Argmax(v []float32) int {
	best := -1
	for i, x := range v {
		if x == x && (best < 0 || x > v[best]) {
			best = i
		}
	}
	return max(best, 0)
}
