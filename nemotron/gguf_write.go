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

// GGUFMix is the format each tensor of c gets in file type ftype, as llama-quantize 34af94c
// chooses without an importance matrix (llama_tensor_get_type); ok false keeps a tensor as
// the checkpoint stores it. Q8_0 and Q4_K_M are the mixes QuantQ8_0 and QuantQ4_K (see
// Quant.Format, which states the rules and where they leave llama-quantize's); Q6_K and
// Q5_K_M follow the same rules with Q6_K and Q5_K matrices. Norms are F32 in every file type.
func GGUFMix(c Config, ftype string) (func(Param) (dt tensor.DType, ok bool), error) {
	float := map[string]tensor.DType{"F32": tensor.F32, "F16": tensor.F16, "BF16": tensor.BF16}
	norm := func(f func(Param) (tensor.DType, bool)) func(Param) (tensor.DType, bool) {
		return func(p Param) (tensor.DType, bool) {
			if p.Role == RoleNorm {
				return tensor.F32, true
			}
			return f(p)
		}
	}
	if dt, ok := float[ftype]; ok {
		return norm(func(Param) (tensor.DType, bool) { return dt, true }), nil
	}
	switch ftype {
	case "Q8_0":
		return norm(func(p Param) (tensor.DType, bool) { return QuantQ8_0.Format(c, p) }), nil
	case "Q4_K_M":
		return norm(func(p Param) (tensor.DType, bool) { return QuantQ4_K.Format(c, p) }), nil
	case "Q6_K":
		return norm(func(p Param) (tensor.DType, bool) { return blockFormat(c, p, tensor.Q6_K, false) }), nil
	case "Q5_K_M":
		return norm(func(p Param) (tensor.DType, bool) { return blockFormat(c, p, tensor.Q5_K, true) }), nil
	}
	return nil, fmt.Errorf("GGUF file type %q: want one of F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M", ftype)
}

// GGUFFileType is the GGUF file type whose mix is q's: "Q8_0" for QuantQ8_0, "Q4_K_M" for
// QuantQ4_K.
func GGUFFileType(q Quant) (string, error) {
	switch q {
	case QuantQ8_0:
		return "Q8_0", nil
	case QuantQ4_K:
		return "Q4_K_M", nil
	}
	return "", BadOption("quantization %q has no GGUF file type", q)
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
// values, as loading with LoadOptions.Quant quantizes them; ok false keeps the stored
// dtype). The tensors come in the order of the forward pass. The pages of a memory-mapped
// source tensor that was copied are released as it goes (PageReleaser).
func GGUFTensors(c Config, src Source, format func(Param) (tensor.DType, bool)) ([]gguf.Tensor, error) {
	var out []gguf.Tensor
	for _, p := range c.Params() {
		t, where, ok := src.Tensor(p.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %s is missing from the checkpoint", p.Name)
		}
		if !slices.Equal(t.Shape, p.Shape) || !t.DType.IsFloat() {
			return nil, fmt.Errorf("%s: tensor %s is %s%s, want a float type of shape %s", where, p.Name, t.DType, tensor.ShapeString(t.Shape), tensor.ShapeString(p.Shape))
		}
		dt, ok := format(p)
		if !ok {
			dt = t.DType
		}
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
		if r, ok := src.(PageReleaser); ok && dt != t.DType && dt.Quantized() {
			if err := r.ReleasePages(p.Name); err != nil {
				return nil, fmt.Errorf("%s: tensor %s: releasing its pages: %w", where, p.Name, err)
			}
		}
	}
	return out, nil
}

// convertTo returns the bytes of t in dtype dt.
func convertTo(t tensor.Host, dt tensor.DType) ([]byte, error) {
	switch {
	case t.DType == dt:
		return t.Data, nil
	case dt.Quantized():
		q, err := quantize(t, dt, nil)
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
