//go:build !amd64 || purego

package tensor

func readRows4(b []byte, rowBytes int, prefetch bool) uint64 {
	return readRows4Generic(b, rowBytes, prefetch)
}

func readRows4Impls() map[string]func([]byte, int) uint64 { return nil }
