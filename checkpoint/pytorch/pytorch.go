// Package pytorch reads the checkpoints that torch.save writes (pytorch_model.bin): a zip archive
// of a pickled state dict and the raw bytes of its tensors' storages, mapped into memory so that
// weights are used where they lie, and read without running any of the pickle's Python.
//
// An archive holds, under one folder (torch names it after the file, or "archive"):
//
//	<folder>/data.pkl    the state dict, pickled; tensors refer to storages by key
//	<folder>/data/<key>  each storage's elements, little-endian, stored uncompressed
//	<folder>/version     the format version
//	<folder>/byteorder   "little" or "big" (torch 2.0 and later; absent means little)
//
// Tensors of dtypes other than F32, F16 and BF16 (an int64 position_ids buffer, say) are checked
// like the others and then left out of Names and Tensor; Skipped lists them.
package pytorch

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/minitron-go/minitron/internal/mmap"
	"github.com/minitron-go/minitron/tensor"
)

// File is an open torch.save checkpoint.
type File struct {
	m       *mmap.File
	tensors map[string]*entry
	names   []string // sorted
	skipped []string // sorted
}

// entry is one tensor: a view of the mapping, or, for a view torch saved non-contiguous (or one
// whose bytes are not aligned to its element size), a copy made on first use.
type entry struct {
	dtype tensor.DType
	shape []int
	data  []byte

	gathered sync.Once
	storage  []byte // the whole storage, when data is to be gathered from it
	offset   int    // elements
	stride   []int  // elements
}

// Open maps the checkpoint at path, parses its state dict and checks every tensor against the
// bytes of its storage. Tensor data stays valid until Close.
func Open(path string) (*File, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := parse(m.Bytes())
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.m = m
	return f, nil
}

// Names returns the names of the F32, F16 and BF16 tensors, sorted.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Skipped returns the names of the tensors of other dtypes, which Names and Tensor leave out.
func (f *File) Skipped() []string { return slices.Clone(f.skipped) }

// Tensor returns the named tensor. Its Data is a view of the mapped file when the tensor is
// contiguous in its storage, and a copy (made once) when it is not; it must not be written to.
func (f *File) Tensor(name string) (tensor.Host, bool) {
	e, ok := f.tensors[name]
	if !ok {
		return tensor.Host{}, false
	}
	if e.storage != nil {
		e.gathered.Do(e.gather)
	}
	return tensor.Host{DType: e.dtype, Shape: slices.Clone(e.shape), Data: e.data}, true
}

// ReleasePages lets the kernel drop the named tensor's pages from the process's memory (see
// mmap.File.Release), for a tensor copied into another form that will not be read here
// again; its data stays readable, from the file. A gathered copy is left alone.
func (f *File) ReleasePages(name string) error {
	e, ok := f.tensors[name]
	if !ok || f.m == nil || e.storage != nil {
		return nil
	}
	return f.m.Release(e.data)
}

// Close unmaps the file; tensors' Data that view it must no longer be used.
func (f *File) Close() error {
	f.tensors, f.names, f.skipped = nil, nil, nil
	if f.m == nil {
		return nil
	}
	err := f.m.Close()
	f.m = nil
	return err
}

// legacyMagic starts a file that torch.save wrote before PyTorch 1.6 (or with
// _use_new_zipfile_serialization=False): PROTO 2, then LONG1 of the magic 0x1950a86a20f9469cfc6c.
var legacyMagic = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

const resave = "re-save it with a recent torch (torch.save(state_dict, path)), or convert it with `minitron convert`"

// parse reads the checkpoint whose bytes are b. Errors name what they concern, but not the file.
func parse(b []byte) (*File, error) {
	if err := sniff(b); err != nil {
		return nil, err
	}
	zipEntries, err := readZipDirectory(b)
	if err != nil {
		return nil, err
	}
	members := make(map[string]*zipEntry, len(zipEntries))
	var pkls []string
	for i := range zipEntries {
		e := &zipEntries[i]
		if _, dup := members[e.name]; dup {
			return nil, fmt.Errorf("zip entry %s appears twice", quote(e.name))
		}
		members[e.name] = e
		if folder, ok := strings.CutSuffix(e.name, "/data.pkl"); ok && !strings.Contains(folder, "/") {
			pkls = append(pkls, e.name)
		}
	}
	switch {
	case len(pkls) == 0:
		return nil, errors.New("no <folder>/data.pkl entry: a zip archive, but not one written by torch.save")
	case len(pkls) > 1:
		return nil, fmt.Errorf("%d data.pkl entries (%s, %s, ...): not one torch.save archive", len(pkls), quote(pkls[0]), quote(pkls[1]))
	}
	folder := strings.TrimSuffix(pkls[0], "data.pkl")

	if e, ok := members[folder+"byteorder"]; ok {
		order, err := storedBytes(b, e)
		if err != nil {
			return nil, err
		}
		switch string(bytes.TrimSpace(order)) {
		case "little":
		case "big":
			return nil, fmt.Errorf("%s: tensors were saved big-endian, which this reader does not convert; "+
				"load and re-save the checkpoint on a little-endian machine", quote(e.name))
		default:
			return nil, fmt.Errorf("%s: unknown byte order %s", quote(e.name), quote(string(order)))
		}
	}

	pkl, err := storedBytes(b, members[pkls[0]])
	if err != nil {
		return nil, err
	}
	root, err := unpickle(pkl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote(pkls[0]), err)
	}
	storage := func(key string) ([]byte, string, error) {
		name := folder + "data/" + key
		e, ok := members[name]
		if !ok {
			return nil, name, fmt.Errorf("storage entry %s is missing from the archive", quote(name))
		}
		data, err := storedBytes(b, e)
		return data, name, err
	}
	return load(root, storage)
}

// sniff recognises files that are not torch.save zip archives, to say what they are.
func sniff(b []byte) error {
	switch {
	case bytes.HasPrefix(b, legacyMagic):
		return errors.New("a checkpoint in PyTorch's legacy (pre-1.6) format, which this reader does not support: " + resave)
	case len(b) > 262 && string(b[257:262]) == "ustar":
		return errors.New("a tar archive: PyTorch's oldest checkpoint format, which this reader does not support: " + resave)
	case len(b) > 9 && b[8] == '{' && b[9] == '"':
		return errors.New("not a zip archive; it looks like safetensors, which the safetensors reader loads")
	case len(b) > 1 && b[0] == opPROTO:
		return errors.New("a bare pickle, not a torch.save zip archive: " + resave)
	case len(b) < 4:
		return fmt.Errorf("%d bytes: too short to be a PyTorch checkpoint", len(b))
	case string(b[:4]) != "PK\x03\x04" && string(b[:4]) != "PK\x05\x06":
		return errors.New("not a zip archive, so not a PyTorch checkpoint written by torch.save")
	}
	return nil
}

// load checks the state dict root against the storages that storage returns by key (with
// their entries' names) and makes the File.
func load(root any, storage func(key string) (data []byte, entry string, err error)) (*File, error) {
	d, ok := root.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("data.pkl holds a %s, not a state dict", describe(root))
	}
	f := &File{tensors: make(map[string]*entry, len(d.keys))}
	// Tied weights are one tensor under two names; they share an entry, and so one copy when
	// the tensor has to be gathered.
	seen := make(map[*tensorRef]*entry)
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %s is not a string", describe(k))
		}
		t, ok := d.vals[i].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("state dict entry %s is a %s, not a tensor: this reader loads flat state dicts "+
				"(torch.save(model.state_dict(), path)), not training checkpoints", quote(name), describe(d.vals[i]))
		}
		e, ok := seen[t]
		if !ok {
			data, entryName, err := storage(t.storage.key)
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", quote(name), err)
			}
			if e, err = view(t, data, entryName); err != nil {
				return nil, fmt.Errorf("tensor %s: %w", quote(name), err)
			}
			seen[t] = e
		}
		if !t.storage.typ.loadable {
			f.skipped = append(f.skipped, name)
			continue
		}
		f.tensors[name] = e
		f.names = append(f.names, name)
	}
	slices.Sort(f.names)
	slices.Sort(f.skipped)
	return f, nil
}

// view checks that tensor t lies within its storage's bytes data, read from the zip entry
// entryName, and describes where its elements are.
func view(t *tensorRef, data []byte, entryName string) (*entry, error) {
	s := t.storage
	es := int64(s.typ.size)
	if hi, lo := bits.Mul64(uint64(s.numel), uint64(es)); hi != 0 || lo != uint64(len(data)) {
		return nil, fmt.Errorf("storage %s holds %d bytes, but its record says %d %s elements of %d bytes",
			quote(entryName), len(data), s.numel, s.typ.name, es)
	}
	numel, ok := int64(1), true
	for _, n := range t.size {
		numel, ok = mulInt(numel, n)
		if !ok {
			return nil, fmt.Errorf("shape %v has too many elements", t.size)
		}
	}
	// The last element's index, offset + Σ (size-1)·stride, must lie inside the storage.
	last := t.offset
	if numel > 0 {
		for i, n := range t.size {
			step, ok := mulInt(n-1, t.stride[i])
			if !ok || last > maxInt-step {
				return nil, fmt.Errorf("shape %v with strides %v reaches past any storage", t.size, t.stride)
			}
			last += step
		}
	}
	if numel > 0 && last >= s.numel || numel == 0 && t.offset > s.numel {
		return nil, fmt.Errorf("shape %v with strides %v at offset %d reaches past the %d elements of storage %s",
			t.size, t.stride, t.offset, s.numel, quote(entryName))
	}
	// A view whose elements repeat (stride 0: an expanded tensor) can be larger than its storage;
	// copying it could take any amount of memory, so we refuse those.
	if numel > s.numel {
		return nil, fmt.Errorf("shape %v with strides %v has more elements than its storage %s (%d): an expanded view",
			t.size, t.stride, quote(entryName), s.numel)
	}

	// Every number is now at most the storage's length, so they fit an int.
	e := &entry{shape: make([]int, len(t.size))}
	for i, n := range t.size {
		e.shape[i] = int(n)
	}
	if !s.typ.loadable {
		return e, nil
	}
	e.dtype = s.typ.dtype
	start, end := int(t.offset*es), int((t.offset+numel)*es)
	// Data is handed out as []float32 or []uint16 views, which need aligned bytes: torch pads its
	// zip entries to 64 bytes, but other writers need not.
	aligned := uintptr(unsafe.Pointer(unsafe.SliceData(data)))%uintptr(es) == 0
	if aligned && contiguous(t.size, t.stride) {
		e.data = data[start:end:end]
		if numel == 0 {
			e.data = []byte{}
		}
		return e, nil
	}
	e.storage, e.offset = data, int(t.offset)
	e.stride = make([]int, len(t.stride))
	for i, n := range t.stride {
		e.stride[i] = int(n)
	}
	return e, nil
}

const maxInt = 1<<63 - 1

// mulInt multiplies non-negative a and b, reporting whether the product fits an int64.
func mulInt(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return int64(lo), hi == 0 && lo <= maxInt
}

// contiguous reports whether strides are those of a row-major tensor of the size, ignoring the
// strides of dimensions of size 1 (torch does too, and keeps arbitrary strides there).
func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] == 0 {
			return true
		}
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// gather copies the elements of a non-contiguous view into row-major order.
func (e *entry) gather() {
	es := e.dtype.Size()
	dst := make([]byte, 0, tensor.NumElements(e.shape)*es)
	e.data = gatherInto(dst, e.storage, es, e.shape, e.stride, e.offset)
}

func gatherInto(dst, src []byte, es int, size, stride []int, off int) []byte {
	switch {
	case len(size) == 0:
		return append(dst, src[off*es:(off+1)*es]...)
	case len(size) == 1 && stride[0] == 1:
		return append(dst, src[off*es:(off+size[0])*es]...)
	}
	for i := range size[0] {
		dst = gatherInto(dst, src, es, size[1:], stride[1:], off+i*stride[0])
	}
	return dst
}
