// Package checkpoint opens a model directory as Hugging Face lays it out and presents its
// weights as one set of named host tensors, whatever the files: a single safetensors file,
// safetensors shards with an index, or PyTorch's pytorch_model.bin.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/minitron-go/minitron/checkpoint/pytorch"
	"github.com/minitron-go/minitron/checkpoint/safetensors"
	"github.com/minitron-go/minitron/tensor"
)

// file is one opened weights file of any format.
type file interface {
	Names() []string
	Tensor(name string) (tensor.Host, bool)
	Close() error
}

// openers open one weights file, by file extension.
var openers = map[string]func(path string) (file, error){
	".safetensors": func(path string) (file, error) { return safetensors.Open(path) },
	".bin":         func(path string) (file, error) { return pytorch.Open(path) },
}

// Checkpoint is the set of tensors of a model directory.
type Checkpoint struct {
	dir     string
	files   []file
	tensors map[string]located
	names   []string
}

type located struct {
	f    file
	path string
}

// candidate layouts, in the order transformers prefers them.
var layouts = []struct{ index, single string }{
	{"model.safetensors.index.json", "model.safetensors"},
	{"pytorch_model.bin.index.json", "pytorch_model.bin"},
}

// Open finds and opens the weights in dir.
func Open(dir string) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	for _, l := range layouts {
		if p := filepath.Join(dir, l.index); exists(p) {
			return openIndexed(dir, p)
		}
		if p := filepath.Join(dir, l.single); exists(p) {
			c := &Checkpoint{dir: dir, tensors: map[string]located{}}
			if err := c.add(p, nil); err != nil {
				c.Close()
				return nil, err
			}
			c.sortNames()
			return c, nil
		}
	}
	return nil, fmt.Errorf("%s: no weights found (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json)", dir)
}

func openIndexed(dir, indexPath string) (*Checkpoint, error) {
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		return nil, fmt.Errorf("%s: malformed index: %v", indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: weight_map is missing or empty", indexPath)
	}
	byShard := map[string][]string{}
	for name, shard := range index.WeightMap {
		if shard == "" || filepath.Base(shard) != shard {
			return nil, fmt.Errorf("%s: tensor %q maps to %q, not a file name in the same directory", indexPath, name, shard)
		}
		byShard[shard] = append(byShard[shard], name)
	}
	shards := make([]string, 0, len(byShard))
	for s := range byShard {
		shards = append(shards, s)
	}
	sort.Strings(shards)
	c := &Checkpoint{dir: dir, tensors: map[string]located{}}
	for _, s := range shards {
		if err := c.add(filepath.Join(dir, s), byShard[s]); err != nil {
			c.Close()
			return nil, fmt.Errorf("%w (listed in %s)", err, filepath.Base(indexPath))
		}
	}
	c.sortNames()
	return c, nil
}

// add opens path and records its tensors: all of them, or only want (each of which must be
// there) when the file is a shard named by an index.
func (c *Checkpoint) add(path string, want []string) error {
	open, ok := openers[filepath.Ext(path)]
	if !ok {
		return fmt.Errorf("%s: unknown weights format (no reader for %q files)", path, filepath.Ext(path))
	}
	f, err := open(path)
	if err != nil {
		return err
	}
	c.files = append(c.files, f)
	names := want
	if names == nil {
		names = f.Names()
	}
	for _, name := range names {
		if _, ok := f.Tensor(name); !ok {
			return fmt.Errorf("%s: tensor %q is missing", path, name)
		}
		if prev, dup := c.tensors[name]; dup {
			return fmt.Errorf("tensor %q is in both %s and %s", name, prev.path, path)
		}
		c.tensors[name] = located{f, path}
	}
	return nil
}

func (c *Checkpoint) sortNames() {
	c.names = make([]string, 0, len(c.tensors))
	for n := range c.tensors {
		c.names = append(c.names, n)
	}
	sort.Strings(c.names)
}

// Dir is the directory the checkpoint was opened from.
func (c *Checkpoint) Dir() string { return c.dir }

// Names lists every tensor, sorted.
func (c *Checkpoint) Names() []string { return c.names }

// Tensor returns the named tensor and the path of the file that holds it.
func (c *Checkpoint) Tensor(name string) (t tensor.Host, path string, ok bool) {
	l, ok := c.tensors[name]
	if !ok {
		return tensor.Host{}, "", false
	}
	t, _ = l.f.Tensor(name)
	return t, l.path, true
}

// ReleasePages lets the kernel drop the named tensor's pages from the process's memory, where
// its file is memory-mapped (safetensors and PyTorch files are): for a tensor copied into
// another form (quantized as a model loads) that will not be read from here again. Its data
// stays readable, from the file.
func (c *Checkpoint) ReleasePages(name string) error {
	l, ok := c.tensors[name]
	if !ok {
		return nil
	}
	if r, ok := l.f.(interface{ ReleasePages(string) error }); ok {
		return r.ReleasePages(name)
	}
	return nil
}

// Close releases every file; tensors obtained from the checkpoint must not be used afterwards.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	c.files = nil
	return errors.Join(errs...)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
