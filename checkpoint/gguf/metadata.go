package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ValueType is the type of a metadata value (gguf_type in ggml's gguf.h).
type ValueType uint32

const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64"}

func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(v))
}

// scalarSize is the encoded size of a fixed-size value type, 0 for strings and arrays.
func (v ValueType) scalarSize() int {
	switch v {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// A KV is one metadata entry. Value holds the Go type of its GGUF type: uint8, int8, uint16,
// int16, uint32, int32, float32, bool, string, uint64, int64 or float64; an array is a slice
// of one of these ([]string, []float32, []int32, ...). Arrays of arrays, which llama.cpp
// does not read either, are refused.
type KV struct {
	Key   string
	Value any
}

// typeOfValue is the GGUF type of a Go value, and for a slice its element type.
func typeOfValue(v any) (t, elem ValueType, ok bool) {
	switch v.(type) {
	case uint8:
		return ValueUint8, 0, true
	case int8:
		return ValueInt8, 0, true
	case uint16:
		return ValueUint16, 0, true
	case int16:
		return ValueInt16, 0, true
	case uint32:
		return ValueUint32, 0, true
	case int32:
		return ValueInt32, 0, true
	case float32:
		return ValueFloat32, 0, true
	case bool:
		return ValueBool, 0, true
	case string:
		return ValueString, 0, true
	case uint64:
		return ValueUint64, 0, true
	case int64:
		return ValueInt64, 0, true
	case float64:
		return ValueFloat64, 0, true
	case []uint8:
		return ValueArray, ValueUint8, true
	case []int8:
		return ValueArray, ValueInt8, true
	case []uint16:
		return ValueArray, ValueUint16, true
	case []int16:
		return ValueArray, ValueInt16, true
	case []uint32:
		return ValueArray, ValueUint32, true
	case []int32:
		return ValueArray, ValueInt32, true
	case []float32:
		return ValueArray, ValueFloat32, true
	case []bool:
		return ValueArray, ValueBool, true
	case []string:
		return ValueArray, ValueString, true
	case []uint64:
		return ValueArray, ValueUint64, true
	case []int64:
		return ValueArray, ValueInt64, true
	case []float64:
		return ValueArray, ValueFloat64, true
	}
	return 0, 0, false
}

// decoder reads the little-endian fields of a GGUF header, bounds-checking every read.
// Errors name the field being read and where it starts.
type decoder struct {
	b   []byte
	off int
}

func (d *decoder) need(n uint64, field string) error {
	if n > uint64(len(d.b)-d.off) {
		return fmt.Errorf("%s at byte %d: needs %d bytes, %d left: file truncated?", field, d.off, n, len(d.b)-d.off)
	}
	return nil
}

func (d *decoder) u8(field string) (uint8, error) {
	if err := d.need(1, field); err != nil {
		return 0, err
	}
	d.off++
	return d.b[d.off-1], nil
}

func (d *decoder) u16(field string) (uint16, error) {
	if err := d.need(2, field); err != nil {
		return 0, err
	}
	v := uint16(d.b[d.off]) | uint16(d.b[d.off+1])<<8
	d.off += 2
	return v, nil
}

func (d *decoder) u32(field string) (uint32, error) {
	if err := d.need(4, field); err != nil {
		return 0, err
	}
	b := d.b[d.off:]
	d.off += 4
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, nil
}

func (d *decoder) u64(field string) (uint64, error) {
	if err := d.need(8, field); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

// count reads an element count and refuses one that could not fit in the rest of the file
// at minSize bytes per element: a hostile count must not become a huge allocation.
func (d *decoder) count(field string, minSize int) (int, error) {
	start := d.off
	n, err := d.u64(field)
	if err != nil {
		return 0, err
	}
	if left := uint64(len(d.b) - d.off); minSize > 0 && n > left/uint64(minSize) {
		return 0, fmt.Errorf("%s at byte %d: %d entries of at least %d bytes cannot fit in the %d bytes left", field, start, n, minSize, left)
	}
	return int(n), nil
}

func (d *decoder) str(field string) (string, error) {
	start := d.off
	n, err := d.u64(field + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(len(d.b)-d.off) {
		return "", fmt.Errorf("%s at byte %d: string of %d bytes runs past the end of the file (%d bytes left)", field, start, n, len(d.b)-d.off)
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s, nil
}

// value reads one metadata value of type t.
func (d *decoder) value(t ValueType, field string) (any, error) {
	switch t {
	case ValueUint8:
		return d.u8(field)
	case ValueInt8:
		v, err := d.u8(field)
		return int8(v), err
	case ValueUint16:
		return d.u16(field)
	case ValueInt16:
		v, err := d.u16(field)
		return int16(v), err
	case ValueUint32:
		return d.u32(field)
	case ValueInt32:
		v, err := d.u32(field)
		return int32(v), err
	case ValueFloat32:
		v, err := d.u32(field)
		return math.Float32frombits(v), err
	case ValueBool:
		start := d.off
		v, err := d.u8(field)
		if err == nil && v > 1 {
			return nil, fmt.Errorf("%s at byte %d: bool holds %d, want 0 or 1", field, start, v)
		}
		return v == 1, err
	case ValueString:
		return d.str(field)
	case ValueUint64:
		return d.u64(field)
	case ValueInt64:
		v, err := d.u64(field)
		return int64(v), err
	case ValueFloat64:
		v, err := d.u64(field)
		return math.Float64frombits(v), err
	case ValueArray:
		return d.array(field)
	}
	return nil, fmt.Errorf("%s at byte %d: unknown value type %d", field, d.off-4, uint32(t))
}

func (d *decoder) array(field string) (any, error) {
	start := d.off
	et, err := d.u32(field + " element type")
	if err != nil {
		return nil, err
	}
	elem := ValueType(et)
	size := elem.scalarSize()
	switch {
	case elem == ValueString:
		size = 8 // at least the length
	case elem == ValueArray:
		return nil, fmt.Errorf("%s at byte %d: arrays of arrays are not supported", field, start)
	case size == 0:
		return nil, fmt.Errorf("%s at byte %d: unknown array element type %d", field, start, et)
	}
	n, err := d.count(field+" count", size)
	if err != nil {
		return nil, err
	}
	switch elem {
	case ValueString:
		out := make([]string, n)
		for i := range out {
			if out[i], err = d.str(fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case ValueBool:
		out := make([]bool, n)
		for i := range out {
			v, err := d.value(ValueBool, fmt.Sprintf("%s[%d]", field, i))
			if err != nil {
				return nil, err
			}
			out[i] = v.(bool)
		}
		return out, nil
	}
	// Fixed-size numbers: the count was checked against the bytes left, so these cannot fail.
	raw := d.b[d.off : d.off+n*size]
	d.off += n * size
	le := func(i int) uint64 {
		var v uint64
		for j := size - 1; j >= 0; j-- {
			v = v<<8 | uint64(raw[i*size+j])
		}
		return v
	}
	switch elem {
	case ValueUint8:
		return append([]uint8(nil), raw...), nil
	case ValueInt8:
		return fill(n, func(i int) int8 { return int8(raw[i]) }), nil
	case ValueUint16:
		return fill(n, func(i int) uint16 { return uint16(le(i)) }), nil
	case ValueInt16:
		return fill(n, func(i int) int16 { return int16(le(i)) }), nil
	case ValueUint32:
		return fill(n, func(i int) uint32 { return uint32(le(i)) }), nil
	case ValueInt32:
		return fill(n, func(i int) int32 { return int32(le(i)) }), nil
	case ValueFloat32:
		return fill(n, func(i int) float32 { return math.Float32frombits(uint32(le(i))) }), nil
	case ValueUint64:
		return fill(n, func(i int) uint64 { return le(i) }), nil
	case ValueInt64:
		return fill(n, func(i int) int64 { return int64(le(i)) }), nil
	default: // ValueFloat64
		return fill(n, func(i int) float64 { return math.Float64frombits(le(i)) }), nil
	}
}

func fill[T any](n int, f func(i int) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}
