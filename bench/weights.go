// Package bench measures the engine on random weights of a real model's shape: prefill and
// decode speed, the rate at which decoding streams weights beside the machine's own memory
// bandwidth, and peak memory. `minitron bench` prints what it measures.
package bench

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/minitron-go/minitron/internal/mmap"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

// Weights are random bf16 weights for a config, in one mapping outside the Go heap. They
// satisfy nemotron.Source.
type Weights struct {
	mem     *mmap.File
	tensors map[string]tensor.Host
	names   []string
}

// blockElems is the unit of random generation: each block has its own seeded stream, so the
// weights are the same whatever the number of threads that fill them.
const blockElems = 1 << 20

// RandomWeights fills a model of cfg's shape with random values of about ±0.02 (the scale of
// trained weights; LayerNorm1P keeps activations in range), using threads goroutines.
// LayerNorm weights and biases are zero: a plain LayerNorm.
func RandomWeights(cfg nemotron.Config, seed uint64, threads int) (*Weights, error) {
	return RandomWeightsIn(cfg, seed, threads, nil)
}

// A Format says which dtype a tensor is stored in: a quantization mix (nemotron.Quant's). It
// is asked about the matrices and the embedding table; the norms stay BF16.
type Format func(nemotron.Param) tensor.DType

// RandomWeightsIn is RandomWeights with each matrix and the embedding in the dtype format
// gives it (nil: BF16 throughout), the blocks of a block format made random directly (see
// fillBlocks): quantizing 4.2 billion random weights with Q4_K's search would take minutes,
// and a benchmark only needs weights of the right size and scale. BF16 tensors are those of
// RandomWeights, bit for bit, whatever the format of the others.
func RandomWeightsIn(cfg nemotron.Config, seed uint64, threads int, format Format) (*Weights, error) {
	params := cfg.Params()
	dtypes := make([]tensor.DType, len(params))
	offsets := make([]int, len(params))
	size := 0
	for i, p := range params {
		dtypes[i] = tensor.BF16
		if format != nil && len(p.Shape) == 2 {
			dtypes[i] = format(p)
		}
		if dt := dtypes[i]; dt.Quantized() && p.Shape[len(p.Shape)-1]%dt.BlockSize() != 0 {
			return nil, fmt.Errorf("%s: rows of %d are not a whole number of %s blocks of %d", p.Name, p.Shape[len(p.Shape)-1], dt, dt.BlockSize())
		}
		offsets[i] = size
		size += (dtypes[i].Bytes(tensor.NumElements(p.Shape)) + 63) &^ 63 // 64-byte aligned starts
	}
	mem, err := mmap.Anonymous(size)
	if err != nil {
		return nil, fmt.Errorf("random weights of %d bytes: %w", size, err)
	}
	w := &Weights{mem: mem, tensors: make(map[string]tensor.Host, len(params))}
	buf := mem.Bytes()
	type matrix struct {
		data []byte
		dt   tensor.DType
	}
	var matrices []matrix
	for i, p := range params {
		n := dtypes[i].Bytes(tensor.NumElements(p.Shape))
		data := buf[offsets[i] : offsets[i]+n : offsets[i]+n]
		w.tensors[p.Name] = tensor.Host{DType: dtypes[i], Shape: p.Shape, Data: data}
		w.names = append(w.names, p.Name)
		if len(p.Shape) == 2 {
			matrices = append(matrices, matrix{data, dtypes[i]})
		}
	}

	// Fill blocks of every matrix on threads goroutines; a job is blockElems weights.
	type job struct {
		data  []byte
		dt    tensor.DType
		block int
	}
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	for range max(threads, 1) {
		wg.Go(func() {
			for j := range jobs {
				if j.dt == tensor.BF16 {
					fill(j.data, seed, uint64(j.block))
				} else {
					fillBlocks(j.data, j.dt, seed, uint64(j.block))
				}
			}
		})
	}
	block := 0
	for _, m := range matrices {
		step := m.dt.Bytes(blockElems)
		for off := 0; off < len(m.data); off += step {
			jobs <- job{m.data[off:min(off+step, len(m.data))], m.dt, block}
			block++
		}
	}
	close(jobs)
	wg.Wait()
	return w, nil
}

// fill writes random bf16 values of magnitude in [2⁻⁷, 2⁻⁵) — about ±0.01 to ±0.03, the
// scale of trained weights — with random signs, from the stream (seed, block). Each 64-bit
// draw makes four values directly as bits: filling 8 GB must take seconds, not minutes.
func fill(data []byte, seed, block uint64) {
	rng := rand.NewPCG(seed, block)
	for i := 0; i+1 < len(data); {
		u := rng.Uint64()
		for range 4 {
			if i+1 >= len(data) {
				break
			}
			r := uint16(u)
			b := r&0x8000 | (120+(r>>7)&1)<<7 | r&0x7f
			data[i], data[i+1] = byte(b), byte(b>>8)
			u >>= 16
			i += 2
		}
	}
}

// Names lists the tensors.
func (w *Weights) Names() []string { return w.names }

// Tensor returns a tensor by its Hugging Face name.
func (w *Weights) Tensor(name string) (tensor.Host, string, bool) {
	t, ok := w.tensors[name]
	return t, "random weights", ok
}

// Bytes is the memory holding every weight.
func (w *Weights) Bytes() []byte { return w.mem.Bytes() }

// ReleasePages discards the named tensor's memory once the model holds a copy of it
// (nemotron.PageReleaser): it reads as zeros afterwards, so that a backend that packs or
// uploads the weights does not leave the process holding them twice.
func (w *Weights) ReleasePages(name string) error {
	t, ok := w.tensors[name]
	if !ok {
		return nil
	}
	return w.mem.Discard(t.Data)
}

// Close releases the weights.
func (w *Weights) Close() error { return w.mem.Close() }
