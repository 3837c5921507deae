// Package safetensors reads and writes the safetensors format: an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw data.
//
// Files are memory-mapped and tensors returned as views of the mapping: a 4B-parameter model
// is never copied onto the heap. Every header is checked before any tensor is handed out.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"unsafe"

	"github.com/minitron-go/minitron/internal/mmap"
	"github.com/minitron-go/minitron/tensor"
)

// MaxHeaderSize bounds the JSON header, as the reference implementation does (100 MB): a
// length beyond it is a corrupt or hostile file, not a model.
const MaxHeaderSize = 100 << 20

// File is an open, validated safetensors file.
type File struct {
	path     string
	m        *mmap.File
	entries  map[string]Info
	names    []string
	Metadata map[string]string
	data     []byte // the data section, after the header
}

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType tensor.DType
	Shape []int
	Begin int64 // byte offsets within the data section
	End   int64
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

// Parse validates an in-memory safetensors image. The returned File aliases b.
func Parse(name string, b []byte) (*File, error) { return parse(name, b) }

func parse(path string, b []byte) (*File, error) {
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	if len(b) < 8 {
		return nil, errorf("truncated: %d bytes, too short for a safetensors header", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, errorf("header length %d exceeds the %d-byte limit: not a safetensors file, or corrupt", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, errorf("truncated: header of %d bytes but only %d bytes follow the length", n, len(b)-8)
	}
	header := b[8 : 8+n]
	data := b[8+n:]

	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, errorf("malformed JSON header: %v", err)
	}
	f := &File{path: path, entries: make(map[string]Info, len(raw)), data: data}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, errorf("__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var h struct {
			DType       *string  `json:"dtype"`
			Shape       *[]int64 `json:"shape"`
			DataOffsets *[]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &h); err != nil {
			return nil, errorf("tensor %q: malformed entry: %v", name, err)
		}
		if h.DType == nil || h.Shape == nil || h.DataOffsets == nil {
			return nil, errorf("tensor %q: entry needs dtype, shape and data_offsets", name)
		}
		dt, err := tensor.ParseDType(*h.DType)
		if err != nil {
			return nil, errorf("tensor %q: %v", name, err)
		}
		off := *h.DataOffsets
		if len(off) != 2 {
			return nil, errorf("tensor %q: data_offsets has %d values, want 2", name, len(off))
		}
		begin, end := off[0], off[1]
		if begin < 0 || end < begin {
			return nil, errorf("tensor %q: invalid data_offsets [%d, %d]", name, begin, end)
		}
		if end > int64(len(data)) {
			return nil, errorf("tensor %q: data_offsets [%d, %d] run past the end of the data (%d bytes): file truncated?", name, begin, end, len(data))
		}
		shape := make([]int, len(*h.Shape))
		elems := int64(1)
		for i, d := range *h.Shape {
			if d < 0 {
				return nil, errorf("tensor %q: negative dimension in shape %v", name, *h.Shape)
			}
			// Bound the product by the file size before it can overflow.
			if d != 0 && elems > int64(len(data))/d+1 {
				return nil, errorf("tensor %q: shape %v needs more bytes than the file holds", name, *h.Shape)
			}
			elems *= d
			shape[i] = int(d)
		}
		if want := elems * int64(dt.Size()); end-begin != want {
			return nil, errorf("tensor %q: %s%v needs %d bytes but data_offsets [%d, %d] hold %d", name, dt, shape, want, begin, end, end-begin)
		}
		f.entries[name] = Info{Name: name, DType: dt, Shape: shape, Begin: begin, End: end}
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)

	// Tensors must not overlap: a writer bug or a crafted file could otherwise alias weights.
	byOffset := make([]Info, 0, len(f.entries))
	for _, e := range f.entries {
		byOffset = append(byOffset, e)
	}
	sort.Slice(byOffset, func(i, j int) bool {
		if byOffset[i].Begin != byOffset[j].Begin {
			return byOffset[i].Begin < byOffset[j].Begin
		}
		return byOffset[i].End < byOffset[j].End
	})
	for i := 1; i < len(byOffset); i++ {
		prev, cur := byOffset[i-1], byOffset[i]
		if cur.Begin < prev.End {
			return nil, errorf("tensors %q [%d, %d] and %q [%d, %d] overlap", prev.Name, prev.Begin, prev.End, cur.Name, cur.Begin, cur.End)
		}
	}
	return f, nil
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Names lists the tensors, sorted.
func (f *File) Names() []string { return f.names }

// Info describes the named tensor.
func (f *File) Info(name string) (Info, bool) {
	e, ok := f.entries[name]
	return e, ok
}

// Tensor returns the named tensor as a view of the mapping. The rare tensor whose offset is
// not a multiple of its element size is copied, so that it can be viewed as numbers.
func (f *File) Tensor(name string) (tensor.Host, bool) {
	e, ok := f.entries[name]
	if !ok {
		return tensor.Host{}, false
	}
	b := f.data[e.Begin:e.End:e.End]
	if len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%uintptr(e.DType.Size()) != 0 {
		b = append(make([]byte, 0, len(b)), b...)
	}
	return tensor.Host{DType: e.DType, Shape: e.Shape, Data: b}, true
}

// ReleasePages lets the kernel drop the named tensor's pages from the process's memory (see
// mmap.File.Release): for a tensor that was copied into another form (quantized, say) and
// will not be read here again. Its data stays readable, from the file. A tensor Tensor had to
// copy is left alone.
func (f *File) ReleasePages(name string) error {
	e, ok := f.entries[name]
	if !ok || f.m == nil {
		return nil
	}
	return f.m.Release(f.data[e.Begin:e.End])
}

// Close unmaps the file; tensors returned by Tensor must not be used afterwards.
func (f *File) Close() error {
	if f.m == nil {
		return nil
	}
	return f.m.Close()
}
