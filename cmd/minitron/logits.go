package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/minitron-go/minitron/checkpoint/safetensors"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/tensor"
)

func init() {
	commands["logits"] = command{
		summary: "compute logits (and activations) for token ids, for parity checks",
		run:     runLogits,
	}
}

func runLogits(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("logits", "logits -model DIR -ids 2,380,1554 -o out.safetensors [-hidden]", stderr)
	var mf modelFlags
	mf.register(fs)
	idsFlag := fs.String("ids", "", "input token `ids`, comma-separated (include BOS yourself)")
	out := fs.String("o", "", "output safetensors `file`")
	hidden := fs.Bool("hidden", false, "also write embed, layer<L>.out and final_norm [T, hidden]")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-o is required")
	}
	ids, err := parseIDs(*idsFlag)
	if err != nil {
		return usagef("-ids: %v", err)
	}
	m, err := mf.load(stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	c := m.Config()
	s, err := m.Net().NewState(len(ids))
	if err != nil {
		return err
	}
	defer s.Close()

	// Activations arrive chunk by chunk; gather each into its [T, hidden] tensor.
	acts := map[string][]float32{}
	var order []string
	var obs nemotron.Observer
	if *hidden {
		obs = func(name string, pos0, n int, data []float32) {
			a, ok := acts[name]
			if !ok {
				a = make([]float32, len(ids)*c.Hidden)
				acts[name] = a
				order = append(order, name)
			}
			copy(a[pos0*c.Hidden:], data)
		}
	}
	logits, err := s.Forward(ctx, ids, nemotron.AllLogits, obs)
	if err != nil {
		return err
	}
	idBytes := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		idBytes = binary.LittleEndian.AppendUint64(idBytes, uint64(int64(id)))
	}
	tensors := []safetensors.Named{
		{Name: "ids", Host: tensor.Host{DType: tensor.I64, Shape: []int{len(ids)}, Data: idBytes}},
		{Name: "logits", Host: tensor.FromF32(logits, len(ids), c.VocabSize)},
	}
	for _, name := range order {
		tensors = append(tensors, safetensors.Named{Name: name, Host: tensor.FromF32(acts[name], len(ids), c.Hidden)})
	}
	meta := map[string]string{"model": mf.model, "backend": m.BackendName()}
	if err := safetensors.Write(*out, tensors, meta); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: logits [%d, %d]", *out, len(ids), c.VocabSize)
	if *hidden {
		fmt.Fprintf(stderr, " and %d activations [%d, %d]", len(order), len(ids), c.Hidden)
	}
	fmt.Fprintln(stderr)
	return nil
}
