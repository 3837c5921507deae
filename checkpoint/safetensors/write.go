package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minitron-go/minitron/tensor"
)

// Named is a tensor with the name it is stored under.
type Named struct {
	Name string
	tensor.Host
}

// Write stores tensors, in the given order, in a new safetensors file at path. The file
// appears whole or not at all: it is written beside path under a temporary name, synced, and
// renamed over path.
func Write(path string, tensors []Named, metadata map[string]string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = Encode(tmp, tensors, metadata); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Encode writes tensors in the safetensors format to w. The header is padded with spaces to a
// multiple of 8 bytes so that every tensor starts aligned, as the reference writer does.
func Encode(w io.Writer, tensors []Named, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var offset int64
	for _, t := range tensors {
		if _, dup := header[t.Name]; dup || t.Name == "__metadata__" {
			return fmt.Errorf("tensor name %q used twice or reserved", t.Name)
		}
		n := int64(len(t.Data))
		if want := int64(t.Len() * t.DType.Size()); n != want {
			return fmt.Errorf("tensor %q: %d bytes of data for %s%v (want %d)", t.Name, n, t.DType, t.Shape, want)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = struct {
			DType       string  `json:"dtype"`
			Shape       []int   `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}{t.DType.String(), shape, []int64{offset, offset + n}}
		offset += n
	}
	js, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}
