package bench

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Resident is how many bytes of b's pages are in memory (mincore), or -1 where that cannot
// be told. b must start on a page boundary, as a mapping does.
func Resident(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	page := os.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return -1
	}
	n := int64(0)
	for _, v := range vec {
		if v&1 != 0 {
			n += int64(page)
		}
	}
	return min(n, int64(len(b)))
}
