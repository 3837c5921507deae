package checkpoint

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minitron-go/minitron/checkpoint/safetensors"
)

// DefaultShardSize is the largest shard Convert writes unless told otherwise: transformers'
// save_pretrained default (5 GB).
const DefaultShardSize = 5_000_000_000

// companions are the files besides the weights that a model directory needs.
var companions = []string{
	"config.json", "generation_config.json", "tokenizer.model", "tokenizer.json",
	"tokenizer_config.json", "special_tokens_map.json",
}

// Convert writes the checkpoint as safetensors into a new directory out, sharded as
// transformers does (model-0000i-of-0000n.safetensors and model.safetensors.index.json when
// more than one shard, model.safetensors otherwise), with the companion files of its
// directory. The directory appears whole or not at all: it is built beside out under a
// temporary name and renamed into place. progress, if not nil, hears of each tensor written.
func Convert(c *Checkpoint, out string, maxShard int64, progress func(name string)) (err error) {
	if maxShard <= 0 {
		maxShard = DefaultShardSize
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s already exists; choose a new directory", out)
	}
	parent := filepath.Dir(out)
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	// Group tensors into shards in name order, a new shard when the next would overflow.
	var shards [][]safetensors.Named
	var size int64
	for _, name := range c.Names() {
		t, _, _ := c.Tensor(name)
		n := int64(len(t.Data))
		if len(shards) == 0 || (size+n > maxShard && size > 0) {
			shards = append(shards, nil)
			size = 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], safetensors.Named{Name: name, Host: t})
		size += n
	}
	meta := map[string]string{"format": "pt"}
	weightMap := map[string]string{}
	var total int64
	for i, shard := range shards {
		file := "model.safetensors"
		if len(shards) > 1 {
			file = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		}
		for _, t := range shard {
			weightMap[t.Name] = file
			total += int64(len(t.Data))
			if progress != nil {
				progress(t.Name)
			}
		}
		if err := safetensors.Write(filepath.Join(tmp, file), shard, meta); err != nil {
			return err
		}
	}
	if len(shards) > 1 {
		index, _ := json.MarshalIndent(map[string]any{
			"metadata":   map[string]int64{"total_size": total},
			"weight_map": weightMap,
		}, "", "  ")
		if err := os.WriteFile(filepath.Join(tmp, "model.safetensors.index.json"), append(index, '\n'), 0o644); err != nil {
			return err
		}
	}
	for _, name := range companions {
		if err := copyFile(filepath.Join(c.Dir(), name), filepath.Join(tmp, name)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
