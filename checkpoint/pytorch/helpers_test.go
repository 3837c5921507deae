package pytorch

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// pickler assembles pickles opcode by opcode, for inputs torch would never write.
type pickler struct{ bytes.Buffer }

func newPickler() *pickler {
	p := &pickler{}
	p.op(opPROTO, 2)
	return p
}

func (p *pickler) op(b ...byte) *pickler { p.Write(b); return p }

func (p *pickler) str(s string) *pickler {
	p.op(opBINUNICODE)
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pickler) int(n int64) *pickler {
	switch {
	case n >= 0 && n < 256:
		p.op(opBININT1, byte(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		p.op(opBININT)
		binary.Write(p, binary.LittleEndian, int32(n))
	default:
		p.op(opLONG1, 8)
		binary.Write(p, binary.LittleEndian, n)
	}
	return p
}

func (p *pickler) ints(ns ...int64) *pickler {
	p.op(opMARK)
	for _, n := range ns {
		p.int(n)
	}
	return p.op(opTUPLE)
}

func (p *pickler) global(module, name string) *pickler {
	p.op(opGLOBAL)
	p.WriteString(module + "\n" + name + "\n")
	return p
}

// storage writes the persistent id of a storage and loads it.
func (p *pickler) storage(typ, key string, numel int64) *pickler {
	p.op(opMARK).str("storage").global("torch", typ).str(key).str("cpu").int(numel).op(opTUPLE)
	return p.op(opBINPERSID)
}

// tensorSpec is one tensor of a state dict that statePickle writes.
type tensorSpec struct {
	name, typ, key string
	numel, offset  int64
	size, stride   []int64
}

// statePickle writes a state dict as torch.save does: {name: _rebuild_tensor_v2(...)}.
func statePickle(specs ...tensorSpec) []byte {
	p := newPickler()
	p.global("collections", "OrderedDict").op(opEMPTY_TUPLE, opREDUCE, opMARK)
	for _, s := range specs {
		p.str(s.name).global("torch._utils", "_rebuild_tensor_v2").op(opMARK)
		p.storage(s.typ, s.key, s.numel).int(s.offset).ints(s.size...).ints(s.stride...)
		p.op(opNEWFALSE).global("collections", "OrderedDict").op(opEMPTY_TUPLE, opREDUCE)
		p.op(opTUPLE, opREDUCE)
	}
	p.op(opSETITEMS, opSTOP)
	return p.Bytes()
}

// member is one entry of a zip archive that buildZip writes.
type member struct {
	name   string
	data   []byte
	method uint16 // zip.Store or zip.Deflate
	pad    int    // bytes of extra field in the local header, to move the data
}

// buildZip writes a zip archive, in zip64 form (as torch writes files past 4 GiB) if asked.
// archive/zip's writer would do, but it can neither pad nor force zip64.
func buildZip(t testing.TB, members []member, zip64 bool) []byte {
	t.Helper()
	le := binary.LittleEndian
	var out, dir bytes.Buffer
	for _, m := range members {
		data := m.data
		if m.method == zip.Deflate {
			var z bytes.Buffer
			w, _ := flate.NewWriter(&z, flate.BestCompression)
			w.Write(m.data)
			w.Close()
			data = z.Bytes()
		}
		crc := crc32.ChecksumIEEE(m.data)
		offset := out.Len()
		put(&out, uint32(sigLocal), uint16(20), uint16(0), m.method, uint32(0), crc,
			uint32(len(data)), uint32(len(m.data)), uint16(len(m.name)), uint16(m.pad))
		out.WriteString(m.name)
		out.Write(make([]byte, m.pad)) // an unknown extra field of zeros: id 0, size 0, ...
		out.Write(data)

		csize, usize, off := uint32(len(data)), uint32(len(m.data)), uint32(offset)
		var extra []byte
		if zip64 {
			csize, usize, off = 0xffffffff, 0xffffffff, 0xffffffff
			extra = le.AppendUint16(extra, zip64ExtraID)
			extra = le.AppendUint16(extra, 24)
			extra = le.AppendUint64(extra, uint64(len(m.data)))
			extra = le.AppendUint64(extra, uint64(len(data)))
			extra = le.AppendUint64(extra, uint64(offset))
		}
		put(&dir, uint32(sigCentral), uint16(45), uint16(45), uint16(0), m.method,
			uint32(0), crc, csize, usize, uint16(len(m.name)), uint16(len(extra)), uint16(0),
			uint16(0), uint16(0), uint32(0), off)
		dir.WriteString(m.name)
		dir.Write(extra)
	}
	dirOffset := out.Len()
	out.Write(dir.Bytes())
	count, size, offset := uint16(len(members)), uint32(dir.Len()), uint32(dirOffset)
	if zip64 {
		rec := out.Len()
		put(&out, uint32(sigEnd64), uint64(end64Len-12), uint16(45), uint16(45),
			uint32(0), uint32(0), uint64(len(members)), uint64(len(members)), uint64(dir.Len()), uint64(dirOffset))
		put(&out, uint32(sigEnd64Locator), uint32(0), uint64(rec), uint32(1))
		count, size, offset = 0xffff, 0xffffffff, 0xffffffff
	}
	put(&out, uint32(sigEnd), uint16(0), uint16(0), count, count, size, offset, uint16(0))
	return out.Bytes()
}

// put writes little-endian fields.
func put(w *bytes.Buffer, fields ...any) {
	for _, f := range fields {
		if err := binary.Write(w, binary.LittleEndian, f); err != nil {
			panic(err)
		}
	}
}

// unzip returns the entries of an archive in order, read with archive/zip.
func unzip(t testing.TB, b []byte) []member {
	t.Helper()
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var ms []member
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var data bytes.Buffer
		if _, err := data.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{name: f.Name, data: data.Bytes()})
	}
	return ms
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is a tensor as gen.py recorded it in testdata/expected.json, from torch.load.
type fixture struct {
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	Data  []byte `json:"data"`
}

func readExpected(t testing.TB) map[string]map[string]fixture {
	t.Helper()
	var want map[string]map[string]fixture
	if err := json.Unmarshal(readFile(t, filepath.Join("testdata", "expected.json")), &want); err != nil {
		t.Fatal(err)
	}
	return want
}

// readSafetensors is just enough of a safetensors reader to compare against: an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, the data.
func readSafetensors(t testing.TB, path string) map[string]fixture {
	t.Helper()
	b := readFile(t, path)
	n := binary.LittleEndian.Uint64(b)
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	out := map[string]fixture{}
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var h struct {
			DType   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		out[name] = fixture{DType: h.DType, Shape: h.Shape, Data: data[h.Offsets[0]:h.Offsets[1]]}
	}
	return out
}
