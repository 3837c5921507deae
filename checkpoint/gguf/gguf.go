// Package gguf reads and writes GGUF, the file format of llama.cpp and Ollama: a header of
// typed metadata entries and tensor descriptions, then the tensor data, each tensor at an
// aligned offset, in ggml's types (plain floats and the quantized block formats).
//
// Files are memory-mapped and tensors returned as views of the mapping. Every count, length,
// offset and size in the header is checked against the file before anything is handed out,
// and a malformed file is refused with the file and the field named.
package gguf

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"unsafe"

	"github.com/minitron-go/minitron/internal/mmap"
	"github.com/minitron-go/minitron/tensor"
)

// Magic opens every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment of a file without general.alignment.
const DefaultAlignment = 32

// MaxDims is ggml's GGML_MAX_DIMS; MaxNameLen is the longest tensor name ggml holds
// (GGML_MAX_NAME less its terminating zero).
const (
	MaxDims    = 4
	MaxNameLen = 63
)

// File is an open, validated GGUF file.
type File struct {
	path      string
	m         *mmap.File
	Version   uint32
	KV        []KV // metadata, in file order
	Alignment int
	infos     []Info // in file order
	byName    map[string]int
	names     []string // sorted
	data      []byte   // the data section
	DataStart int64    // file offset of the data section
}

// Info describes one tensor of a file.
type Info struct {
	Name   string
	Type   Type
	Shape  []int // outermost first, as the rest of the engine (GGUF stores the reverse)
	Offset int64 // within the data section
	Size   int64 // bytes
}

// Open maps and validates the file at path.
func Open(path string) (*File, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := parse(path, m.Bytes())
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// Parse validates an in-memory GGUF image. The returned File aliases b.
func Parse(name string, b []byte) (*File, error) { return parse(name, b) }

func parse(path string, b []byte) (*File, error) {
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	wrap := func(err error) error { return fmt.Errorf("%s: %w", path, err) }
	if len(b) < 4 || string(b[:4]) != Magic {
		return nil, errorf("not a GGUF file (no %q magic)", Magic)
	}
	d := &decoder{b: b, off: 4}
	version, err := d.u32("version")
	if err != nil {
		return nil, wrap(err)
	}
	switch {
	case version == 1:
		return nil, errorf("GGUF version 1 (32-bit counts, 2023) is not supported: convert the file again")
	case version != 2 && version != 3 && bits.ReverseBytes32(version) <= 3:
		return nil, errorf("big-endian GGUF (version %d byte-swapped) is not supported", bits.ReverseBytes32(version))
	case version != 2 && version != 3:
		return nil, errorf("unsupported GGUF version %d (want 2 or 3)", version)
	}
	// Each tensor description takes at least 8 (name length) + 4 (dims) + 4 (type) + 8
	// (offset) bytes, each metadata entry 8 (key length) + 4 (type) + 1.
	nTensors, err := d.count("tensor count", 24)
	if err != nil {
		return nil, wrap(err)
	}
	nKV, err := d.count("metadata count", 13)
	if err != nil {
		return nil, wrap(err)
	}
	f := &File{path: path, Version: version, Alignment: DefaultAlignment, byName: make(map[string]int, nTensors)}
	seen := make(map[string]bool, nKV)
	for i := range nKV {
		key, err := d.str(fmt.Sprintf("metadata key %d", i))
		if err != nil {
			return nil, wrap(err)
		}
		if key == "" {
			return nil, errorf("metadata key %d is empty", i)
		}
		if seen[key] {
			return nil, errorf("metadata key %q appears twice", key)
		}
		seen[key] = true
		t, err := d.u32(fmt.Sprintf("metadata %q type", key))
		if err != nil {
			return nil, wrap(err)
		}
		v, err := d.value(ValueType(t), fmt.Sprintf("metadata %q", key))
		if err != nil {
			return nil, wrap(err)
		}
		if key == "general.alignment" {
			a, ok := v.(uint32)
			if !ok {
				return nil, errorf("metadata %q is a %s, want uint32", key, ValueType(t))
			}
			if a == 0 || a&(a-1) != 0 || a > 1<<30 {
				return nil, errorf("metadata %q is %d, want a power of two", key, a)
			}
			f.Alignment = int(a)
		}
		f.KV = append(f.KV, KV{key, v})
	}
	for i := range nTensors {
		field := fmt.Sprintf("tensor %d", i)
		name, err := d.str(field + " name")
		if err != nil {
			return nil, wrap(err)
		}
		field = fmt.Sprintf("tensor %q", name)
		if len(name) > MaxNameLen {
			return nil, errorf("%s: name of %d bytes is longer than ggml's %d", field, len(name), MaxNameLen)
		}
		if _, dup := f.byName[name]; dup {
			return nil, errorf("%s appears twice", field)
		}
		nDims, err := d.u32(field + " dimension count")
		if err != nil {
			return nil, wrap(err)
		}
		if nDims > MaxDims {
			return nil, errorf("%s: %d dimensions, ggml allows at most %d", field, nDims, MaxDims)
		}
		dims := make([]uint64, nDims)
		for j := range dims {
			if dims[j], err = d.u64(fmt.Sprintf("%s dimension %d", field, j)); err != nil {
				return nil, wrap(err)
			}
		}
		t, err := d.u32(field + " type")
		if err != nil {
			return nil, wrap(err)
		}
		typ := Type(t)
		if !typ.Known() {
			return nil, errorf("%s: unknown ggml type %d", field, t)
		}
		offset, err := d.u64(field + " offset")
		if err != nil {
			return nil, wrap(err)
		}
		// Bound the element count by the file size as it is multiplied, so that it cannot
		// overflow; the exact fit is checked once the data section is known.
		shape := make([]int, nDims)
		elems := uint64(1)
		for j, n := range dims {
			if limit := uint64(len(b)) * uint64(typ.BlockSize()); n > limit || (n != 0 && elems > limit/n) {
				return nil, errorf("%s: dimensions %v need more bytes than the file holds (%d)", field, dims, len(b))
			}
			elems *= n
			shape[int(nDims)-1-j] = int(n)
		}
		if bs := uint64(typ.BlockSize()); bs > 1 && (nDims == 0 || dims[0]%bs != 0) {
			return nil, errorf("%s: %s rows hold blocks of %d, but the innermost dimension is not a multiple (dimensions %v)", field, typ, bs, dims)
		}
		if offset%uint64(f.Alignment) != 0 {
			return nil, errorf("%s: offset %d is not a multiple of the alignment %d", field, offset, f.Alignment)
		}
		size := elems / uint64(typ.BlockSize()) * uint64(typ.TypeSize())
		if offset > uint64(len(b)) || size > uint64(len(b)) {
			return nil, errorf("%s: offset %d and size %d run past the end of the file (%d bytes)", field, offset, size, len(b))
		}
		f.byName[name] = len(f.infos)
		f.infos = append(f.infos, Info{Name: name, Type: typ, Shape: shape, Offset: int64(offset), Size: int64(size)})
	}
	start := alignUp(int64(d.off), int64(f.Alignment))
	if start > int64(len(b)) {
		if nTensors > 0 {
			return nil, errorf("truncated: the data section would start at byte %d, past the end of the file (%d bytes)", start, len(b))
		}
		start = int64(len(b))
	}
	f.DataStart = start
	f.data = b[start:]
	for _, in := range f.infos {
		if in.Offset+in.Size > int64(len(f.data)) {
			return nil, errorf("tensor %q: data [%d, %d) runs past the end of the data section (%d bytes from byte %d): file truncated?", in.Name, in.Offset, in.Offset+in.Size, len(f.data), start)
		}
	}

	// Tensors must not overlap: a writer bug or a crafted file could otherwise alias weights.
	byOffset := slices.Clone(f.infos)
	sort.Slice(byOffset, func(i, j int) bool {
		if byOffset[i].Offset != byOffset[j].Offset {
			return byOffset[i].Offset < byOffset[j].Offset
		}
		return byOffset[i].Size < byOffset[j].Size
	})
	for i := 1; i < len(byOffset); i++ {
		prev, cur := byOffset[i-1], byOffset[i]
		if prev.Size > 0 && cur.Offset < prev.Offset+prev.Size {
			return nil, errorf("tensors %q [%d, %d) and %q [%d, %d) overlap", prev.Name, prev.Offset, prev.Offset+prev.Size, cur.Name, cur.Offset, cur.Offset+cur.Size)
		}
	}
	f.names = make([]string, 0, len(f.infos))
	for _, in := range f.infos {
		f.names = append(f.names, in.Name)
	}
	sort.Strings(f.names)
	return f, nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Names lists the tensors, sorted.
func (f *File) Names() []string { return f.names }

// Infos lists the tensors in the order the file describes them.
func (f *File) Infos() []Info { return f.infos }

// Info describes the named tensor.
func (f *File) Info(name string) (Info, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Info{}, false
	}
	return f.infos[i], true
}

// Get returns the metadata value under key.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Raw returns the bytes of the named tensor as stored, whatever its type.
func (f *File) Raw(name string) (Info, []byte, bool) {
	in, ok := f.Info(name)
	if !ok {
		return Info{}, nil, false
	}
	return in, f.data[in.Offset : in.Offset+in.Size : in.Offset+in.Size], true
}

// Tensor returns the named tensor as a view of the mapping. A tensor whose ggml type has no
// tensor.DType is refused, naming the type. The rare plain tensor whose offset is not a
// multiple of its element size (a file aligned to less than that) is copied.
func (f *File) Tensor(name string) (tensor.Host, error) {
	in, b, ok := f.Raw(name)
	if !ok {
		return tensor.Host{}, fmt.Errorf("%s: no tensor %q", f.path, name)
	}
	dt, ok := in.Type.DType()
	if !ok {
		return tensor.Host{}, fmt.Errorf("%s: tensor %q has ggml type %s, which this engine cannot compute with", f.path, name, in.Type)
	}
	if in.Type.BlockSize() == 1 && len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%uintptr(in.Type.TypeSize()) != 0 {
		b = append(make([]byte, 0, len(b)), b...)
	}
	return tensor.Host{DType: dt, Shape: in.Shape, Data: b}, nil
}

// ReleasePages lets the kernel drop the named tensor's pages from the process's memory (see
// mmap.File.Release), for a tensor copied into another form that will not be read here
// again; its data stays readable, from the file.
func (f *File) ReleasePages(name string) error {
	_, b, ok := f.Raw(name)
	if !ok || f.m == nil {
		return nil
	}
	return f.m.Release(b)
}

// Close unmaps the file; tensors returned by Tensor and Raw must not be used afterwards.
func (f *File) Close() error {
	if f.m == nil {
		return nil
	}
	return f.m.Close()
}
