//go:build !unix

package mmap

import (
	"io"
	"os"
)

// Without mmap the file is read onto the heap: correct, but the weights then cost memory twice
// as long as the page cache holds them too.
func mapFile(f *os.File, size int) ([]byte, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(f, b)
	return b, err
}

func unmap([]byte) error { return nil }

func mapAnonymous(size int) ([]byte, error) { return make([]byte, size), nil }

// release does nothing: the "mapping" is heap memory, which only the garbage collector frees.
func release(data, b []byte) error { return nil }
