package nemotron

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/minitron-go/minitron/tensor"
)

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

// Format is the block format mix q stores p in, for a model of config c; ok is false for a
// tensor the mix leaves as the checkpoint stores it. The one place the mixes are written:
// loading with LoadOptions.Quant and `minitron convert -quant` both ask it, so a converted
// file holds what quantizing at load would make.
//
//   - q8_0: every matrix and the embedding in Q8_0, as llama-quantize's Q8_0.
//   - q4_k: llama-quantize's Q4_K_M (llama_tensor_get_type, 34af94c, no importance matrix):
//     the embedding in Q4_K; the head (lm_head, or the embedding when the head is tied to
//     it) in Q6_K; attention V and MLP down in Q6_K on layers i < n/8, i ≥ 7n/8 and every
//     third between ((i − n/8) mod 3 = 2); every other matrix in Q4_K.
//
// Norm weights and biases stay float in both. A matrix whose rows are not a multiple of its
// format's block falls back: Q4_K or Q6_K to Q8_0 when the rows are a multiple of 32 (where
// llama-quantize would pick Q5_0 or Q5_1, which this engine lacks), and otherwise it stays
// float, as stored (llama-quantize writes F16).
func (q Quant) Format(c Config, p Param) (dt tensor.DType, ok bool) {
	switch q {
	case QuantQ8_0:
		return blockFormat(c, p, tensor.Q8_0, false)
	case QuantQ4_K:
		return blockFormat(c, p, tensor.Q4_K, true)
	}
	return 0, false
}

// blockFormat is llama-quantize's choice for p in a file whose matrices are base, mixed for
// the _M file types (Q4_K_M, Q5_K_M): see Quant.Format.
func blockFormat(c Config, p Param, base tensor.DType, mixed bool) (tensor.DType, bool) {
	if p.Role == RoleNorm {
		return 0, false
	}
	moreBits := func(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }
	t := base
	switch {
	case p.Role == RoleHead || (p.Role == RoleEmbedding && c.TieEmbeddings):
		if t != tensor.Q8_0 {
			t = tensor.Q6_K
		}
	case mixed && (p.Role == RoleValue || p.Role == RoleDown) && moreBits(p.Layer, c.Layers):
		t = tensor.Q6_K
	}
	rows := p.Shape[len(p.Shape)-1]
	if rows%t.BlockSize() != 0 {
		t = tensor.Q8_0
	}
	if rows%t.BlockSize() != 0 {
		return 0, false
	}
	return t, true
}

// quantizeFor returns the tensor t of p (from where) as mix q stores it: quantized when the
// mix gives p a block format, t itself otherwise. A tensor already in a block format is kept
// when that is the mix's, and refused when it is another: quantizing quantized weights again
// would add a second rounding to the first, so a quantized file loads as it is (NoQuant) or
// is quantized from its float checkpoint. done is told the bytes of t quantized so far.
func quantizeFor(c Config, q Quant, p Param, t tensor.Host, where string, done func(bytes int64)) (tensor.Host, bool, error) {
	dt, ok := q.Format(c, p)
	switch {
	case !ok || t.DType == dt:
		return t, false, nil
	case t.DType.Quantized():
		return tensor.Host{}, false, BadOption("%s: tensor %s is already %s, and quantization %s would make it %s: load the file without quantization, or quantize from the float checkpoint", where, p.Name, t.DType, q, dt)
	}
	out, err := quantize(t, dt, done)
	if err != nil {
		return tensor.Host{}, false, fmt.Errorf("%s: tensor %s: %w", where, p.Name, err)
	}
	return out, true, nil
}

// QuantizeTensor returns the tensor t of p as loading with LoadOptions.Quant q stores it:
// quantized to the format Quant.Format gives p, t itself when the mix leaves p as stored (or
// t is already in the mix's format); a tensor in another block format is an ErrBadOption.
func QuantizeTensor(c Config, q Quant, p Param, t tensor.Host) (tensor.Host, error) {
	out, _, err := quantizeFor(c, q, p, t, p.Name, nil)
	return out, err
}

// quantize returns the float tensor t in block dtype dt, the bytes t.Quantize(dt) gives
// (blocks are independent), made by runtime.NumCPU() goroutines over chunks of rows without
// widening the whole tensor to float32 first. done, when set, is told the bytes of t
// converted, from one goroutine at a time.
func quantize(t tensor.Host, dt tensor.DType, done func(bytes int64)) (tensor.Host, error) {
	if !t.DType.IsFloat() {
		return tensor.Host{}, fmt.Errorf("cannot quantize a %s tensor to %s", t.DType, dt)
	}
	if len(t.Shape) == 0 || t.Shape[len(t.Shape)-1]%dt.BlockSize() != 0 {
		return tensor.Host{}, fmt.Errorf("%s needs rows of a multiple of %d elements, shape is %s", dt, dt.BlockSize(), tensor.ShapeString(t.Shape))
	}
	cols := t.Shape[len(t.Shape)-1]
	rows := t.Len() / cols
	out := tensor.Host{DType: dt, Shape: append([]int(nil), t.Shape...), Data: make([]byte, dt.Bytes(t.Len()))}
	if rows == 0 {
		return out, nil
	}
	src, dst := t.DType.Size()*cols, dt.Bytes(cols) // bytes a row
	chunk := max(1, min(rows/(8*runtime.NumCPU()), (1<<20)/(4*cols)))
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), (rows+chunk-1)/chunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, chunk*cols)
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= rows {
					return
				}
				hi := min(lo+chunk, rows)
				f := buf[:(hi-lo)*cols]
				in := tensor.Host{DType: t.DType, Shape: []int{len(f)}, Data: t.Data[lo*src : hi*src]}
				switch t.DType {
				case tensor.F32:
					copy(f, in.F32())
				case tensor.BF16:
					tensor.BF16ToF32(f, in.U16())
				case tensor.F16:
					tensor.F16ToF32(f, in.U16())
				}
				tensor.Quantize(out.Data[lo*dst:hi*dst], dt, f)
				if done != nil {
					mu.Lock()
					done(int64((hi - lo) * src))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// PageReleaser is an optional interface of a Source whose tensors are views of memory-mapped
// files (checkpoint.Checkpoint, GGUFSource): ReleasePages lets the kernel drop the named
// tensor's pages from the process's memory once it has been copied into another form, so
// that after a model is quantized as it loads the process holds only the quantized bytes.
// The tensor stays readable (from the file); tensors on the heap are left alone.
type PageReleaser interface {
	ReleasePages(name string) error
}
