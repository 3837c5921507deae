//go:build linux

package mmap

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// residentBytes is this process's resident set (the second field of /proc/self/statm, in
// pages), which counts the file pages it has mapped in.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip(err)
	}
	f := strings.Fields(string(raw))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// Released pages of a file mapping leave the resident set and read back from the file.
func TestReleaseFile(t *testing.T) {
	const size = 64 << 20
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i*7 + i>>12)
	}
	path := filepath.Join(t.TempDir(), "weights")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	data := m.Bytes()
	var sum int
	for i := 0; i < size; i += 512 {
		sum += int(data[i]) // fault every page in
	}
	before := residentBytes(t)
	// Everything but a ragged head and tail: their partial pages stay.
	if err := m.Release(data[100 : size-100]); err != nil {
		t.Fatal(err)
	}
	after := residentBytes(t)
	if dropped := before - after; dropped < size*3/4 {
		t.Errorf("resident set went from %d to %d bytes after releasing %d: want it to drop by most of that", before, after, size)
	}
	t.Logf("released %d MiB: resident set %d → %d MiB (%d MiB after the mapping was read)", size>>20, before>>20, after>>20, before>>20)
	if !bytes.Equal(data, want) {
		t.Error("the file's bytes read back differently after the release")
	}
	if sum == 0 {
		t.Error("read nothing")
	}
}

// Release leaves memory that is not a file's alone: an anonymous mapping's and the heap's,
// which MADV_DONTNEED would zero.
func TestReleaseLeavesMemory(t *testing.T) {
	a, err := Anonymous(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	data := a.Bytes()
	for i := range data {
		data[i] = 0xA5
	}
	if err := a.Release(data); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(data, []byte{0xA5}) != len(data) {
		t.Error("anonymous memory changed by Release")
	}

	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	heap := bytes.Repeat([]byte{0x5A}, 1<<20)
	if err := m.Release(heap); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(heap, []byte{0x5A}) != len(heap) {
		t.Error("a heap slice changed by a file mapping's Release")
	}
}
