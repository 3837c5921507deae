package main

import (
	"github.com/minitron-go/minitron/bench"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// quantFormat is the mix q stores each matrix of the model cfg in (nemotron.Quant.Format,
// the one table of formats): bench fills random weights in exactly those formats, so that its
// bytes per token are the quantized model's. A tensor the mix leaves float is BF16.
func quantFormat(cfg nemotron.Config, q nemotron.Quant) bench.Format {
	if q == nemotron.NoQuant {
		return nil
	}
	return func(p nemotron.Param) tensor.DType {
		if dt, ok := q.Format(cfg, p); ok {
			return dt
		}
		return tensor.BF16
	}
}
