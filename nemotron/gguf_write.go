package nemotron

import (
	"fmt"
	"slices"

	"github.com/minitron-go/minitron/checkpoint/gguf"
	"github.com/minitron-go/minitron/tensor"
)

// Writing the nemotron architecture as llama.cpp reads it: the metadata convert_hf_to_gguf.py
// writes, the norm weights with LayerNorm1P's +1 folded in, and the matrices in the formats
// llama-quantize would choose for a file type.

// GGUFFileTypes are the file types WriteGGUF can make, with llama.cpp's numbers for them
// (enum llama_ftype, stored as general.file_type).
var GGUFFileTypes = map[string]uint32{
	"F32": 0, "F16": 1, "Q8_0": 7, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "BF16": 32,
}

// GGUFMix is the format each matrix of c gets in file type ftype, as llama-quantize 34af94c
// chooses without an importance matrix (llama_tensor_get_type): the head (or the tied
// embedding) in Q6_K unless the file is Q8_0; for Q4_K_M and Q5_K_M, attn_v and ffn_down of
// the first eighth, the last eighth and every third layer between in Q6_K. Norms stay F32.
//
// A matrix whose rows are not a multiple of 256 cannot be a K-quant: it falls back to Q8_0.
// llama-quantize does the same for Q6_K and the head, but picks Q5_0 (for Q4_K) or Q5_1 (for
// Q5_K), which this engine does not have.
func GGUFMix(c Config, ftype string) (func(Param) tensor.DType, error) {
	base := map[string]tensor.DType{"F32": tensor.F32, "F16": tensor.F16, "BF16": tensor.BF16,
		"Q8_0": tensor.Q8_0, "Q6_K": tensor.Q6_K, "Q5_K_M": tensor.Q5_K, "Q4_K_M": tensor.Q4_K}
	dt, ok := base[ftype]
	if !ok {
		return nil, fmt.Errorf("GGUF file type %q: want one of F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M", ftype)
	}
	mixed := ftype == "Q4_K_M" || ftype == "Q5_K_M"
	moreBits := func(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }
	return func(p Param) tensor.DType {
		if p.Role == RoleNorm {
			return tensor.F32
		}
		if !dt.Quantized() {
			return dt
		}
		t := dt
		switch {
		case p.Role == RoleHead || (p.Role == RoleEmbedding && c.TieEmbeddings):
			if t != tensor.Q8_0 {
				t = tensor.Q6_K
			}
		case mixed && p.Role == RoleValue && moreBits(p.Layer, c.Layers):
			t = tensor.Q6_K
		case mixed && p.Role == RoleDown && moreBits(p.Layer, c.Layers):
			t = tensor.Q6_K
		}
		if p.Shape[len(p.Shape)-1]%t.BlockSize() != 0 {
			t = tensor.Q8_0
		}
		if p.Shape[len(p.Shape)-1]%t.BlockSize() != 0 {
			t = tensor.F16 // as llama-quantize, for rows not a multiple of 32
		}
		return t
	}, nil
}

// GGUFMetadata is the nemotron metadata of c, in the order and the types
// convert_hf_to_gguf.py writes it (both epsilon keys included, as it writes both). The
// tokenizer's keys (tokenizer.ggml.*) are the caller's to add.
func GGUFMetadata(c Config, ftype string) ([]gguf.KV, error) {
	ft, ok := GGUFFileTypes[ftype]
	if !ok {
		return nil, fmt.Errorf("GGUF file type %q is not one WriteGGUF makes", ftype)
	}
	k := func(s string) string { return ggufArch + "." + s }
	u := func(n int) uint32 { return uint32(n) }
	return []gguf.KV{
		{Key: "general.architecture", Value: ggufArch},
		{Key: "general.type", Value: "model"},
		{Key: k("block_count"), Value: u(c.Layers)},
		{Key: k("context_length"), Value: u(c.MaxPositions)},
		{Key: k("embedding_length"), Value: u(c.Hidden)},
		{Key: k("feed_forward_length"), Value: u(c.Intermediate)},
		{Key: k("attention.head_count"), Value: u(c.Heads)},
		{Key: k("attention.head_count_kv"), Value: u(c.KVHeads)},
		{Key: k("rope.freq_base"), Value: float32(c.RopeTheta)},
		{Key: k("attention.layer_norm_rms_epsilon"), Value: float32(c.NormEps)},
		{Key: k("attention.key_length"), Value: u(c.HeadDim)},
		{Key: k("attention.value_length"), Value: u(c.HeadDim)},
		{Key: "general.file_type", Value: ft},
		{Key: k("vocab_size"), Value: u(c.VocabSize)},
		{Key: k("attention.layer_norm_epsilon"), Value: float32(c.NormEps)},
		// llama.cpp turns the first n_rot dimensions of each head: the rotary dimensions as
		// transformers computes them (the converter writes int(partial·hidden)/heads, the
		// same number when head_dim = hidden/heads).
		{Key: k("rope.dimension_count"), Value: u(c.RotaryDims())},
		{Key: k("rope.scaling.type"), Value: "none"},
		{Key: "general.quantization_version", Value: uint32(2)},
	}, nil
}

// GGUFTensors converts every tensor of src (under Hugging Face names) to what a GGUF file of
// c holds: llama.cpp's names, 1 + w for the norm weights (in float32), each matrix in the
// format chosen by format (F32/F16/BF16 converted, block formats quantized from the float32
// values). The tensors come in the order of the forward pass.
func GGUFTensors(c Config, src Source, format func(Param) tensor.DType) ([]gguf.Tensor, error) {
	var out []gguf.Tensor
	for _, p := range c.Params() {
		t, where, ok := src.Tensor(p.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %s is missing from the checkpoint", p.Name)
		}
		if !slices.Equal(t.Shape, p.Shape) || !t.DType.IsFloat() {
			return nil, fmt.Errorf("%s: tensor %s is %s%s, want a float type of shape %s", where, p.Name, t.DType, tensor.ShapeString(t.Shape), tensor.ShapeString(p.Shape))
		}
		dt := format(p)
		if foldsOne(p) {
			w := t.ToF32()
			for i := range w {
				w[i] += 1
			}
			t, dt = tensor.FromF32(w, t.Shape...), tensor.F32
		}
		data, err := convertTo(t, dt)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", where, p.Name, err)
		}
		typ, ok := gguf.TypeOf(dt)
		if !ok {
			return nil, fmt.Errorf("tensor %s: %s has no GGUF type", p.Name, dt)
		}
		out = append(out, gguf.Tensor{Name: GGUFName(p), Type: typ, Shape: p.Shape, Data: data})
	}
	return out, nil
}

// convertTo returns the bytes of t in dtype dt.
func convertTo(t tensor.Host, dt tensor.DType) ([]byte, error) {
	switch {
	case t.DType == dt:
		return t.Data, nil
	case dt.Quantized():
		q, err := t.Quantize(dt)
		return q.Data, err
	case dt == tensor.F32:
		return tensor.FromF32(t.ToF32(), t.Shape...).Data, nil
	case dt == tensor.BF16 || dt == tensor.F16:
		f := t.ToF32()
		out := tensor.Zeros(dt, t.Shape...)
		u := out.U16()
		for i, v := range f {
			if dt == tensor.BF16 {
				u[i] = tensor.Float32ToBF16(v)
			} else {
				u[i] = tensor.Float32ToF16(v)
			}
		}
		return out.Data, nil
	}
	return nil, fmt.Errorf("cannot convert %s to %s", t.DType, dt)
}

// WriteGGUF writes the model of c from src as a GGUF file of file type ftype (see
// GGUFFileTypes) that llama.cpp loads as architecture nemotron, with extra metadata (the
// tokenizer's) after the model's. The file appears whole or not at all.
func WriteGGUF(path string, c Config, src Source, ftype string, extra []gguf.KV) error {
	format, err := GGUFMix(c, ftype)
	if err != nil {
		return err
	}
	kvs, err := GGUFMetadata(c, ftype)
	if err != nil {
		return err
	}
	tensors, err := GGUFTensors(c, src, format)
	if err != nil {
		return err
	}
	return gguf.Write(path, append(kvs, extra...), tensors)
}
