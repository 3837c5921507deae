package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// A Tensor is one tensor to write: its ggml type, its shape outermost first, and its bytes
// as ggml lays them out.
type Tensor struct {
	Name  string
	Type  Type
	Shape []int
	Data  []byte
}

// Write stores the metadata and tensors, in the given orders, in a new GGUF (version 3) file
// at path. The file appears whole or not at all: it is written beside path under a temporary
// name, synced, and renamed over path.
func Write(path string, kvs []KV, tensors []Tensor) (err error) {
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
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err = Encode(w, kvs, tensors); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Encode writes a GGUF version 3 file to w, laid out as llama.cpp's writers do: metadata,
// tensor descriptions, zero padding to the alignment (general.alignment if kvs has it, else
// 32), then each tensor's data padded to the alignment.
func Encode(w io.Writer, kvs []KV, tensors []Tensor) error {
	align := int64(DefaultAlignment)
	seen := map[string]bool{}
	for _, kv := range kvs {
		if kv.Key == "" || seen[kv.Key] {
			return fmt.Errorf("metadata key %q empty or used twice", kv.Key)
		}
		seen[kv.Key] = true
		if _, _, ok := typeOfValue(kv.Value); !ok {
			return fmt.Errorf("metadata %q: a %T has no GGUF type", kv.Key, kv.Value)
		}
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 || a > 1<<30 {
				return fmt.Errorf("metadata %q must be a uint32 power of two, not %v", kv.Key, kv.Value)
			}
			align = int64(a)
		}
	}
	e := &encoder{}
	e.b = append(e.b, Magic...)
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		t, _, _ := typeOfValue(kv.Value)
		e.u32(uint32(t))
		e.value(kv.Value)
	}
	names := map[string]bool{}
	var offset int64
	for _, t := range tensors {
		if names[t.Name] {
			return fmt.Errorf("tensor name %q used twice", t.Name)
		}
		names[t.Name] = true
		if len(t.Name) > MaxNameLen {
			return fmt.Errorf("tensor %q: name longer than ggml's %d bytes", t.Name, MaxNameLen)
		}
		if !t.Type.Known() {
			return fmt.Errorf("tensor %q: unknown ggml type %d", t.Name, uint32(t.Type))
		}
		if len(t.Shape) > MaxDims {
			return fmt.Errorf("tensor %q: %d dimensions, ggml allows at most %d", t.Name, len(t.Shape), MaxDims)
		}
		elems := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("tensor %q: negative dimension in %v", t.Name, t.Shape)
			}
			elems *= int64(d)
		}
		bs := int64(t.Type.BlockSize())
		if bs > 1 && (len(t.Shape) == 0 || int64(t.Shape[len(t.Shape)-1])%bs != 0) {
			return fmt.Errorf("tensor %q: %s needs rows of a multiple of %d elements, shape is %v", t.Name, t.Type, bs, t.Shape)
		}
		if want := elems / bs * int64(t.Type.TypeSize()); int64(len(t.Data)) != want {
			return fmt.Errorf("tensor %q: %d bytes of data for %s%v (want %d)", t.Name, len(t.Data), t.Type, t.Shape, want)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for i := len(t.Shape) - 1; i >= 0; i-- { // innermost first
			e.u64(uint64(t.Shape[i]))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(offset))
		offset = alignUp(offset+int64(len(t.Data)), align)
	}
	e.pad(align)
	if _, err := w.Write(e.b); err != nil {
		return err
	}
	zeros := make([]byte, align)
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
		if n := alignUp(int64(len(t.Data)), align) - int64(len(t.Data)); n > 0 {
			if _, err := w.Write(zeros[:n]); err != nil {
				return err
			}
		}
	}
	return nil
}

type encoder struct{ b []byte }

func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) pad(align int64) {
	for int64(len(e.b))%align != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) value(v any) {
	le := binary.LittleEndian
	switch v := v.(type) {
	case uint8:
		e.b = append(e.b, v)
	case int8:
		e.b = append(e.b, uint8(v))
	case uint16:
		e.b = le.AppendUint16(e.b, v)
	case int16:
		e.b = le.AppendUint16(e.b, uint16(v))
	case uint32:
		e.u32(v)
	case int32:
		e.u32(uint32(v))
	case float32:
		e.u32(math.Float32bits(v))
	case bool:
		if v {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case string:
		e.str(v)
	case uint64:
		e.u64(v)
	case int64:
		e.u64(uint64(v))
	case float64:
		e.u64(math.Float64bits(v))
	default:
		_, elem, _ := typeOfValue(v)
		e.u32(uint32(elem))
		switch s := v.(type) {
		case []uint8:
			arr(e, s)
		case []int8:
			arr(e, s)
		case []uint16:
			arr(e, s)
		case []int16:
			arr(e, s)
		case []uint32:
			arr(e, s)
		case []int32:
			arr(e, s)
		case []float32:
			arr(e, s)
		case []bool:
			arr(e, s)
		case []string:
			arr(e, s)
		case []uint64:
			arr(e, s)
		case []int64:
			arr(e, s)
		case []float64:
			arr(e, s)
		}
	}
}

func arr[T any](e *encoder, s []T) {
	e.u64(uint64(len(s)))
	for _, x := range s {
		e.value(x)
	}
}
