//go:build linux && cgo

package cuda

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/minitron-go/minitron/tensor"
)

// argBuffer holds a launch's parameters in C memory, each at its natural alignment; the
// driver copies them when the kernel is queued, so one buffer serves every launch.
type argBuffer struct {
	mem  unsafe.Pointer
	buf  []byte
	offs []C.int
	n    int
	pos  int
}

const argBytes = 4096

func newArgBuffer() argBuffer {
	mem := C.malloc(C.size_t(argBytes + 4*C.MT_MAX_ARGS))
	return argBuffer{
		mem:  mem,
		buf:  unsafe.Slice((*byte)(mem), argBytes),
		offs: unsafe.Slice((*C.int)(unsafe.Add(mem, argBytes)), C.MT_MAX_ARGS),
	}
}

func (a *argBuffer) free() {
	if a.mem != nil {
		C.free(a.mem)
		*a = argBuffer{}
	}
}

func (a *argBuffer) reset() *argBuffer {
	a.n, a.pos = 0, 0
	return a
}

// slot reserves size bytes at the given alignment for the next parameter.
func (a *argBuffer) slot(size, align int) []byte {
	pos := (a.pos + align - 1) &^ (align - 1)
	if a.n == len(a.offs) || pos+size > len(a.buf) {
		panic("cuda: too many kernel parameters")
	}
	a.offs[a.n] = C.int(pos)
	a.n++
	clear(a.buf[a.pos:pos]) // padding that stays the same, for the graphs' comparison of launches
	a.pos = pos + size
	return a.buf[pos : pos+size]
}

func (a *argBuffer) ptr(p C.mt_ptr) *argBuffer {
	binary.LittleEndian.PutUint64(a.slot(8, 8), uint64(p))
	return a
}

func (a *argBuffer) i64(v int) *argBuffer {
	binary.LittleEndian.PutUint64(a.slot(8, 8), uint64(int64(v)))
	return a
}

func (a *argBuffer) i32(v int) *argBuffer {
	if v != int(int32(v)) {
		panic(fmt.Sprintf("cuda: kernel parameter %d overflows int", v))
	}
	binary.LittleEndian.PutUint32(a.slot(4, 4), uint32(int32(v)))
	return a
}

func (a *argBuffer) f32(v float32) *argBuffer {
	binary.LittleEndian.PutUint32(a.slot(4, 4), math.Float32bits(v))
	return a
}

// ids writes kernels.cu's EmbedIds: embedIDs int32s, unused ones zero.
func (a *argBuffer) ids(ids []int32) *argBuffer {
	s := a.slot(4*embedIDs, 4)
	clear(s)
	for i, id := range ids {
		binary.LittleEndian.PutUint32(s[4*i:], uint32(id))
	}
	return a
}

// launch records kernel k on gx×gy blocks of threads threads with the parameters in b.args,
// to be queued when the tape is flushed (graph.go).
func (b *Backend) launch(k kernel, gx, gy, threads int) {
	if gx < 1 || gx > math.MaxInt32 || gy < 1 || gy > 65535 || threads < 1 || threads > 1024 {
		panic(fmt.Sprintf("cuda: %s launch of %d×%d blocks of %d threads", kernelNames[k], gx, gy, threads))
	}
	b.tape.record(k, b.fns[k], gx, gy, threads, &b.args)
	b.stats.Launches++
}

// gridFor sizes a grid-stride launch over n elements: enough blocks to fill the device.
func (b *Backend) gridFor(n int) int {
	return max(1, min((n+blockThreads-1)/blockThreads, b.sms*16))
}

// dtypeIndex is a weight's dtype as the kernels number it.
func dtypeIndex(dt tensor.DType) int {
	switch dt {
	case tensor.F32:
		return 0
	case tensor.F16:
		return 1
	case tensor.BF16:
		return 2
	}
	panic("cuda: weights of dtype " + dt.String())
}
