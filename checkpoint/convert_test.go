package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sameTensors(t *testing.T, a, b *Checkpoint) {
	t.Helper()
	if strings.Join(a.Names(), ",") != strings.Join(b.Names(), ",") {
		t.Fatalf("names differ:\n%v\n%v", a.Names(), b.Names())
	}
	for _, n := range a.Names() {
		x, _, _ := a.Tensor(n)
		y, _, _ := b.Tensor(n)
		if x.DType != y.DType || !bytes.Equal(x.Data, y.Data) || len(x.Shape) != len(y.Shape) {
			t.Fatalf("%s differs", n)
		}
	}
}

func TestConvertRoundTrip(t *testing.T) {
	src, err := Open(filepath.Join("..", "testdata", "models", "tiny-a-bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tmp := t.TempDir()
	for _, tc := range []struct {
		name   string
		shard  int64
		shards int
	}{{"one", 0, 1}, {"sharded", 300_000, 3}} {
		out := filepath.Join(tmp, tc.name)
		if err := Convert(src, out, tc.shard, nil); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(out)
		var shards int
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".safetensors") {
				shards++
			}
		}
		if shards != tc.shards {
			t.Errorf("%s: %d shards, want %d (%v)", tc.name, shards, tc.shards, entries)
		}
		for _, f := range []string{"config.json", "tokenizer.model", "generation_config.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		conv, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		sameTensors(t, src, conv)
		// And again: converting the conversion changes nothing.
		again := out + "-again"
		if err := Convert(conv, again, tc.shard, nil); err != nil {
			t.Fatal(err)
		}
		conv2, err := Open(again)
		if err != nil {
			t.Fatal(err)
		}
		sameTensors(t, conv, conv2)
		conv.Close()
		conv2.Close()
	}
	// An existing directory is refused and left alone; no temporary directory remains.
	if err := Convert(src, filepath.Join(tmp, "one"), 0, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
