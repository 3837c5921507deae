package pytorch

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// archive packs a data.pkl and storages (key, bytes, key, bytes, ...) as torch.save would.
func archive(t *testing.T, pkl []byte, storages ...any) []byte {
	t.Helper()
	ms := []member{{name: "archive/data.pkl", data: pkl}}
	for i := 0; i < len(storages); i += 2 {
		ms = append(ms, member{name: "archive/data/" + storages[i].(string), data: storages[i+1].([]byte)})
	}
	ms = append(ms, member{name: "archive/version", data: []byte("3\n")})
	return buildZip(t, ms, false)
}

// A pickle that runs a shell command when Python loads it is refused, naming what it imports.
func TestRefusesCode(t *testing.T) {
	pwn := newPickler().global("os", "system").str("touch /tmp/pwned").op(opTUPLE1, opREDUCE, opSTOP).Bytes()
	path := filepath.Join(t.TempDir(), "pytorch_model.bin")
	if err := os.WriteFile(path, archive(t, pwn), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	checkErr(t, "os.system", err, path, "archive/data.pkl", "global os.system is not allowed")

	for _, g := range [][2]string{
		{"builtins", "eval"}, {"__builtin__", "exec"}, {"posix", "system"}, {"nt", "system"},
		{"subprocess", "Popen"}, {"torch.serialization", "load"}, {"collections", "defaultdict"},
		{"torch", "Storage"}, {"numpy.core.multiarray", "_reconstruct"}, {"torch._utils", "_rebuild_qtensor"},
	} {
		name := g[0] + "." + g[1]
		p := newPickler().global(g[0], g[1]).op(opEMPTY_TUPLE, opREDUCE, opSTOP)
		_, err := unpickle(p.Bytes())
		checkErr(t, name, err, "global "+name+" is not allowed")

		// Protocol 4 imports through STACK_GLOBAL.
		p = newPickler().str(g[0]).str(g[1]).op(opSTACK_GLOBAL, opEMPTY_TUPLE, opREDUCE, opSTOP)
		_, err = unpickle(p.Bytes())
		checkErr(t, name+" (STACK_GLOBAL)", err, "global "+name+" is not allowed")
	}
	// Names that are not identifiers are quoted, so that they cannot dress up an error.
	_, err = unpickle(newPickler().str("os\x1b[2J").str("system").op(opSTACK_GLOBAL, opSTOP).Bytes())
	checkErr(t, "escape", err, `global "os\x1b[2J.system"`)
}

// Pickles no torch writes: each is refused with a reason, and nothing large is allocated.
func TestHostilePickles(t *testing.T) {
	u32 := func(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }
	u64 := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	for _, tc := range []struct {
		name string
		pkl  *pickler
		want string
	}{
		{"memo index 2^31", newPickler().op(opNONE, opLONG_BINPUT).op(u32(1 << 31)...).op(opSTOP), "memo index 2147483648 is out of range"},
		{"undefined memo", newPickler().op(opLONG_BINGET).op(u32(7)...).op(opSTOP), "memo index 7 is not defined"},
		{"string of 2^40 bytes", newPickler().op(opBINUNICODE8).op(u64(1 << 40)...).op(opSTOP), "needs 1099511627776 bytes"},
		{"string of 2^32-1 bytes", newPickler().op(opBINUNICODE).op(u32(1<<32 - 1)...).op(opSTOP), "needs 4294967295 bytes"},
		{"bytes of 2^64-1", newPickler().op(opBINBYTES8).op(u64(1<<64 - 1)...).op(opSTOP), "needs 18446744073709551615 bytes"},
		{"long of 9 bytes", newPickler().op(opLONG1, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, opSTOP), "does not fit 64 bits"},
		{"long4 of 2^31-1 bytes", newPickler().op(opLONG4).op(u32(1<<31 - 1)...).op(opSTOP), "does not fit 64 bits"},
		{"no STOP", newPickler().op(opEMPTY_DICT), "no STOP"},
		{"empty stack", newPickler().op(opSTOP), "stack underflow"},
		{"pop below mark", newPickler().op(opNONE, opMARK, opTUPLE1, opSTOP), "stack underflow"},
		{"no mark", newPickler().op(opTUPLE, opSTOP), "no MARK"},
		{"unterminated GLOBAL", newPickler().op(opGLOBAL, 'o', 's'), "unterminated line"},
		{"protocol 6", newPickler().op(opPROTO, 6), "protocol 6"},
		{"INST", newPickler().op('i').op([]byte("os\nsystem\n")...), "INST"},
		{"NEWOBJ", newPickler().global("torch", "Tensor").op(opEMPTY_TUPLE, 0x81, opSTOP), "NEWOBJ"},
		{"EXT1", newPickler().op(0x82, 1, opSTOP), "EXT1"},
		{"call a storage type", newPickler().global("torch", "FloatStorage").op(opEMPTY_TUPLE, opREDUCE, opSTOP), "torch.FloatStorage is not callable"},
		{"call a string", newPickler().str("os.system").op(opEMPTY_TUPLE, opREDUCE, opSTOP), "calling a str"},
		{"OrderedDict(items)", newPickler().global("collections", "OrderedDict").op(opEMPTY_LIST, opTUPLE1, opREDUCE, opSTOP), "1 arguments"},
		{"BUILD a tensor", newPickler().global("torch", "Tensor").op(opEMPTY_DICT, opBUILD, opSTOP), "setting the state of a torch.Tensor"},
		{"append to a dict", newPickler().op(opEMPTY_DICT, opNONE, opAPPEND, opSTOP), "not a list"},
		{"setitem on a list", newPickler().op(opEMPTY_LIST, opNONE, opNONE, opSETITEM, opSTOP), "not a dict"},
		{"tuple key", newPickler().op(opEMPTY_DICT, opEMPTY_TUPLE, opNONE, opSETITEM, opSTOP), "dict key of type tuple"},
		{"odd SETITEMS", newPickler().op(opEMPTY_DICT, opMARK, opNONE, opSETITEMS, opSTOP), "odd number"},
		{"persid of a str", newPickler().str("x").op(opBINPERSID, opSTOP), "persistent id is a str"},
		{"persid not storage", newPickler().op(opMARK).str("module").op(opNONE, opNONE, opNONE, opNONE, opTUPLE, opBINPERSID, opSTOP), "not 'storage'"},
		{"persid negative numel", newPickler().storage("FloatStorage", "0", -1).op(opSTOP), "element count is int -1"},
		{"65 dimensions", newPickler().global("torch._utils", "_rebuild_tensor").op(opMARK).storage("FloatStorage", "0", 1).
			int(0).ints(make([]int64, 65)...).ints(make([]int64, 65)...).op(opTUPLE, opREDUCE, opSTOP), "65 dimensions"},
		{"negative size", newPickler().global("torch._utils", "_rebuild_tensor").op(opMARK).storage("FloatStorage", "0", 1).
			int(0).ints(-1).ints(1).op(opTUPLE, opREDUCE, opSTOP), "tensor size 0 is int -1"},
		{"strides mismatch", newPickler().global("torch._utils", "_rebuild_tensor").op(opMARK).storage("FloatStorage", "0", 1).
			int(0).ints(1, 1).ints(1).op(opTUPLE, opREDUCE, opSTOP), "2 dimensions has 1 strides"},
		{"from_type of os.system", newPickler().global("torch._tensor", "_rebuild_from_type_v2").op(opMARK).
			global("collections", "OrderedDict").global("torch", "Tensor").op(opEMPTY_TUPLE, opNONE, opTUPLE, opREDUCE, opSTOP),
			"not a tensor rebuild function"},
	} {
		_, err := unpickle(tc.pkl.Bytes())
		checkErr(t, tc.name, err, tc.want)
	}
}

// State dicts whose tensors do not fit their storages; errors name the tensor and the entry.
func TestHostileTensors(t *testing.T) {
	f32 := make([]byte, 8*4) // a storage of 8 floats
	for _, tc := range []struct {
		name string
		spec tensorSpec
		want []string
	}{
		{"past the end", tensorSpec{"w", "FloatStorage", "0", 8, 6, []int64{4}, []int64{1}},
			[]string{`tensor "w"`, "reaches past the 8 elements", `"archive/data/0"`}},
		{"strided past the end", tensorSpec{"w", "FloatStorage", "0", 8, 0, []int64{2, 4}, []int64{4, 2}},
			[]string{`tensor "w"`, "reaches past"}},
		{"empty past the end", tensorSpec{"w", "FloatStorage", "0", 8, 9, []int64{0}, []int64{1}},
			[]string{`tensor "w"`, "reaches past"}},
		{"numel mismatch", tensorSpec{"w", "FloatStorage", "0", 100, 0, []int64{4}, []int64{1}},
			[]string{`tensor "w"`, `storage "archive/data/0" holds 32 bytes`, "100 FloatStorage elements"}},
		{"dtype mismatch", tensorSpec{"w", "HalfStorage", "0", 8, 0, []int64{4}, []int64{1}},
			[]string{`tensor "w"`, "holds 32 bytes"}},
		{"huge shape", tensorSpec{"w", "FloatStorage", "0", 8, 0, []int64{1 << 62, 1 << 62}, []int64{1, 1}},
			[]string{`tensor "w"`, "too many elements"}},
		{"huge stride", tensorSpec{"w", "FloatStorage", "0", 8, 0, []int64{2}, []int64{1 << 62}},
			[]string{`tensor "w"`, "reaches past"}},
		{"huge extent", tensorSpec{"w", "FloatStorage", "0", 8, 1<<63 - 1, []int64{2}, []int64{1}},
			[]string{`tensor "w"`, "reaches past"}},
		{"expanded", tensorSpec{"w", "FloatStorage", "0", 8, 0, []int64{1 << 40}, []int64{0}},
			[]string{`tensor "w"`, "expanded view"}},
		{"missing", tensorSpec{"w", "FloatStorage", "7", 8, 0, []int64{8}, []int64{1}},
			[]string{`tensor "w"`, `storage entry "archive/data/7" is missing`}},
	} {
		_, err := parse(archive(t, statePickle(tc.spec), "0", f32))
		checkErr(t, tc.name, err, tc.want...)
	}

	// Not a flat state dict.
	nested := newPickler().op(opEMPTY_DICT).str("model").op(opEMPTY_DICT, opSETITEM, opSTOP).Bytes()
	_, err := parse(archive(t, nested))
	checkErr(t, "nested", err, `entry "model" is a dict, not a tensor`)
	list := newPickler().op(opEMPTY_LIST, opSTOP).Bytes()
	_, err = parse(archive(t, list))
	checkErr(t, "list", err, "holds a list, not a state dict")
	intKey := newPickler().op(opEMPTY_DICT).int(1).op(opNONE, opSETITEM, opSTOP).Bytes()
	_, err = parse(archive(t, intKey))
	checkErr(t, "int key", err, "key int 1 is not a string")
}

// Hand-made state dicts that torch could write and the fixtures do not cover.
func TestStateDicts(t *testing.T) {
	f32 := make([]byte, 8*4)
	for i := range f32 {
		f32[i] = byte(i)
	}
	i64 := make([]byte, 3*8)

	// Two tensors share a storage; an int64 tensor is skipped; a zero-size tensor.
	pkl := statePickle(
		tensorSpec{"a", "FloatStorage", "0", 8, 0, []int64{2, 2}, []int64{2, 1}},
		tensorSpec{"b", "FloatStorage", "0", 8, 4, []int64{4}, []int64{1}},
		tensorSpec{"c", "FloatStorage", "0", 8, 1, []int64{2, 2}, []int64{1, 2}}, // transposed, offset 1
		tensorSpec{"ids", "LongStorage", "1", 3, 0, []int64{3}, []int64{1}},
		tensorSpec{"none", "FloatStorage", "0", 8, 8, []int64{0, 5}, []int64{5, 1}},
	)
	f, err := parse(archive(t, pkl, "0", f32, "1", i64))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names(), []string{"a", "b", "c", "none"}) || !slices.Equal(f.Skipped(), []string{"ids"}) {
		t.Fatalf("names %v, skipped %v", f.Names(), f.Skipped())
	}
	floats := func(idx ...int) []byte {
		var b []byte
		for _, i := range idx {
			b = append(b, f32[4*i:4*i+4]...)
		}
		return b
	}
	checkTensor(t, f, "a", fixture{"F32", []int{2, 2}, floats(0, 1, 2, 3)})
	checkTensor(t, f, "b", fixture{"F32", []int{4}, floats(4, 5, 6, 7)})
	checkTensor(t, f, "c", fixture{"F32", []int{2, 2}, floats(1, 3, 2, 4)})
	checkTensor(t, f, "none", fixture{"F32", []int{0, 5}, []byte{}})

	// Torch 2.x: _rebuild_tensor_v2 with a metadata dict; a Parameter with state; a tensor
	// subclass through _rebuild_from_type_v2.
	p := newPickler().op(opEMPTY_DICT, opMARK)
	p.str("meta").global("torch._utils", "_rebuild_tensor_v2").op(opMARK).storage("BFloat16Storage", "0", 16).
		int(2).ints(3).ints(1).op(opNEWFALSE, opEMPTY_DICT, opEMPTY_DICT, opTUPLE, opREDUCE)
	p.str("param").global("torch._utils", "_rebuild_parameter_with_state").op(opMARK).
		global("torch._utils", "_rebuild_tensor").op(opMARK).storage("HalfStorage", "0", 16).int(0).ints(16).ints(1).op(opTUPLE, opREDUCE).
		op(opNEWTRUE, opEMPTY_DICT, opEMPTY_DICT, opTUPLE, opREDUCE)
	p.str("sub").global("torch._tensor", "_rebuild_from_type_v2").op(opMARK).
		global("torch._utils", "_rebuild_tensor").global("torch.nn.parameter", "Parameter").
		op(opMARK).storage("FloatStorage", "0", 8).int(0).ints(8).ints(1).op(opTUPLE, opEMPTY_DICT, opTUPLE, opREDUCE)
	p.str("dtype").global("torch", "bfloat16") // an inert value: not a tensor, so refused below
	p.op(opPOP, opPOP)                         // ... once we drop it again
	p.op(opSETITEMS, opSTOP)
	f, err = parse(archive(t, p.Bytes(), "0", f32))
	if err != nil {
		t.Fatal(err)
	}
	checkTensor(t, f, "meta", fixture{"BF16", []int{3}, f32[4:10]})
	checkTensor(t, f, "param", fixture{"F16", []int{16}, f32})
	checkTensor(t, f, "sub", fixture{"F32", []int{8}, f32})
}
