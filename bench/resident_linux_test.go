package bench_test

import (
	"syscall"
	"testing"

	"github.com/minitron-go/minitron/bench"
)

// Resident counts the touched half of a mapping and not the rest.
func TestResident(t *testing.T) {
	m, err := syscall.Mmap(-1, 0, 1<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("no anonymous mapping here: %v", err)
	}
	defer syscall.Munmap(m)
	if got := bench.Resident(m); got > 64<<10 {
		t.Errorf("untouched: %d bytes resident", got)
	}
	for i := 0; i < len(m)/2; i += 4096 {
		m[i] = 1
	}
	if got := bench.Resident(m); got != int64(len(m)/2) {
		t.Errorf("half touched: %d bytes resident, want %d", got, len(m)/2)
	}
}
