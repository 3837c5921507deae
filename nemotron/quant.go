package nemotron

import "strings"

// Quant names a quantization mix: the block format each matrix is stored in when a model is
// quantized as it loads (LoadOptions.Quant) or converted.
type Quant string

const (
	NoQuant   Quant = ""     // weights as the checkpoint stores them
	QuantQ8_0 Quant = "q8_0" // 8-bit blocks of 32
	QuantQ4_K Quant = "q4_k" // 4-bit super-blocks of 256, some tensors at higher precision
)

// Quants lists the mixes ParseQuant accepts.
var Quants = []Quant{QuantQ8_0, QuantQ4_K}

// ParseQuant accepts "q8_0", "q4_k" and "" or "none" (no quantization).
func ParseQuant(s string) (Quant, error) {
	switch q := Quant(strings.ToLower(s)); q {
	case NoQuant, "none":
		return NoQuant, nil
	case QuantQ8_0, QuantQ4_K:
		return q, nil
	}
	return NoQuant, BadOption("unknown quantization %q (want q8_0, q4_k or none)", s)
}
