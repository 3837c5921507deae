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

// Argmax finds the lowest index of the largest element of each row of t on the device, so
// that 4 bytes a row come back instead of the tensor (backend.Argmaxer).
func (b *Backend) Argmax(dst []int32, bt backend.Tensor) error {
	t := b.tensor(bt)
	if t.dt != tensor.F32 {
		return fmt.Errorf("cuda: argmax of a %s tensor", t.dt)
	}
	rows := 1
	if len(t.shape) > 1 {
		rows = t.rows()
	}
	n := t.len()
	if n == 0 || rows != len(dst) || n/rows > math.MaxInt32 {
		return fmt.Errorf("cuda: argmax of the %d rows of %s into %d", rows, tensor.ShapeString(t.shape), len(dst))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cuda: argmax on a closed backend")
	}
	if b.err == nil && b.grow(&b.index, 4*rows, "argmax results") {
		b.args.reset().ptr(b.index.ptr).ptr(t.ptr).i64(n / rows)
		b.launch(kArgmax, rows, 1, argmaxThreads)
		// The kernel writes int32s; read copies their bytes as they are.
		if cap(b.indexHost) < rows {
			b.indexHost = make([]float32, rows)
		}
		v := b.indexHost[:rows]
		b.read(v, &Tensor{dt: tensor.F32, shape: []int{rows}, ptr: b.index.ptr})
		if b.err == nil {
			for i, f := range v {
				dst[i] = int32(math.Float32bits(f))
			}
		}
	}
	err := b.err
	b.err = nil
	return err
}
