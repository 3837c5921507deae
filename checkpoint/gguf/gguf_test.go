package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/tensor"
)

var goldenDir = filepath.Join("..", "..", "testdata", "gguf")

// everyValue has one metadata entry of every GGUF value type, arrays included.
var everyValue = []KV{
	{"general.architecture", "nemotron"},
	{"u8", uint8(200)}, {"i8", int8(-3)}, {"u16", uint16(60000)}, {"i16", int16(-30000)},
	{"u32", uint32(4e9)}, {"i32", int32(-2e9)}, {"f32", float32(math.Pi)}, {"b", true}, {"b0", false},
	{"u64", uint64(1 << 63)}, {"i64", int64(-1 << 62)}, {"f64", math.E},
	{"a.u8", []uint8{1, 2}}, {"a.i8", []int8{-1}}, {"a.u16", []uint16{7}}, {"a.i16", []int16{-7, 8}},
	{"a.u32", []uint32{9}}, {"a.i32", []int32{-9, 10}}, {"a.f32", []float32{1.5, float32(math.Inf(-1))}},
	{"a.bool", []bool{true, false}}, {"a.str", []string{"", "▁hello", "<s>"}}, {"a.u64", []uint64{11}},
	{"a.i64", []int64{-11}}, {"a.f64", []float64{2.25}}, {"a.empty", []string{}},
}

func TestRoundTrip(t *testing.T) {
	q := make([]byte, 2*34) // two Q8_0 blocks: one row of 64
	for i := range q {
		q[i] = byte(i)
	}
	in := []Tensor{
		{"a", TypeF32, []int{2, 3}, bytes.Repeat([]byte{1, 2, 3, 4}, 6)},
		{"b.weight", TypeBF16, []int{3}, []byte{1, 2, 3, 4, 5, 6}},
		{"q", TypeQ8_0, []int{1, 64}, q},
		{"s", TypeF32, nil, []byte{0, 0, 128, 63}},
		{"e", TypeF16, []int{0, 4}, nil},
	}
	path := filepath.Join(t.TempDir(), "x.gguf")
	if err := Write(path, everyValue, in); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || f.Alignment != 32 || f.DataStart%32 != 0 {
		t.Errorf("version %d alignment %d data at %d", f.Version, f.Alignment, f.DataStart)
	}
	if !reflect.DeepEqual(f.KV, everyValue) {
		t.Errorf("metadata\n got %v\nwant %v", f.KV, everyValue)
	}
	if got := strings.Join(f.Names(), ","); got != "a,b.weight,e,q,s" {
		t.Errorf("names %s", got)
	}
	for i, want := range in {
		info, raw, ok := f.Raw(want.Name)
		if !ok || info.Type != want.Type || tensor.ShapeString(info.Shape) != tensor.ShapeString(want.Shape) || !bytes.Equal(raw, want.Data) {
			t.Errorf("%s: got %v %v %v, want %v %v %v", want.Name, info.Type, info.Shape, raw, want.Type, want.Shape, want.Data)
		}
		if info.Offset%32 != 0 || f.Infos()[i].Name != want.Name {
			t.Errorf("%s: offset %d, file order %v", want.Name, info.Offset, f.Infos()[i].Name)
		}
	}
	if h, err := f.Tensor("a"); err != nil || h.DType != tensor.F32 || h.F32()[0] != math.Float32frombits(0x04030201) {
		t.Errorf("Tensor(a) = %v, %v", h, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// The encoding is a function of its input: the file re-encoded from what was read is
	// the same bytes.
	raw, _ := os.ReadFile(path)
	if again := reencode(t, f); !bytes.Equal(again, raw) {
		t.Errorf("re-encoded file differs from the written one")
	}
}

func reencode(t *testing.T, f *File) []byte {
	t.Helper()
	var ts []Tensor
	for _, in := range f.Infos() {
		_, raw, _ := f.Raw(in.Name)
		ts = append(ts, Tensor{in.Name, in.Type, in.Shape, raw})
	}
	var buf bytes.Buffer
	if err := Encode(&buf, f.KV, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGoldenFiles reads every golden file, checks its tensor types against the manifest
// written when it was made, and writes it back: the writer lays a file out as gguf-py does,
// so the copy is the original, byte for byte.
func TestGoldenFiles(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(goldenDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Files map[string]struct {
			SHA256      string            `json:"sha256"`
			TensorTypes map[string]string `json:"tensor_types"`
		} `json:"files"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(goldenDir, "*.gguf"))
	if len(paths) == 0 {
		t.Fatal("no golden GGUF files")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, ok := manifest.Files[filepath.Base(path)]
			if !ok {
				t.Fatal("not in manifest.json")
			}
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(orig); hex.EncodeToString(sum[:]) != want.SHA256 {
				t.Fatalf("sha256 %x, manifest says %s", sum, want.SHA256)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Names()) != len(want.TensorTypes) {
				t.Errorf("%d tensors, manifest lists %d", len(f.Names()), len(want.TensorTypes))
			}
			for name, typ := range want.TensorTypes {
				if in, ok := f.Info(name); !ok || in.Type.String() != typ {
					t.Errorf("%s: type %v, manifest says %s", name, in.Type, typ)
				}
			}
			if arch, _ := f.Get("general.architecture"); arch != "nemotron" {
				t.Errorf("general.architecture = %v", arch)
			}
			if tokens, _ := f.Get("tokenizer.ggml.tokens"); len(tokens.([]string)) == 0 {
				t.Errorf("no tokens")
			}
			emb, _ := f.Info("token_embd.weight")
			if n, _ := f.Get("nemotron.embedding_length"); len(emb.Shape) != 2 || uint32(emb.Shape[1]) != n.(uint32) {
				t.Errorf("token_embd shape %v, embedding_length %v", emb.Shape, n)
			}
			if again := reencode(t, f); !bytes.Equal(again, orig) {
				n := 0
				for n < min(len(again), len(orig)) && again[n] == orig[n] {
					n++
				}
				t.Errorf("re-encoded file (%d bytes) differs from the original (%d bytes) from byte %d", len(again), len(orig), n)
			}
		})
	}
}

// builder assembles GGUF images field by field, so that tests can break any one of them.
type builder struct{ b []byte }

func (b *builder) u32(v uint32) *builder  { b.b = binary.LittleEndian.AppendUint32(b.b, v); return b }
func (b *builder) u64(v uint64) *builder  { b.b = binary.LittleEndian.AppendUint64(b.b, v); return b }
func (b *builder) str(s string) *builder  { b.u64(uint64(len(s))); b.b = append(b.b, s...); return b }
func (b *builder) raw(p ...byte) *builder { b.b = append(b.b, p...); return b }
func (b *builder) pad(a int) *builder {
	for len(b.b)%a != 0 {
		b.b = append(b.b, 0)
	}
	return b
}

func header(version uint32, nTensors, nKV uint64) *builder {
	b := &builder{}
	return b.raw('G', 'G', 'U', 'F').u32(version).u64(nTensors).u64(nKV)
}

// tensorInfo appends one tensor description: dims innermost first.
func (b *builder) tensorInfo(name string, typ Type, offset uint64, dims ...uint64) *builder {
	b.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	return b.u32(uint32(typ)).u64(offset)
}

func TestBadFiles(t *testing.T) {
	twoF32 := func(off2 uint64, data int) []byte {
		b := header(3, 2, 0).tensorInfo("a", TypeF32, 0, 4).tensorInfo("b", TypeF32, off2, 4).pad(32)
		return b.raw(make([]byte, data)...).b
	}
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a GGUF file"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF file"},
		{"truncated version", []byte("GGUF\x03"), "version at byte 4"},
		{"version 1", header(1, 0, 0).b, "version 1"},
		{"version 4", header(4, 0, 0).b, "unsupported GGUF version 4"},
		{"big-endian", header(3<<24, 0, 0).b, "big-endian"},
		{"truncated counts", header(3, 0, 0).b[:12], "tensor count at byte 8"},
		{"huge tensor count", header(3, 1<<60, 0).b, "tensor count at byte 8: 1152921504606846976 entries"},
		{"huge metadata count", header(3, 0, 1<<40).b, "metadata count at byte 16"},
		{"key past end", header(3, 0, 1).u64(1 << 40).u32(0).raw(0).b, "metadata key 0 at byte 24: string of 1099511627776 bytes runs past the end"},
		{"empty key", header(3, 0, 1).str("").u32(0).raw(0).b, "metadata key 0 is empty"},
		{"duplicate key", header(3, 0, 2).str("k").u32(0).raw(1).str("k").u32(0).raw(1).b, `metadata key "k" appears twice`},
		{"unknown value type", header(3, 0, 1).str("k").u32(13).raw(0).b, `metadata "k" at byte 33: unknown value type 13`},
		{"truncated value", header(3, 0, 1).str("k").u32(uint32(ValueUint64)).raw(1, 2, 3, 4, 5).b, `metadata "k" at byte 37: needs 8 bytes, 5 left`},
		{"bad bool", header(3, 0, 1).str("k").u32(uint32(ValueBool)).raw(2).b, `metadata "k" at byte 37: bool holds 2`},
		{"string value past end", header(3, 0, 1).str("k").u32(uint32(ValueString)).u64(100).b, `metadata "k" at byte 37: string of 100 bytes`},
		{"huge array", header(3, 0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueUint32)).u64(1 << 62).b, `metadata "k" count at byte 41: 4611686018427387904 entries of at least 4 bytes`},
		{"huge string array", header(3, 0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueString)).u64(3).u64(0).b, `metadata "k" count at byte 41: 3 entries of at least 8 bytes`},
		{"array element past end", header(3, 0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueString)).u64(2).u64(0).u64(99).b, `metadata "k"[1] at byte 57: string of 99 bytes`},
		{"nested array", header(3, 0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueArray)).u64(0).b, "arrays of arrays"},
		{"unknown array type", header(3, 0, 1).str("k").u32(uint32(ValueArray)).u32(99).u64(0).b, "unknown array element type 99"},
		{"alignment type", header(3, 0, 1).str("general.alignment").u32(uint32(ValueUint64)).u64(32).b, `"general.alignment" is a uint64, want uint32`},
		{"alignment not power of two", header(3, 0, 1).str("general.alignment").u32(uint32(ValueUint32)).u32(48).b, `"general.alignment" is 48`},
		{"truncated tensor info", header(3, 1, 0).str("abcdefghijkl").u32(1).b, `tensor "abcdefghijkl" dimension 0 at byte 48`},
		{"long name", header(3, 1, 0).tensorInfo(strings.Repeat("x", 64), TypeF32, 0, 1).pad(32).raw(0, 0, 0, 0).b, "longer than ggml's 63"},
		{"duplicate tensor", header(3, 2, 0).tensorInfo("a", TypeF32, 0, 1).tensorInfo("a", TypeF32, 32, 1).b, `tensor "a" appears twice`},
		{"too many dims", header(3, 1, 0).tensorInfo("a", TypeF32, 0, 1, 1, 1, 1, 1).b, "5 dimensions"},
		{"unknown type", header(3, 1, 0).tensorInfo("a", Type(4), 0, 1).b, `tensor "a": unknown ggml type 4`},
		{"unknown type 99", header(3, 1, 0).tensorInfo("a", Type(99), 0, 1).b, "unknown ggml type 99"},
		{"huge dims", header(3, 1, 0).tensorInfo("a", TypeF32, 0, 1<<32, 1<<32, 1<<32).b, `tensor "a": dimensions [4294967296 4294967296 4294967296] need more bytes`},
		{"partial block", header(3, 1, 0).tensorInfo("a", TypeQ8_0, 0, 33).b, "Q8_0 rows hold blocks of 32"},
		{"block scalar", header(3, 1, 0).tensorInfo("a", TypeQ4_K, 0).b, "Q4_K rows hold blocks of 256"},
		{"misaligned offset", header(3, 1, 0).tensorInfo("a", TypeF32, 4, 1).b, `tensor "a": offset 4 is not a multiple of the alignment 32`},
		{"offset past end", header(3, 1, 0).tensorInfo("a", TypeF32, 1<<40, 1).b, `tensor "a": offset 1099511627776 and size 4 run past the end`},
		{"data section missing", header(3, 1, 0).tensorInfo("a", TypeF32, 0, 1).b, "truncated: the data section would start"},
		{"data truncated", bs(twoF32(32, 40)).b(), `tensor "b": data [32, 48) runs past the end of the data section (40 bytes`},
		{"overlap", bs(twoF32(0, 64)).b(), `tensors "a" [0, 16) and "b" [0, 16) overlap`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.gguf", tt.file)
			if err == nil {
				t.Fatalf("parsed; want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "bad.gguf: ") {
				t.Errorf("error %q\nwant it to name the file and contain %q", err, tt.want)
			}
		})
	}
}

// b lets a table entry hold a []byte built by a helper.
type bs []byte

func (b bs) b() []byte { return b }

func TestOverlapInside(t *testing.T) {
	// "b" lies inside "a" at an aligned offset.
	img := header(3, 2, 0).tensorInfo("a", TypeF32, 0, 16).tensorInfo("b", TypeF32, 32, 1).pad(32).raw(make([]byte, 64)...).b
	if _, err := Parse("x", img); err == nil || !strings.Contains(err.Error(), `tensors "a" [0, 64) and "b" [32, 36) overlap`) {
		t.Errorf("error %v", err)
	}
}

func TestTensorUnsupportedType(t *testing.T) {
	img := header(3, 1, 0).tensorInfo("a", TypeIQ2_XXS, 0, 256).pad(32).raw(make([]byte, 66)...).b
	f, err := Parse("x.gguf", img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("a"); err == nil || !strings.Contains(err.Error(), "IQ2_XXS") {
		t.Errorf("error %v", err)
	}
	if _, raw, ok := f.Raw("a"); !ok || len(raw) != 66 {
		t.Errorf("raw %d bytes", len(raw))
	}
}

func TestVersion2(t *testing.T) {
	img := header(2, 1, 1).str("general.alignment").u32(uint32(ValueUint32)).u32(8).tensorInfo("a", TypeF16, 8, 2).pad(8).raw(make([]byte, 12)...).b
	f, err := Parse("v2.gguf", img)
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := f.Info("a"); f.Version != 2 || f.Alignment != 8 || in.Offset != 8 || in.Size != 4 {
		t.Errorf("version %d alignment %d info %+v", f.Version, f.Alignment, in)
	}
}

func FuzzGGUF(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, everyValue, []Tensor{{"a", TypeF32, []int{2}, make([]byte, 8)}, {"q", TypeQ8_0, []int{32}, make([]byte, 34)}})
	f.Add(buf.Bytes())
	f.Add(header(2, 1, 0).tensorInfo("a", TypeF16, 0, 2).pad(32).raw(1, 2, 3, 4).b)
	if raw, err := os.ReadFile(filepath.Join(goldenDir, "tiny-a-q8_0.gguf")); err == nil {
		f.Add(raw[:min(len(raw), 8192)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		// Whatever parses must be safe to read in full, and must write back.
		for _, in := range file.Infos() {
			_, raw, ok := file.Raw(in.Name)
			if !ok || int64(len(raw)) != in.Size {
				t.Fatalf("%s: %d bytes, want %d", in.Name, len(raw), in.Size)
			}
			if h, err := file.Tensor(in.Name); err == nil && in.Type.BlockSize() == 1 && len(h.Data) != h.Len()*h.DType.Size() {
				t.Fatalf("%s: %d bytes for %v", in.Name, len(h.Data), h.Shape)
			}
		}
		var out bytes.Buffer
		var ts []Tensor
		for _, in := range file.Infos() {
			_, raw, _ := file.Raw(in.Name)
			ts = append(ts, Tensor{in.Name, in.Type, in.Shape, raw})
		}
		if err := Encode(&out, file.KV, ts); err != nil {
			t.Fatalf("read but cannot write back: %v", err)
		}
		if _, err := Parse("again", out.Bytes()); err != nil {
			t.Fatalf("written back but not read: %v", err)
		}
	})
}
