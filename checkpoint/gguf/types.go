package gguf

import (
	"fmt"

	"github.com/minitron-go/minitron/tensor"
)

// Type is a ggml tensor type, as numbered in ggml.h's enum ggml_type. Numbers that ggml has
// retired (4, 5, 31–33, 36–38) are unknown here, as they are to llama.cpp.
type Type uint32

// The ggml tensor types. Only some have a tensor.DType (see Type.DType); the rest can still be
// listed, sized and copied.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39
)

// typeInfo is a type's name and block layout: blockSize elements take typeSize bytes
// (ggml's blck_size and type_size, from the block structs of ggml-common.h).
type typeInfo struct {
	name      string
	blockSize int
	typeSize  int
	dtype     tensor.DType
	hasDType  bool
}

var types = map[Type]typeInfo{
	TypeF32:     {"F32", 1, 4, tensor.F32, true},
	TypeF16:     {"F16", 1, 2, tensor.F16, true},
	TypeQ4_0:    {"Q4_0", 32, 18, 0, false},
	TypeQ4_1:    {"Q4_1", 32, 20, 0, false},
	TypeQ5_0:    {"Q5_0", 32, 22, 0, false},
	TypeQ5_1:    {"Q5_1", 32, 24, 0, false},
	TypeQ8_0:    {"Q8_0", 32, 34, tensor.Q8_0, true},
	TypeQ8_1:    {"Q8_1", 32, 36, 0, false},
	TypeQ2_K:    {"Q2_K", 256, 84, 0, false},
	TypeQ3_K:    {"Q3_K", 256, 110, 0, false},
	TypeQ4_K:    {"Q4_K", 256, 144, tensor.Q4_K, true},
	TypeQ5_K:    {"Q5_K", 256, 176, tensor.Q5_K, true},
	TypeQ6_K:    {"Q6_K", 256, 210, tensor.Q6_K, true},
	TypeQ8_K:    {"Q8_K", 256, 292, 0, false},
	TypeIQ2_XXS: {"IQ2_XXS", 256, 66, 0, false},
	TypeIQ2_XS:  {"IQ2_XS", 256, 74, 0, false},
	TypeIQ3_XXS: {"IQ3_XXS", 256, 98, 0, false},
	TypeIQ1_S:   {"IQ1_S", 256, 50, 0, false},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18, 0, false},
	TypeIQ3_S:   {"IQ3_S", 256, 110, 0, false},
	TypeIQ2_S:   {"IQ2_S", 256, 82, 0, false},
	TypeIQ4_XS:  {"IQ4_XS", 256, 136, 0, false},
	TypeI8:      {"I8", 1, 1, tensor.I8, true},
	TypeI16:     {"I16", 1, 2, tensor.I16, true},
	TypeI32:     {"I32", 1, 4, tensor.I32, true},
	TypeI64:     {"I64", 1, 8, tensor.I64, true},
	TypeF64:     {"F64", 1, 8, tensor.F64, true},
	TypeIQ1_M:   {"IQ1_M", 256, 56, 0, false},
	TypeBF16:    {"BF16", 1, 2, tensor.BF16, true},
	TypeTQ1_0:   {"TQ1_0", 256, 54, 0, false},
	TypeTQ2_0:   {"TQ2_0", 256, 66, 0, false},
	TypeMXFP4:   {"MXFP4", 32, 17, 0, false},
}

// Known reports whether ggml defines the type.
func (t Type) Known() bool { _, ok := types[t]; return ok }

// String is ggml's name of the type ("Q4_K").
func (t Type) String() string {
	if ti, ok := types[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// BlockSize is the number of elements in one block (1 for the plain types).
func (t Type) BlockSize() int { return types[t].blockSize }

// TypeSize is the number of bytes of one block.
func (t Type) TypeSize() int { return types[t].typeSize }

// DType is the tensor dtype of the type, if the engine has one.
func (t Type) DType() (tensor.DType, bool) {
	ti := types[t]
	return ti.dtype, ti.hasDType
}

// TypeOf is the GGUF type of a tensor dtype.
func TypeOf(d tensor.DType) (Type, bool) {
	for t, ti := range types {
		if ti.hasDType && ti.dtype == d {
			return t, true
		}
	}
	return 0, false
}

// ParseType maps ggml's name of a type to the type.
func ParseType(s string) (Type, bool) {
	for t, ti := range types {
		if ti.name == s {
			return t, true
		}
	}
	return 0, false
}
