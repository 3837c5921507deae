package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/tensor"
)

// image builds a safetensors file from a raw JSON header and a data section.
func image(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestRoundTrip(t *testing.T) {
	a := tensor.FromF32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	bf := tensor.Host{DType: tensor.BF16, Shape: []int{3}, Data: []byte{1, 2, 3, 4, 5, 6}}
	scalar := tensor.FromF32([]float32{7})
	empty := tensor.Host{DType: tensor.F16, Shape: []int{0, 4}}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	in := []Named{{"a", a}, {"b.weight", bf}, {"s", scalar}, {"e", empty}}
	if err := Write(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Names(), ","); got != "a,b.weight,e,s" {
		t.Errorf("names %s", got)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	for _, n := range in {
		got, ok := f.Tensor(n.Name)
		if !ok || got.DType != n.DType || tensor.ShapeString(got.Shape) != tensor.ShapeString(n.Shape) || !bytes.Equal(got.Data, n.Data) {
			t.Errorf("%s: got %v %v %v, want %v %v %v", n.Name, got.DType, got.Shape, got.Data, n.DType, n.Shape, n.Data)
		}
	}
	// Data starts 8-byte aligned after the padded header.
	raw, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
		t.Errorf("header length %d not padded to 8", n)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	bad := []Named{{"a", tensor.Host{DType: tensor.F32, Shape: []int{2}, Data: []byte{1}}}}
	if err := Write(path, bad, nil); err == nil || !strings.Contains(err.Error(), `tensor "a"`) {
		t.Fatalf("error %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestBadFiles(t *testing.T) {
	f32x2 := make([]byte, 8)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"short length", []byte{1, 0, 0}, "truncated"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds"},
		{"header past end", image(`{}`, nil)[:9], "truncated: header of 2 bytes"},
		{"not json", image(`{"a": `, nil), "malformed JSON header"},
		{"not an object", image(`[1]`, nil), "malformed JSON header"},
		{"entry not an object", image(`{"a": 3}`, nil), `tensor "a": malformed entry`},
		{"missing field", image(`{"a": {"dtype": "F32", "shape": [2]}}`, f32x2), `tensor "a": entry needs`},
		{"unknown dtype", image(`{"a": {"dtype": "F4", "shape": [2], "data_offsets": [0, 8]}}`, f32x2), `tensor "a": unsupported dtype "F4"`},
		{"offset past end", image(`{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}`, f32x2), `tensor "a": data_offsets [0, 16] run past the end of the data (8 bytes)`},
		{"reversed offsets", image(`{"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}`, f32x2), "invalid data_offsets"},
		{"negative offset", image(`{"a": {"dtype": "F32", "shape": [0], "data_offsets": [-4, 0]}}`, f32x2), "invalid data_offsets"},
		{"three offsets", image(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}`, f32x2), "has 3 values"},
		{"size mismatch", image(`{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}`, f32x2), `tensor "a": F32[3] needs 12 bytes but data_offsets [0, 8] hold 8`},
		{"negative dim", image(`{"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}`, f32x2), "negative dimension"},
		{"absurd shape", image(`{"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}}`, f32x2), "needs more bytes than the file holds"},
		{"overlap", image(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, f32x2), `tensors "a" [0, 8] and "b" [4, 8] overlap`},
		{"bad metadata", image(`{"__metadata__": {"a": 1}}`, nil), "__metadata__"},
	}
	for _, tt := range tests {
		_, err := Parse("m.safetensors", tt.file)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "m.safetensors: ") {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tt.name, err, tt.want)
		}
	}
}

func TestMisalignedTensorIsCopied(t *testing.T) {
	// An F32 tensor at an odd offset cannot be viewed in place.
	data := []byte{0, 0, 0, 128, 63}
	f, err := Parse("m", image(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [1, 5]}}`, data))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	if v := a.F32(); v[0] != 1 {
		t.Errorf("got %v", v)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("opened a missing file")
	}
	trunc := filepath.Join(dir, "trunc.safetensors")
	os.WriteFile(trunc, image(`{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}`, make([]byte, 16))[:40], 0o644)
	if _, err := Open(trunc); err == nil || !strings.Contains(err.Error(), trunc) {
		t.Errorf("truncated file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(image(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}`, make([]byte, 8)))
	f.Add(image(`{"__metadata__": {"k": "v"}, "b": {"dtype": "BF16", "shape": [2, 1], "data_offsets": [0, 4]}}`, make([]byte, 4)))
	f.Add(image(`{"a": {"dtype": "F16", "shape": [], "data_offsets": [0, 2]}, "b": {"dtype": "I64", "shape": [1], "data_offsets": [2, 10]}}`, make([]byte, 10)))
	if raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "models", "tiny-a", "model.safetensors")); err == nil {
		f.Add(raw[:min(len(raw), 4096)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		// Whatever parses must be safe to read in full.
		for _, name := range file.Names() {
			h, ok := file.Tensor(name)
			if !ok || len(h.Data) != h.Len()*h.DType.Size() {
				t.Fatalf("%s: %d bytes for %v", name, len(h.Data), h.Shape)
			}
		}
	})
}
