package main

import (
	"github.com/minitron-go/minitron/bench"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// quantFormat is the mix q stores each matrix in, as the quantization pipeline chooses it:
// bench fills random weights in exactly those formats, so that its bytes per token are the
// quantized model's.
//
// TODO(merge): the pipeline's mix lives in nemotron/quant.go; replace the body with
// `return q.Format` (func (q Quant) Format(p Param) tensor.DType), deleting stubMix, so that
// there is one table of formats.
func quantFormat(q nemotron.Quant) bench.Format {
	if q == nemotron.NoQuant {
		return nil
	}
	return func(p nemotron.Param) tensor.DType { return stubMix(q, p) }
}

// stubMix stands in for the pipeline's mix until it is merged: llama.cpp's Q8_0 (every
// matrix and the embedding in Q8_0) and a Q4_K_M-like mix (Q4_K, the head in Q6_K); a row
// that is not whole blocks falls back to Q8_0, then to BF16.
func stubMix(q nemotron.Quant, p nemotron.Param) tensor.DType {
	dt := tensor.Q8_0
	if q == nemotron.QuantQ4_K {
		dt = tensor.Q4_K
		if p.Role == nemotron.RoleHead {
			dt = tensor.Q6_K
		}
	}
	cols := p.Shape[len(p.Shape)-1]
	for _, d := range []tensor.DType{dt, tensor.Q8_0} {
		if cols%d.BlockSize() == 0 {
			return d
		}
	}
	return tensor.BF16
}
