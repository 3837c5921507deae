package main

import (
	"context"
	"fmt"
	"io"

	"github.com/minitron-go/minitron/checkpoint"
)

func init() {
	commands["convert"] = command{
		summary: "write a checkpoint (safetensors or pytorch_model.bin) as safetensors",
		run:     runConvert,
	}
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert", "convert -model SRC -o DIR [-shard-size BYTES]", stderr)
	model := fs.String("model", "", "source checkpoint `directory` or Hugging Face id in the local cache")
	out := fs.String("o", "", "new output `directory`")
	shard := fs.Int64("shard-size", checkpoint.DefaultShardSize, "largest shard in bytes")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *model == "" || *out == "" {
		return usagef("-model and -o are required")
	}
	if *shard <= 0 {
		return usagef("-shard-size must be positive")
	}
	dir, err := resolveModel(*model)
	if err != nil {
		return err
	}
	c, err := checkpoint.Open(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	n, total := 0, len(c.Names())
	err = checkpoint.Convert(c, *out, *shard, func(string) {
		if n++; n%32 == 0 || n == total {
			fmt.Fprintf(stderr, "\rconverting: %d/%d tensors", n, total)
		}
	})
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, *out)
	return nil
}
