package pytorch

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/minitron-go/minitron/tensor"
)

const tinyA = "../../testdata/models/tiny-a"

// within reports whether b lies inside the mapping of f, i.e. was not copied.
func within(f *File, b []byte) bool {
	m := f.m.Bytes()
	p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(m))
}

func checkTensor(t *testing.T, f *File, name string, want fixture) tensor.Host {
	t.Helper()
	h, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("%s: missing", name)
	}
	if h.DType.String() != want.DType || !slices.Equal(h.Shape, want.Shape) {
		t.Errorf("%s: %s%v, want %s%v", name, h.DType, h.Shape, want.DType, want.Shape)
	}
	if !bytes.Equal(h.Data, want.Data) {
		t.Errorf("%s: data differs", name)
	}
	if len(h.Data) > 0 && uintptr(unsafe.Pointer(&h.Data[0]))%uintptr(h.DType.Size()) != 0 {
		t.Errorf("%s: data is not aligned to its %d-byte elements", name, h.DType.Size())
	}
	return h
}

// The reference checkpoint: tiny-a's weights as torch.save wrote them and as safetensors.
func TestTinyAMatchesSafetensors(t *testing.T) {
	f, err := Open(filepath.Join(tinyA+"-bin", "pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := readSafetensors(t, filepath.Join(tinyA, "model.safetensors"))
	var names []string
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(f.Names(), names) {
		t.Fatalf("names:\n%v\nwant\n%v", f.Names(), names)
	}
	for _, name := range names {
		h := checkTensor(t, f, name, want[name])
		if !within(f, h.Data) {
			t.Errorf("%s: data was copied, want a view of the mapping", name)
		}
	}
}

// The fixtures gen.py wrote with torch 1.13, against what torch.load read back from them.
func TestFixtures(t *testing.T) {
	for file, tensors := range readExpected(t) {
		t.Run(file, func(t *testing.T) {
			f, err := Open(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var names, skipped []string
			for name, want := range tensors {
				if want.DType == "I64" {
					skipped = append(skipped, name)
					if _, ok := f.Tensor(name); ok {
						t.Errorf("%s: int64 tensor returned", name)
					}
					continue
				}
				names = append(names, name)
				checkTensor(t, f, name, want)
			}
			slices.Sort(names)
			slices.Sort(skipped)
			if !slices.Equal(f.Names(), names) || !slices.Equal(f.Skipped(), skipped) {
				t.Errorf("names %v, skipped %v; want %v, %v", f.Names(), f.Skipped(), names, skipped)
			}
		})
	}
}

// Contiguous tensors are views of the mapping, wherever they start in their storage; the
// others are copies.
func TestViews(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "mixed.pt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	get := func(name string) []byte {
		h, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("%s: missing", name)
		}
		return h.Data
	}
	for _, name := range []string{"f32", "f16", "bf16", "scalar", "big", "big.rows", "emb", "lm_head", "param"} {
		if !within(f, get(name)) {
			t.Errorf("%s: copied, want a view of the mapping", name)
		}
	}
	for _, name := range []string{"big.t", "big.cols", "big.every2"} {
		if within(f, get(name)) {
			t.Errorf("%s: a view of the mapping, but the tensor is not contiguous", name)
		}
	}
	// big.rows is big[2:5]: storage offset 12 floats.
	if &get("big.rows")[0] != &get("big")[12*4] {
		t.Error("big.rows does not start 12 floats into big's storage")
	}
	if &get("emb")[0] != &get("lm_head")[0] {
		t.Error("tied emb and lm_head do not share their bytes")
	}
	// A copy is made once, however many goroutines ask for it at once.
	var wg sync.WaitGroup
	copies := make([][]byte, 8)
	for i := range copies {
		wg.Go(func() {
			h, _ := f.Tensor("big.cols")
			copies[i] = h.Data
		})
	}
	wg.Wait()
	for _, c := range copies {
		if &c[0] != &copies[0][0] {
			t.Fatal("big.cols copied more than once")
		}
	}
}

func TestClose(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "buffer.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Tensor("w"); ok {
		t.Error("Tensor after Close")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Files that are not torch.save archives are refused with a message saying what they are.
func TestNotArchives(t *testing.T) {
	dir := t.TempDir()
	pkl := unzip(t, readFile(t, filepath.Join("testdata", "buffer.pt")))[0].data
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"legacy.pt", readFile(t, filepath.Join("testdata", "legacy.pt")),
			[]string{"legacy", "torch.save(state_dict, path)", "minitron convert"}},
		{"bare.pkl", pkl, []string{"bare pickle"}},
		{"empty.bin", nil, []string{"too short"}},
		{"garbage.bin", []byte("this is not a checkpoint at all"), []string{"not a zip archive"}},
		{"model.safetensors", readFile(t, filepath.Join(tinyA, "model.safetensors")), []string{"safetensors"}},
		{"other.zip", buildZip(t, []member{{name: "hello.txt", data: []byte("hi")}}, false), []string{"data.pkl"}},
		{"two.zip", buildZip(t, []member{{name: "a/data.pkl", data: pkl}, {name: "b/data.pkl", data: pkl}}, false),
			[]string{"2 data.pkl entries"}},
		{"dup.zip", buildZip(t, []member{{name: "a/data.pkl", data: pkl}, {name: "a/data.pkl", data: pkl}}, false),
			[]string{`"a/data.pkl" appears twice`}},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		checkErr(t, tc.name, err, append(tc.want, path)...)
	}
	_, err := Open(filepath.Join(dir, "absent.bin"))
	checkErr(t, "absent", err, "absent.bin")
}

func checkErr(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
}

// rezip rewrites the entries of mixed.pt through edit, which may change, drop (nil) or add them.
func rezip(t *testing.T, edit func([]member) []member) []byte {
	t.Helper()
	return buildZip(t, edit(unzip(t, readFile(t, filepath.Join("testdata", "mixed.pt")))), false)
}

func replace(ms []member, name string, m *member) []member {
	var out []member
	for _, x := range ms {
		if x.name != name {
			out = append(out, x)
		} else if m != nil {
			out = append(out, *m)
		}
	}
	return out
}

// Archives as torch writes them in other versions and sizes, or as others might.
func TestArchiveLayouts(t *testing.T) {
	want := readExpected(t)["mixed.pt"]
	ms := unzip(t, readFile(t, filepath.Join("testdata", "mixed.pt")))
	for _, tc := range []struct {
		name    string
		archive []byte
	}{
		{"byteorder little", buildZip(t, append(ms, member{name: "mixed/byteorder", data: []byte("little")}), false)},
		{"zip64", buildZip(t, ms, true)},
		{"serialization_id", buildZip(t, append(ms, member{name: "mixed/.data/serialization_id", data: []byte("123")}), false)},
		{"no version", buildZip(t, replace(ms, "mixed/version", nil), false)},
		{"renamed folder", func() []byte {
			var out []member
			for _, m := range ms {
				out = append(out, member{name: "some folder/" + strings.TrimPrefix(m.name, "mixed/"), data: m.data})
			}
			return buildZip(t, out, false)
		}()},
		// archive/zip-style writers do not align: every element starts off its alignment here.
		{"misaligned", func() []byte {
			var out []member
			for _, m := range ms {
				out = append(out, member{name: m.name, data: m.data, pad: 1})
			}
			return buildZip(t, out, false)
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parse(tc.archive)
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range want {
				if w.DType != "I64" {
					checkTensor(t, f, name, w)
				}
			}
			// Here f32's and big's floats start at odd offsets: contiguous, and yet copied.
			if tc.name == "misaligned" && (f.tensors["f32"].storage == nil || f.tensors["big"].storage == nil) {
				t.Error("misaligned contiguous tensors were not copied")
			}
		})
	}
}

// Broken archives name the entry at fault.
func TestBrokenArchives(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func([]member) []member
		want []string
	}{
		{"byteorder big", func(ms []member) []member {
			return append(ms, member{name: "mixed/byteorder", data: []byte("big")})
		}, []string{"mixed/byteorder", "big-endian"}},
		{"byteorder odd", func(ms []member) []member {
			return append(ms, member{name: "mixed/byteorder", data: []byte("middle")})
		}, []string{"mixed/byteorder", `"middle"`}},
		{"deflated storage", func(ms []member) []member {
			m := ms[3]
			m.method = zip.Deflate
			return replace(ms, m.name, &m)
		}, []string{`"mixed/data/2"`, "compressed (deflate)"}},
		{"deflated data.pkl", func(ms []member) []member {
			m := ms[0]
			m.method = zip.Deflate
			return replace(ms, m.name, &m)
		}, []string{`"mixed/data.pkl"`, "compressed"}},
		{"missing storage", func(ms []member) []member {
			return replace(ms, "mixed/data/1", nil)
		}, []string{`"mixed/data/1"`, "missing", "tensor "}},
		{"short storage", func(ms []member) []member {
			m := ms[2]
			m.data = m.data[:len(m.data)-2]
			return replace(ms, m.name, &m)
		}, []string{`"mixed/data/1"`, "holds"}},
	} {
		_, err := parse(rezip(t, tc.edit))
		checkErr(t, tc.name, err, tc.want...)
	}
}

// Every prefix of an archive is refused, without a panic.
func TestTruncated(t *testing.T) {
	b := readFile(t, filepath.Join("testdata", "mixed.pt"))
	for n := range len(b) {
		if _, err := parse(b[:n]); err == nil {
			t.Fatalf("%d of %d bytes: no error", n, len(b))
		}
	}
}

// Our zip reader finds each entry's data where archive/zip does.
func TestZipOffsets(t *testing.T) {
	for _, path := range []string{filepath.Join(tinyA+"-bin", "pytorch_model.bin"), filepath.Join("testdata", "mixed.pt")} {
		b := readFile(t, path)
		ours, err := readZipDirectory(b)
		if err != nil {
			t.Fatal(err)
		}
		r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if len(ours) != len(r.File) {
			t.Fatalf("%s: %d entries, archive/zip finds %d", path, len(ours), len(r.File))
		}
		for i, zf := range r.File {
			data, err := storedBytes(b, &ours[i])
			if err != nil {
				t.Fatal(err)
			}
			off, err := zf.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			start := int64(uintptr(unsafe.Pointer(unsafe.SliceData(data))) - uintptr(unsafe.Pointer(&b[0])))
			if len(data) == 0 {
				start = off // a zero-length slice keeps its base pointer, not its offset
			}
			if ours[i].name != zf.Name || start != off || uint64(len(data)) != zf.UncompressedSize64 {
				t.Errorf("%s: %s at %d (%d bytes); archive/zip: %s at %d (%d bytes)",
					path, ours[i].name, start, len(data), zf.Name, off, zf.UncompressedSize64)
			}
		}
	}
	// And buildZip writes archives that archive/zip reads.
	for _, zip64 := range []bool{false, true} {
		ms := []member{{name: "x/a", data: []byte("hello")}, {name: "x/b", data: bytes.Repeat([]byte("ab"), 100), method: zip.Deflate}}
		got := unzip(t, buildZip(t, ms, zip64))
		if len(got) != 2 || string(got[0].data) != "hello" || !bytes.Equal(got[1].data, ms[1].data) {
			t.Errorf("zip64=%v: buildZip's archive reads back wrong", zip64)
		}
	}
}
