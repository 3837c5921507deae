//go:build unix

package mmap

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func mapFile(f *os.File, size int) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	// Weights are read soon and whole: start reading the file in now.
	_ = unix.Madvise(b, unix.MADV_WILLNEED)
	return b, nil
}

func unmap(b []byte) error { return unix.Munmap(b) }

func mapAnonymous(size int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, err
	}
	// Streaming gigabytes of weights through 4 KiB pages costs a TLB miss per page; huge
	// pages are a hint the kernel may ignore.
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b, nil
}

// release drops the pages wholly inside b from the mapping data, which starts on a page.
func release(data, b []byte) error {
	base, start := uintptr(unsafe.Pointer(&data[0])), uintptr(unsafe.Pointer(&b[0]))
	if start < base || start+uintptr(len(b)) > base+uintptr(len(data)) {
		return nil // not ours
	}
	page := uintptr(os.Getpagesize())
	lo := (start - base + page - 1) &^ (page - 1)
	hi := (start - base + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return nil
	}
	return unix.Madvise(data[lo:hi], unix.MADV_DONTNEED)
}
