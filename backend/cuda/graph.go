//go:build linux && cgo

package cuda

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"fmt"
	"os"
	"unsafe"
)

// Kernel launches wait on the host, in a tape, until something needs their work done: a
// read, a sync, a cuBLAS call, a copy, a free. Then they are queued all at once, and a tape
// that repeats (a decode step: the same ~300 kernels on the same buffers, only the token id,
// the position and the attention's split count changing) runs as a CUDA graph: instantiated
// the second time it is seen, and replayed after updating the parameters of the nodes whose
// launch differs from the last replay's. One graph launch replaces hundreds of kernel
// launches, each of which costs the host a few microseconds, longer than many of the decode
// kernels run.
//
// GraphsEnv=0 turns graphs off (every tape launched kernel by kernel), for measuring one
// against the other; a driver without the graph entry points, or a graph call that fails,
// turns them off too, with a warning, and the tape's launches are queued one by one.
const GraphsEnv = "MINITRON_CUDA_GRAPHS"

const (
	// graphMinNodes is the shortest tape replayed as a graph: shorter ones launch directly.
	graphMinNodes = 16
	// graphCacheMax bounds the instantiated graphs kept, by their kernel sequence.
	graphCacheMax = 8
	// tapeArgAlign aligns each launch's parameters in the arena, as argBuffer's are.
	tapeArgAlign = 16
)

// tape is the launches not yet queued: C arrays of nodes and of their parameter bytes.
type tape struct {
	nodes    *C.mt_node
	nodesCap int
	arena    unsafe.Pointer
	arenaCap int
	used     int
	ks       []kernel // each node's kernel, for the graph key and messages: len(ks) nodes
	spans    [][2]int // each node's parameter bytes in the arena
}

// graph is an instantiated graph of a kernel sequence and the launches it last ran, which
// the next replay compares against to find the nodes to update.
type graph struct {
	g, exec unsafe.Pointer
	handles unsafe.Pointer // a CUgraphNode per node
	nodes   []C.mt_node
	args    [][]byte
}

// GraphStats count how the tapes went to the device (for tests and measurements).
type GraphStats struct {
	Launches int // kernel launches recorded
	Direct   int // of them queued one by one
	Replays  int // graph launches
	Builds   int // graphs instantiated
	Updated  int // nodes whose parameters a replay changed
}

func (t *tape) node(i int) *C.mt_node {
	return (*C.mt_node)(unsafe.Add(unsafe.Pointer(t.nodes), uintptr(i)*unsafe.Sizeof(C.mt_node{})))
}

func (t *tape) free() {
	C.free(unsafe.Pointer(t.nodes))
	C.free(t.arena)
	*t = tape{}
}

// record appends a launch of kernel fn with the parameters in a.
func (t *tape) record(k kernel, fn unsafe.Pointer, gx, gy, threads int, a *argBuffer) {
	if t.len() == t.nodesCap {
		t.nodesCap = max(64, 2*t.nodesCap)
		t.nodes = (*C.mt_node)(C.realloc(unsafe.Pointer(t.nodes), C.size_t(t.nodesCap)*C.size_t(unsafe.Sizeof(C.mt_node{}))))
		if t.nodes == nil {
			panic("cuda: out of host memory for the launch tape")
		}
	}
	base := (t.used + tapeArgAlign - 1) &^ (tapeArgAlign - 1)
	if base+a.pos > t.arenaCap {
		t.arenaCap = max(64<<10, 2*(base+a.pos))
		t.arena = C.realloc(t.arena, C.size_t(t.arenaCap))
		if t.arena == nil {
			panic("cuda: out of host memory for the launch tape")
		}
	}
	copy(unsafe.Slice((*byte)(unsafe.Add(t.arena, base)), a.pos), a.buf[:a.pos])
	nd := t.node(t.len())
	nd.fn, nd.gx, nd.gy, nd.bx, nd.nargs = fn, C.uint(gx), C.uint(gy), C.uint(threads), C.int(a.n)
	for i := range a.n {
		nd.offs[i] = C.int(base) + a.offs[i]
	}
	t.ks = append(t.ks, k)
	t.spans = append(t.spans, [2]int{base, base + a.pos})
	t.used = base + a.pos
}

func (t *tape) len() int { return len(t.ks) }

func (t *tape) reset() {
	t.used, t.ks, t.spans = 0, t.ks[:0], t.spans[:0]
}

func (t *tape) args(i int) []byte {
	s := t.spans[i]
	return unsafe.Slice((*byte)(unsafe.Add(t.arena, s[0])), s[1]-s[0])
}

// key identifies the tape's kernel sequence (FNV-1a): the graph that can replay it.
func (t *tape) key() uint64 {
	h := uint64(14695981039346656037)
	for _, k := range t.ks {
		h = (h ^ uint64(k)) * 1099511628211
	}
	return (h ^ uint64(t.len())) * 1099511628211
}

// graphsWanted reports whether this backend replays tapes as graphs.
func graphsWanted() bool { return os.Getenv(GraphsEnv) != "0" && C.mt_graph_has() != 0 }

// flush queues the tape's launches, as a graph where one replays it. Callers hold b.mu.
func (b *Backend) flush() {
	t := &b.tape
	if t.len() == 0 {
		return
	}
	defer t.reset()
	if b.err != nil {
		return
	}
	if b.graphs && t.len() >= graphMinNodes && b.replay() {
		return
	}
	b.stats.Direct += t.len()
	var failed C.int
	if r := C.mt_launch_nodes(b.dev, t.nodes, C.int(t.len()), (*C.char)(t.arena), &failed); r != 0 {
		name := "kernels"
		if failed >= 0 && int(failed) < len(t.ks) {
			name = kernelNames[t.ks[failed]]
		}
		b.note("cuLaunchKernel "+name, r)
	}
}

// replay runs the tape as a graph: the cached one for its kernel sequence, updated where its
// launches differ, or one built now if the sequence was also the last tape's. It reports
// false when the tape is still to be launched.
func (b *Backend) replay() bool {
	t := &b.tape
	key := t.key()
	g := b.graphCache[key]
	if g == nil {
		if key != b.lastTape {
			b.lastTape = key
			return false
		}
		var err error
		if g, err = b.buildGraph(); err != nil {
			b.disableGraphs(err)
			return false
		}
		if len(b.graphCache) >= graphCacheMax {
			b.freeGraphs()
		}
		b.graphCache[key] = g
	} else {
		for i := range t.len() {
			nd := t.node(i)
			if sameLaunch(&g.nodes[i], nd) && bytes.Equal(g.args[i], t.args(i)) {
				continue
			}
			h := *(*unsafe.Pointer)(unsafe.Add(g.handles, uintptr(i)*unsafe.Sizeof(unsafe.Pointer(nil))))
			if r := C.mt_graph_set(b.dev, g.exec, h, nd, (*C.char)(t.arena)); r != 0 {
				b.disableGraphs(statusError("cuGraphExecKernelNodeSetParams for "+kernelNames[t.ks[i]], r))
				return false
			}
			g.remember(i, nd, t.args(i))
			b.stats.Updated++
		}
	}
	if r := C.mt_graph_launch(b.dev, g.exec); r != 0 {
		// Nothing of the graph was queued: its launches go one by one, and graphs stop.
		b.disableGraphs(statusError("cuGraphLaunch", r))
		return false
	}
	b.stats.Replays++
	return true
}

// sameLaunch compares two launches but for their parameter bytes' place in the arena.
func sameLaunch(a, b *C.mt_node) bool {
	if a.fn != b.fn || a.gx != b.gx || a.gy != b.gy || a.bx != b.bx || a.nargs != b.nargs {
		return false
	}
	for i := range int(a.nargs) {
		if a.offs[i]-a.offs[0] != b.offs[i]-b.offs[0] {
			return false
		}
	}
	return true
}

func (g *graph) remember(i int, nd *C.mt_node, args []byte) {
	g.nodes[i] = *nd
	g.args[i] = append(g.args[i][:0], args...)
}

func (b *Backend) buildGraph() (*graph, error) {
	t := &b.tape
	g := &graph{nodes: make([]C.mt_node, t.len()), args: make([][]byte, t.len())}
	g.handles = C.calloc(C.size_t(t.len()), C.size_t(unsafe.Sizeof(unsafe.Pointer(nil))))
	if r := C.mt_graph_build(b.dev, t.nodes, C.int(t.len()), (*C.char)(t.arena), &g.g, &g.exec, (*unsafe.Pointer)(g.handles)); r != 0 {
		C.free(g.handles)
		return nil, statusError(fmt.Sprintf("building a graph of %d kernels", t.len()), r)
	}
	for i := range t.len() {
		g.remember(i, t.node(i), t.args(i))
	}
	b.stats.Builds++
	return g, nil
}

func (b *Backend) disableGraphs(err error) {
	b.graphs = false
	b.freeGraphs()
	if b.opts.Warn != nil {
		b.opts.Warn(fmt.Sprintf("cuda: CUDA graphs off, kernels launched one by one: %v", err))
	}
}

func (b *Backend) freeGraphs() {
	for k, g := range b.graphCache {
		C.mt_graph_free(b.dev, g.g, g.exec)
		C.free(g.handles)
		delete(b.graphCache, k)
	}
}

// Graphs returns what the tapes have done so far.
func (b *Backend) Graphs() GraphStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}
