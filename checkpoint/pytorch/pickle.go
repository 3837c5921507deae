package pytorch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/minitron-go/minitron/tensor"
)

// The unpickler below reads the pickle that torch.save writes for a state dict (data.pkl) and
// nothing more. A pickle is a program: its GLOBAL and REDUCE opcodes import and call arbitrary
// Python functions, which is how a malicious checkpoint runs os.system. Here GLOBAL resolves only
// the handful of names a state dict needs (allowedGlobals) and refuses every other one by name;
// REDUCE "calls" only those, and calling means building an inert Go value. Nothing is executed.
//
// Every length and index the pickle states is checked against the bytes that remain before
// anything is allocated, so that what the unpickler holds is at most a constant factor of the
// input's size: each opcode consumes at least one byte and adds at most one value, strings are
// cut from the input, and memo indices may not exceed the input's length (a pickler numbers its
// memo entries 0, 1, 2, ... one opcode apiece).
//
// Opcodes are those of protocols 2 to 5 (torch.save writes protocol 2 unless told otherwise)
// that can appear in a state dict; the rest (INST, OBJ, NEWOBJ, EXT*, text-mode opcodes,
// out-of-band buffers) are refused.

// Python values. Lists and dicts are pointers because pickles mutate them after memoizing them.
type (
	pyNone  struct{}
	pyBytes string
	pyTuple []any
	pyList  struct{ items []any }
	pyDict  struct {
		keys, vals []any
		index      map[any]int
	}
)

// pyGlobal is a name that GLOBAL may import: a rebuild function, a type, a storage type or a dtype.
type pyGlobal struct {
	name    string // module.name
	kind    globalKind
	storage *storageType // for storageClass
}

type globalKind uint8

const (
	orderedDict globalKind = iota + 1
	rebuildTensor
	rebuildTensorV2
	rebuildParameter
	rebuildParameterWithState
	rebuildFromTypeV2
	tensorClass  // torch.Tensor, torch.nn.Parameter: only as _rebuild_from_type_v2's type argument
	storageClass // torch.FloatStorage etc.: only inside a storage's persistent id
	dtypeValue   // torch.float32 etc.: inert
)

// storageType is one of torch's typed storage classes.
type storageType struct {
	name     string
	size     int          // bytes per element
	dtype    tensor.DType // when loadable
	loadable bool         // F32, F16 or BF16: the dtypes minitron computes with
}

// storageRef is a storage named by a persistent id, ('storage', type, key, location, numel):
// numel elements of type in the archive's data/<key>.
type storageRef struct {
	typ      *storageType
	key      string
	location string // the device it was saved from ("cpu", "cuda:0"); the bytes are the same
	numel    int64
}

// tensorRef is a view of a storage, as _rebuild_tensor_v2 describes it.
type tensorRef struct {
	storage *storageRef
	offset  int64 // in elements
	size    []int64
	stride  []int64 // in elements
}

var allowedGlobals = map[string]*pyGlobal{}

func init() {
	for name, kind := range map[string]globalKind{
		"collections.OrderedDict":                    orderedDict,
		"torch._utils._rebuild_tensor":               rebuildTensor,
		"torch._utils._rebuild_tensor_v2":            rebuildTensorV2,
		"torch._utils._rebuild_parameter":            rebuildParameter,
		"torch._utils._rebuild_parameter_with_state": rebuildParameterWithState,
		"torch._tensor._rebuild_from_type_v2":        rebuildFromTypeV2,
		"torch.Tensor":                               tensorClass,
		"torch.nn.parameter.Parameter":               tensorClass,
	} {
		allowedGlobals[name] = &pyGlobal{name: name, kind: kind}
	}
	for _, s := range []storageType{
		{name: "FloatStorage", size: 4, dtype: tensor.F32, loadable: true},
		{name: "HalfStorage", size: 2, dtype: tensor.F16, loadable: true},
		{name: "BFloat16Storage", size: 2, dtype: tensor.BF16, loadable: true},
		{name: "DoubleStorage", size: 8},
		{name: "LongStorage", size: 8},
		{name: "IntStorage", size: 4},
		{name: "ShortStorage", size: 2},
		{name: "CharStorage", size: 1},
		{name: "ByteStorage", size: 1},
		{name: "BoolStorage", size: 1},
		{name: "ComplexFloatStorage", size: 8},
		{name: "ComplexDoubleStorage", size: 16},
		{name: "QInt8Storage", size: 1},
		{name: "QUInt8Storage", size: 1},
		{name: "QInt32Storage", size: 4},
		{name: "QUInt4x2Storage", size: 1},
		{name: "QUInt2x4Storage", size: 1},
	} {
		name := "torch." + s.name
		allowedGlobals[name] = &pyGlobal{name: name, kind: storageClass, storage: &s}
	}
	for _, d := range []string{
		"float32", "float", "float16", "half", "bfloat16", "float64", "double",
		"int64", "long", "int32", "int", "int16", "short", "int8", "uint8", "bool",
		"complex64", "complex128",
	} {
		name := "torch." + d
		allowedGlobals[name] = &pyGlobal{name: name, kind: dtypeValue}
	}
}

// Limits beyond those the input's length implies.
const (
	maxDims    = 64 // dimensions of a tensor
	maxLongLen = 8  // bytes of a LONG1/LONG4 integer: it must fit an int64
)

const (
	opMARK             = '('
	opSTOP             = '.'
	opPOP              = '0'
	opPOP_MARK         = '1'
	opDUP              = '2'
	opBINFLOAT         = 'G'
	opBININT           = 'J'
	opBININT1          = 'K'
	opBININT2          = 'M'
	opNONE             = 'N'
	opBINPERSID        = 'Q'
	opREDUCE           = 'R'
	opBINSTRING        = 'T'
	opSHORT_BINSTRING  = 'U'
	opBINUNICODE       = 'X'
	opAPPEND           = 'a'
	opBUILD            = 'b'
	opGLOBAL           = 'c'
	opDICT             = 'd'
	opEMPTY_DICT       = '}'
	opAPPENDS          = 'e'
	opBINGET           = 'h'
	opLONG_BINGET      = 'j'
	opLIST             = 'l'
	opEMPTY_LIST       = ']'
	opBINPUT           = 'q'
	opLONG_BINPUT      = 'r'
	opSETITEM          = 's'
	opTUPLE            = 't'
	opEMPTY_TUPLE      = ')'
	opSETITEMS         = 'u'
	opBINBYTES         = 'B'
	opSHORT_BINBYTES   = 'C'
	opPROTO            = 0x80
	opTUPLE1           = 0x85
	opTUPLE2           = 0x86
	opTUPLE3           = 0x87
	opNEWTRUE          = 0x88
	opNEWFALSE         = 0x89
	opLONG1            = 0x8a
	opLONG4            = 0x8b
	opSHORT_BINUNICODE = 0x8c
	opBINUNICODE8      = 0x8d
	opBINBYTES8        = 0x8e
	opSTACK_GLOBAL     = 0x93
	opMEMOIZE          = 0x94
	opFRAME            = 0x95
)

type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int // stack lengths at each MARK
	memo  map[uint64]any
}

// unpickle runs the pickle data and returns the value it builds.
func unpickle(data []byte) (any, error) {
	u := &unpickler{data: data, memo: make(map[uint64]any)}
	for {
		at := u.pos
		if at >= len(data) {
			return nil, fmt.Errorf("pickle truncated at offset %d: no STOP opcode", at)
		}
		op := data[at]
		u.pos++
		v, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("pickle offset %d (opcode %s): %w", at, opName(op), err)
		}
		if op == opSTOP {
			return v, nil
		}
	}
}

// step runs one opcode; for STOP it returns the result.
func (u *unpickler) step(op byte) (any, error) {
	le := binary.LittleEndian
	switch op {
	case opPROTO:
		b, err := u.take(1)
		if err != nil {
			return nil, err
		}
		if b[0] > 5 {
			return nil, fmt.Errorf("unsupported pickle protocol %d", b[0])
		}
	case opFRAME:
		// Frames only group opcodes for buffered reading; the whole pickle is already in memory.
		if _, err := u.take(8); err != nil {
			return nil, err
		}
	case opSTOP:
		return u.pop()
	case opMARK:
		u.marks = append(u.marks, len(u.stack))
	case opPOP:
		if len(u.stack) > u.base() {
			u.stack = u.stack[:len(u.stack)-1]
		} else if _, err := u.popMark(); err != nil {
			return nil, err
		}
	case opPOP_MARK:
		if _, err := u.popMark(); err != nil {
			return nil, err
		}
	case opDUP:
		v, err := u.peek()
		if err != nil {
			return nil, err
		}
		u.push(v)

	case opNONE:
		u.push(pyNone{})
	case opNEWTRUE:
		u.push(true)
	case opNEWFALSE:
		u.push(false)
	case opBININT:
		b, err := u.take(4)
		if err != nil {
			return nil, err
		}
		u.push(int64(int32(le.Uint32(b))))
	case opBININT1:
		b, err := u.take(1)
		if err != nil {
			return nil, err
		}
		u.push(int64(b[0]))
	case opBININT2:
		b, err := u.take(2)
		if err != nil {
			return nil, err
		}
		u.push(int64(le.Uint16(b)))
	case opLONG1, opLONG4:
		var n uint64
		if op == opLONG1 {
			b, err := u.take(1)
			if err != nil {
				return nil, err
			}
			n = uint64(b[0])
		} else {
			b, err := u.take(4)
			if err != nil {
				return nil, err
			}
			if int32(le.Uint32(b)) < 0 {
				return nil, errors.New("negative length")
			}
			n = uint64(le.Uint32(b))
		}
		if n > maxLongLen {
			return nil, fmt.Errorf("integer of %d bytes does not fit 64 bits", n)
		}
		b, err := u.take(n)
		if err != nil {
			return nil, err
		}
		var v int64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | int64(b[i])
		}
		if n > 0 && n < 8 && b[n-1]&0x80 != 0 { // two's complement: extend the sign
			v -= 1 << (8 * n)
		}
		u.push(v)
	case opBINFLOAT:
		b, err := u.take(8)
		if err != nil {
			return nil, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case opSHORT_BINUNICODE, opBINUNICODE, opBINUNICODE8, opSHORT_BINSTRING, opBINSTRING:
		b, err := u.counted(op)
		if err != nil {
			return nil, err
		}
		u.push(string(b))
	case opSHORT_BINBYTES, opBINBYTES, opBINBYTES8:
		b, err := u.counted(op)
		if err != nil {
			return nil, err
		}
		u.push(pyBytes(b))

	case opEMPTY_TUPLE:
		u.push(pyTuple(nil))
	case opTUPLE1, opTUPLE2, opTUPLE3:
		n := int(op-opTUPLE1) + 1
		if len(u.stack)-u.base() < n {
			return nil, errors.New("stack underflow")
		}
		t := make(pyTuple, n)
		copy(t, u.stack[len(u.stack)-n:])
		u.stack = u.stack[:len(u.stack)-n]
		u.push(t)
	case opTUPLE:
		items, err := u.popMark()
		if err != nil {
			return nil, err
		}
		u.push(append(pyTuple(nil), items...))
	case opEMPTY_LIST:
		u.push(&pyList{})
	case opLIST:
		items, err := u.popMark()
		if err != nil {
			return nil, err
		}
		u.push(&pyList{items: append([]any(nil), items...)})
	case opAPPEND:
		v, err := u.pop()
		if err != nil {
			return nil, err
		}
		l, err := u.peekList()
		if err != nil {
			return nil, err
		}
		l.items = append(l.items, v)
	case opAPPENDS:
		items, err := u.popMark()
		if err != nil {
			return nil, err
		}
		l, err := u.peekList()
		if err != nil {
			return nil, err
		}
		l.items = append(l.items, items...)
	case opEMPTY_DICT:
		u.push(&pyDict{})
	case opDICT:
		items, err := u.popMark()
		if err != nil {
			return nil, err
		}
		d := &pyDict{}
		if err := d.setPairs(items); err != nil {
			return nil, err
		}
		u.push(d)
	case opSETITEM:
		if len(u.stack)-u.base() < 3 {
			return nil, errors.New("stack underflow")
		}
		kv := u.stack[len(u.stack)-2:]
		u.stack = u.stack[:len(u.stack)-2]
		d, err := u.peekDict()
		if err != nil {
			return nil, err
		}
		if err := d.setPairs(kv); err != nil {
			return nil, err
		}
	case opSETITEMS:
		items, err := u.popMark()
		if err != nil {
			return nil, err
		}
		d, err := u.peekDict()
		if err != nil {
			return nil, err
		}
		if err := d.setPairs(items); err != nil {
			return nil, err
		}

	case opBINPUT, opLONG_BINPUT, opMEMOIZE:
		var i uint64
		switch op {
		case opBINPUT:
			b, err := u.take(1)
			if err != nil {
				return nil, err
			}
			i = uint64(b[0])
		case opLONG_BINPUT:
			b, err := u.take(4)
			if err != nil {
				return nil, err
			}
			i = uint64(le.Uint32(b))
		default:
			i = uint64(len(u.memo))
		}
		if i > uint64(len(u.data)) {
			return nil, fmt.Errorf("memo index %d is out of range for a pickle of %d bytes", i, len(u.data))
		}
		v, err := u.peek()
		if err != nil {
			return nil, err
		}
		u.memo[i] = v
	case opBINGET, opLONG_BINGET:
		var i uint64
		if op == opBINGET {
			b, err := u.take(1)
			if err != nil {
				return nil, err
			}
			i = uint64(b[0])
		} else {
			b, err := u.take(4)
			if err != nil {
				return nil, err
			}
			i = uint64(le.Uint32(b))
		}
		v, ok := u.memo[i]
		if !ok {
			return nil, fmt.Errorf("memo index %d is not defined", i)
		}
		u.push(v)

	case opGLOBAL:
		module, err := u.line()
		if err != nil {
			return nil, err
		}
		name, err := u.line()
		if err != nil {
			return nil, err
		}
		g, err := lookupGlobal(module, name)
		if err != nil {
			return nil, err
		}
		u.push(g)
	case opSTACK_GLOBAL:
		if len(u.stack)-u.base() < 2 {
			return nil, errors.New("stack underflow")
		}
		module, ok1 := u.stack[len(u.stack)-2].(string)
		name, ok2 := u.stack[len(u.stack)-1].(string)
		if !ok1 || !ok2 {
			return nil, errors.New("module and name are not strings")
		}
		u.stack = u.stack[:len(u.stack)-2]
		g, err := lookupGlobal(module, name)
		if err != nil {
			return nil, err
		}
		u.push(g)
	case opREDUCE:
		if len(u.stack)-u.base() < 2 {
			return nil, errors.New("stack underflow")
		}
		fn, args := u.stack[len(u.stack)-2], u.stack[len(u.stack)-1]
		u.stack = u.stack[:len(u.stack)-2]
		v, err := call(fn, args)
		if err != nil {
			return nil, err
		}
		u.push(v)
	case opBUILD:
		state, err := u.pop()
		if err != nil {
			return nil, err
		}
		obj, err := u.peek()
		if err != nil {
			return nil, err
		}
		if err := build(obj, state); err != nil {
			return nil, err
		}
	case opBINPERSID:
		pid, err := u.pop()
		if err != nil {
			return nil, err
		}
		s, err := persistentLoad(pid)
		if err != nil {
			return nil, err
		}
		u.push(s)

	default:
		return nil, errors.New("opcode not supported in a state dict")
	}
	return nil, nil
}

// take consumes the next n bytes.
func (u *unpickler) take(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, fmt.Errorf("needs %d bytes, but only %d remain", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

// counted reads the bytes of a string opcode, after its 1-, 4- or 8-byte length.
func (u *unpickler) counted(op byte) ([]byte, error) {
	var width uint64
	switch op {
	case opSHORT_BINUNICODE, opSHORT_BINSTRING, opSHORT_BINBYTES:
		width = 1
	case opBINUNICODE, opBINSTRING, opBINBYTES:
		width = 4
	default:
		width = 8
	}
	b, err := u.take(width)
	if err != nil {
		return nil, err
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b))
		if op == opBINSTRING && int32(n) < 0 {
			return nil, errors.New("negative length")
		}
	case 8:
		n = binary.LittleEndian.Uint64(b)
	}
	return u.take(n)
}

// line reads a newline-terminated argument of GLOBAL.
func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errors.New("unterminated line")
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

// base is the bottom of the stack that opcodes may reach: nothing below the last MARK.
func (u *unpickler) base() int {
	if len(u.marks) == 0 {
		return 0
	}
	return u.marks[len(u.marks)-1]
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) <= u.base() {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) peek() (any, error) {
	if len(u.stack) <= u.base() {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

func (u *unpickler) peekList() (*pyList, error) {
	v, err := u.peek()
	if err != nil {
		return nil, err
	}
	l, ok := v.(*pyList)
	if !ok {
		return nil, fmt.Errorf("appending to a %s, not a list", describe(v))
	}
	return l, nil
}

func (u *unpickler) peekDict() (*pyDict, error) {
	v, err := u.peek()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("setting items of a %s, not a dict", describe(v))
	}
	return d, nil
}

// popMark removes and returns what was pushed since the last MARK. The result aliases the
// stack: use it before the next push.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := u.stack[m:]
	u.stack = u.stack[:m]
	return items, nil
}

// setPairs sets key, value, key, value, ...
func (d *pyDict) setPairs(kv []any) error {
	if len(kv)%2 != 0 {
		return fmt.Errorf("odd number (%d) of keys and values", len(kv))
	}
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		switch k.(type) {
		case string, int64, bool, float64, pyBytes, pyNone:
		default: // in particular tuples, which Go cannot hash
			return fmt.Errorf("dict key of type %s is not supported", describe(k))
		}
		if d.index == nil {
			d.index = make(map[any]int)
		}
		if j, ok := d.index[k]; ok {
			d.vals[j] = v
			continue
		}
		d.index[k] = len(d.keys)
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, v)
	}
	return nil
}

func lookupGlobal(module, name string) (*pyGlobal, error) {
	full := module + "." + name
	if g, ok := allowedGlobals[full]; ok {
		return g, nil
	}
	return nil, fmt.Errorf("global %s is not allowed: a state dict holds only tensors, their storages "+
		"and OrderedDicts, and this reader imports nothing else", dotted(full))
}

// call is REDUCE: it applies one of the rebuild functions to its arguments.
func call(fn, args any) (any, error) {
	g, ok := fn.(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("calling a %s", describe(fn))
	}
	a, ok := args.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s called with a %s, not an argument tuple", g.name, describe(args))
	}
	nargs := func(want ...int) error {
		for _, n := range want {
			if len(a) == n {
				return nil
			}
		}
		return fmt.Errorf("%s called with %d arguments", g.name, len(a))
	}
	switch g.kind {
	case orderedDict:
		if err := nargs(0); err != nil {
			return nil, err
		}
		return &pyDict{}, nil
	case rebuildTensor:
		if err := nargs(4); err != nil {
			return nil, err
		}
		return newTensorRef(a[0], a[1], a[2], a[3])
	case rebuildTensorV2:
		// (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]);
		// the last three do not change the bytes.
		if err := nargs(6, 7); err != nil {
			return nil, err
		}
		return newTensorRef(a[0], a[1], a[2], a[3])
	case rebuildParameter, rebuildParameterWithState:
		// (data, requires_grad, backward_hooks[, state]): a Parameter is its data.
		want := 3
		if g.kind == rebuildParameterWithState {
			want = 4
		}
		if err := nargs(want); err != nil {
			return nil, err
		}
		t, ok := a[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%s of a %s, not a tensor", g.name, describe(a[0]))
		}
		return t, nil
	case rebuildFromTypeV2:
		// (func, new_type, args, state): how torch saves a tensor subclass or one with Python
		// attributes; we keep the tensor and drop the rest.
		if err := nargs(4); err != nil {
			return nil, err
		}
		f, ok := a[0].(*pyGlobal)
		if !ok || (f.kind != rebuildTensor && f.kind != rebuildTensorV2 && f.kind != rebuildParameter &&
			f.kind != rebuildParameterWithState) {
			return nil, fmt.Errorf("%s of a %s, not a tensor rebuild function", g.name, describe(a[0]))
		}
		if t, ok := a[1].(*pyGlobal); !ok || t.kind != tensorClass {
			return nil, fmt.Errorf("%s to type %s, not a tensor type", g.name, describe(a[1]))
		}
		return call(f, a[2])
	}
	return nil, fmt.Errorf("%s is not callable", g.name)
}

// build is BUILD, which sets an object's attributes. torch uses it for the _metadata that
// Module.state_dict attaches to its OrderedDict (module versions); we accept and drop it.
func build(obj, state any) error {
	if _, ok := obj.(*pyDict); !ok {
		return fmt.Errorf("setting the state of a %s", describe(obj))
	}
	ok := func(v any) bool {
		switch v.(type) {
		case *pyDict, pyNone:
			return true
		}
		return false
	}
	if t, isTuple := state.(pyTuple); isTuple && len(t) == 2 && ok(t[0]) && ok(t[1]) || ok(state) {
		return nil
	}
	return fmt.Errorf("dict state of type %s", describe(state))
}

// persistentLoad is BINPERSID: the pid ('storage', type, key, location, numel) names a storage.
func persistentLoad(pid any) (*storageRef, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, not a 5-tuple ('storage', type, key, location, numel)", describe(pid))
	}
	if tag, _ := t[0].(string); tag != "storage" {
		return nil, fmt.Errorf("persistent id of kind %s, not 'storage'", describe(t[0]))
	}
	g, ok := t[1].(*pyGlobal)
	if !ok || g.kind != storageClass {
		return nil, fmt.Errorf("storage type is a %s", describe(t[1]))
	}
	var key string
	switch k := t[2].(type) {
	case string:
		key = k
	case int64:
		key = strconv.FormatInt(k, 10)
	default:
		return nil, fmt.Errorf("storage key is a %s", describe(t[2]))
	}
	location, ok := t[3].(string)
	if !ok {
		return nil, fmt.Errorf("storage %s: location is a %s", quote(key), describe(t[3]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, fmt.Errorf("storage %s: element count is %s", quote(key), describe(t[4]))
	}
	return &storageRef{typ: g.storage, key: key, location: location, numel: numel}, nil
}

func newTensorRef(storage, offset, size, stride any) (*tensorRef, error) {
	s, ok := storage.(*storageRef)
	if !ok {
		return nil, fmt.Errorf("tensor storage is a %s", describe(storage))
	}
	off, ok := offset.(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("tensor storage offset is %s", describe(offset))
	}
	sz, err := ints("size", size)
	if err != nil {
		return nil, err
	}
	st, err := ints("stride", stride)
	if err != nil {
		return nil, err
	}
	if len(sz) != len(st) {
		return nil, fmt.Errorf("tensor of %d dimensions has %d strides", len(sz), len(st))
	}
	return &tensorRef{storage: s, offset: off, size: sz, stride: st}, nil
}

// ints reads a tuple of non-negative integers: a tensor's size or stride.
func ints(what string, v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s is a %s, not a tuple", what, describe(v))
	}
	if len(t) > maxDims {
		return nil, fmt.Errorf("tensor %s has %d dimensions (at most %d)", what, len(t), maxDims)
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("tensor %s %d is %s", what, i, describe(x))
		}
		out[i] = n
	}
	return out, nil
}

// describe names a value's type for an error message, without walking into it (values may be
// cyclic, and they come from an untrusted file).
func describe(v any) string {
	switch v := v.(type) {
	case pyNone:
		return "None"
	case bool:
		return "bool " + strconv.FormatBool(v)
	case int64:
		return "int " + strconv.FormatInt(v, 10)
	case float64:
		return "float"
	case string:
		return "str " + quote(v)
	case pyBytes:
		return "bytes"
	case pyTuple:
		return fmt.Sprintf("tuple of %d", len(v))
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pyGlobal:
		return v.name
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// quote formats a string from the file for an error message: quoted, escaped and cut short.
func quote(s string) string {
	const max = 200
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// dotted formats a module.name: as it is if it looks like one, quoted otherwise.
func dotted(s string) string {
	if len(s) > 200 {
		return quote(s)
	}
	for _, c := range s {
		if !(c == '.' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return quote(s)
		}
	}
	return s
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", op)
}

var opNames = map[byte]string{
	opMARK: "MARK", opSTOP: "STOP", opPOP: "POP", opPOP_MARK: "POP_MARK", opDUP: "DUP",
	opBINFLOAT: "BINFLOAT", opBININT: "BININT", opBININT1: "BININT1", opBININT2: "BININT2",
	opNONE: "NONE", opBINPERSID: "BINPERSID", opREDUCE: "REDUCE", opBINSTRING: "BINSTRING",
	opSHORT_BINSTRING: "SHORT_BINSTRING", opBINUNICODE: "BINUNICODE", opAPPEND: "APPEND",
	opBUILD: "BUILD", opGLOBAL: "GLOBAL", opDICT: "DICT", opEMPTY_DICT: "EMPTY_DICT",
	opAPPENDS: "APPENDS", opBINGET: "BINGET", opLONG_BINGET: "LONG_BINGET", opLIST: "LIST",
	opEMPTY_LIST: "EMPTY_LIST", opBINPUT: "BINPUT", opLONG_BINPUT: "LONG_BINPUT",
	opSETITEM: "SETITEM", opTUPLE: "TUPLE", opEMPTY_TUPLE: "EMPTY_TUPLE", opSETITEMS: "SETITEMS",
	opBINBYTES: "BINBYTES", opSHORT_BINBYTES: "SHORT_BINBYTES", opPROTO: "PROTO",
	opTUPLE1: "TUPLE1", opTUPLE2: "TUPLE2", opTUPLE3: "TUPLE3", opNEWTRUE: "NEWTRUE",
	opNEWFALSE: "NEWFALSE", opLONG1: "LONG1", opLONG4: "LONG4",
	opSHORT_BINUNICODE: "SHORT_BINUNICODE", opBINUNICODE8: "BINUNICODE8",
	opBINBYTES8: "BINBYTES8", opSTACK_GLOBAL: "STACK_GLOBAL", opMEMOIZE: "MEMOIZE",
	opFRAME: "FRAME",
	// Refused, but named so that the error says what the file tried.
	'i': "INST", 'o': "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2",
	0x84: "EXT4", 'P': "PERSID", 'I': "INT", 'L': "LONG", 'S': "STRING", 'V': "UNICODE",
	'F': "FLOAT", 'g': "GET", 'p': "PUT", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
	0x98: "READONLY_BUFFER", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
}
