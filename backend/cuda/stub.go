//go:build !linux || !cgo

package cuda

import (
	"errors"
	"runtime"

	"github.com/minitron-go/minitron/backend"
)

func init() {
	backend.Register("cuda", func(o backend.Options) (backend.Backend, error) { return New(o) })
}

// New reports why this build has no CUDA backend: it loads the CUDA libraries through cgo,
// on Linux.
func New(backend.Options) (backend.Backend, error) {
	if runtime.GOOS != "linux" {
		return nil, errors.New("cuda: the CUDA backend is only built for Linux")
	}
	return nil, errors.New("cuda: built without cgo (CGO_ENABLED=0); rebuild with cgo and a C compiler to use the GPU")
}
