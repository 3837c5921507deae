//go:build unix

package mmap

import (
	"os"

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
