// Package mmap maps files read-only into memory, so that checkpoint weights are used where
// they lie in the page cache instead of being copied onto the heap.
package mmap

import (
	"fmt"
	"os"
)

// File is a read-only mapping of a whole file, or an anonymous mapping (Anonymous).
type File struct {
	data []byte
	file bool // backed by a file: pages released are read from it again
}

// Open maps the named file read-only. An empty file maps to an empty slice.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		return &File{}, nil
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("%s: file of %d bytes is too large to map", path, size)
	}
	data, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	return &File{data: data, file: true}, nil
}

// Bytes returns the mapped contents. They must not be written to, and must not be used
// after Close.
func (m *File) Bytes() []byte { return m.data }

// Close unmaps the file.
func (m *File) Close() error {
	if m.data == nil {
		return nil
	}
	err := unmap(m.data)
	m.data = nil
	return err
}

// Release tells the kernel that the pages lying wholly inside b, a part of a file mapping,
// need not stay in this process's memory (madvise MADV_DONTNEED): they leave its resident
// set, and are read from the file again if touched, so b stays readable. Pages b shares with
// its neighbours are kept. A b outside the mapping (such as a copy on the heap), and every b
// of an anonymous mapping, is left alone: there MADV_DONTNEED would zero the memory.
func (m *File) Release(b []byte) error {
	if !m.file || len(b) == 0 || len(m.data) == 0 {
		return nil
	}
	return release(m.data, b)
}

// Discard drops the pages wholly inside b, a part of an anonymous mapping, from memory: they
// read as zeros afterwards. It is for memory whose contents have been copied elsewhere and
// will not be read again. A b outside the mapping, and every b of a file mapping, is left alone.
func (m *File) Discard(b []byte) error {
	if m.file || len(b) == 0 || len(m.data) == 0 {
		return nil
	}
	return release(m.data, b)
}

// Anonymous maps size bytes of zeroed memory outside the Go heap: the garbage collector
// neither scans nor counts it, and the kernel may back it with huge pages. Release it with
// Close.
func Anonymous(size int) (*File, error) {
	if size <= 0 {
		return &File{}, nil
	}
	data, err := mapAnonymous(size)
	if err != nil {
		return nil, fmt.Errorf("mmap of %d bytes: %w", size, err)
	}
	return &File{data: data}, nil
}
