package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/minitron-go/minitron/checkpoint"
	"github.com/minitron-go/minitron/nemotron"
	"github.com/minitron-go/minitron/sentencepiece"
	"github.com/minitron-go/minitron/tensor"
)

func init() {
	commands["convert"] = command{
		summary: "write a checkpoint (safetensors or pytorch_model.bin) as safetensors, or as a GGUF file for llama.cpp, quantized with -quant",
		run:     runConvert,
	}
}

// ggufQuants are the values of -quant, lower case as llama-quantize accepts them, with its
// aliases q4_k and q5_k for the _M mixes. q8_0 and q4_k (q4_k_m) are the mixes -quant makes as
// a model loads (nemotron.Quant.Format decides both), so a file converted with one of them
// holds the tensors quantizing at load would make, and loads without quantizing again.
var ggufQuants = map[string]string{
	"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0", "q6_k": "Q6_K",
	"q5_k_m": "Q5_K_M", "q5_k": "Q5_K_M", "q4_k_m": "Q4_K_M", "q4_k": "Q4_K_M",
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert", "convert -model SRC -o DIR [-shard-size BYTES] | convert -model SRC [-format gguf] [-quant TYPE] -o FILE.gguf\n\n"+
		"A quantized checkpoint (-quant q8_0, q4_k, ...) is a GGUF file: safetensors has no block\n"+
		"dtypes, and GGUF is what llama.cpp and Ollama read. -quant q8_0 and q4_k write the mixes\n"+
		"that -quant quantizes to as a model loads, so the file loads without quantizing again.", stderr)
	model := fs.String("model", "", "source checkpoint `directory` or Hugging Face id in the local cache")
	out := fs.String("o", "", "new output `directory` (safetensors) or file (gguf)")
	shard := fs.Int64("shard-size", checkpoint.DefaultShardSize, "largest shard in bytes (safetensors)")
	format := fs.String("format", "safetensors", "output format: safetensors or gguf")
	quant := fs.String("quant", "", "GGUF tensor `type`: f32, f16, bf16, q8_0, q6_k, q5_k_m (q5_k), q4_k_m (q4_k); default the checkpoint's float type. Implies -format gguf")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *model == "" || *out == "" {
		return usagef("-model and -o are required")
	}
	formatSet := false
	fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
	if *quant != "" && !formatSet {
		*format = "gguf"
	}
	var ftype string
	switch *format {
	case "safetensors":
		if *quant != "" {
			return usagef("-quant makes a GGUF file (safetensors has no block dtypes): drop -format safetensors, or use -format gguf")
		}
		if *shard <= 0 {
			return usagef("-shard-size must be positive")
		}
	case "gguf":
		if *quant != "" {
			var ok bool
			if q, err := nemotron.ParseQuant(*quant); err == nil && q != nemotron.NoQuant {
				ftype, _ = nemotron.GGUFFileType(q) // the load-time mix, by the same function
			} else if ftype, ok = ggufQuants[strings.ToLower(*quant)]; !ok {
				var names []string
				for q := range ggufQuants {
					names = append(names, q)
				}
				sort.Strings(names)
				return usagef("-quant %q: want one of %s", *quant, strings.Join(names, ", "))
			}
		}
	default:
		return usagef("-format %q: want safetensors or gguf", *format)
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
	if *format == "gguf" {
		if err := convertGGUF(c, dir, ftype, *out, stderr); err != nil {
			return err
		}
		fmt.Fprintln(stdout, *out)
		return nil
	}
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

// convertGGUF writes the checkpoint in dir as a GGUF file of llama.cpp's nemotron
// architecture, its tokenizer.model as tokenizer.ggml.* metadata. ftype "" keeps the
// checkpoint's float type (that of its embedding).
func convertGGUF(c *checkpoint.Checkpoint, dir, ftype, out string, stderr io.Writer) error {
	cfg, err := nemotron.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	tok, err := sentencepiece.LoadDir(dir)
	if err != nil {
		return err
	}
	if ftype == "" {
		ftype = "F32"
		if emb, _, ok := c.Tensor("model.embed_tokens.weight"); ok {
			switch emb.DType {
			case tensor.BF16:
				ftype = "BF16"
			case tensor.F16:
				ftype = "F16"
			}
		}
	}
	kvs, err := tok.GGUFMetadata(cfg.VocabSize)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if cfg.Heads*cfg.HeadDim != cfg.Hidden {
		// llama.cpp's nemotron graph (c392e50) shapes attn_q as [hidden, hidden].
		fmt.Fprintf(stderr, "warning: %s has %d heads of %d dimensions for a hidden size of %d: minitron runs the GGUF file, but llama.cpp's nemotron architecture wants heads × head_dim = hidden and refuses it\n", dir, cfg.Heads, cfg.HeadDim, cfg.Hidden)
	}
	fmt.Fprintf(stderr, "converting %s to GGUF %s...\n", dir, ftype)
	return nemotron.WriteGGUF(out, cfg, c, ftype, kvs)
}
