//go:build linux && cgo

package cuda

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"math"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/tensor"
)

var _ backend.Argmaxer = (*Backend)(nil)

// Argmax returns the lowest index of the largest element of t, found on the device so that 4
// bytes come back instead of the tensor (backend.Argmaxer).
func (b *Backend) Argmax(bt backend.Tensor) (int, error) {
	t := b.tensor(bt)
	if t.dt != tensor.F32 {
		return 0, fmt.Errorf("cuda: argmax of a %s tensor", t.dt)
	}
	n := t.len()
	if n == 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("cuda: argmax of %d values", n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, fmt.Errorf("cuda: argmax on a closed backend")
	}
	idx := 0
	if b.err == nil && b.grow(&b.index, 4, "argmax result") {
		b.args.reset().ptr(b.index.ptr).ptr(t.ptr).i64(n)
		b.launch(kArgmax, 1, 1, argmaxThreads)
		// The kernel writes an int32; read copies its 4 bytes as they are.
		var v [1]float32
		b.read(v[:], &Tensor{dt: tensor.F32, shape: []int{1}, ptr: b.index.ptr})
		if b.err == nil {
			idx = int(int32(math.Float32bits(v[0])))
		}
	}
	err := b.err
	b.err = nil
	return idx, err
}
