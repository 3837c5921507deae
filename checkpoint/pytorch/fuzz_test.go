package pytorch

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// seedPickles are the data.pkl of every fixture and a few hand-made pickles.
func seedPickles(t testing.TB) [][]byte {
	var seeds [][]byte
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	paths = append(paths, filepath.Join(tinyA+"-bin", "pytorch_model.bin"))
	for _, path := range paths {
		if strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".py") || strings.HasSuffix(path, "legacy.pt") {
			continue
		}
		for _, m := range unzip(t, readFile(t, path)) {
			if strings.HasSuffix(m.name, "/data.pkl") {
				seeds = append(seeds, m.data)
			}
		}
	}
	return append(seeds,
		statePickle(tensorSpec{"w", "FloatStorage", "0", 8, 1, []int64{2, 2}, []int64{1, 2}}),
		newPickler().global("os", "system").str("id").op(opTUPLE1, opREDUCE, opSTOP).Bytes(),
		newPickler().op(opEMPTY_LIST, opBINPUT, 0, opMARK, opBINGET, 0, opBINGET, 0, opAPPENDS, opSTOP).Bytes(),
		newPickler().op(opNONE, opLONG_BINPUT, 0, 0, 0, 0x80, opSTOP).Bytes(),
	)
}

// FuzzUnpickle runs arbitrary pickles through the unpickler and the state-dict checks: they
// must fail cleanly or succeed, never panic, and allocate in proportion to their length.
func FuzzUnpickle(f *testing.F) {
	for _, s := range seedPickles(f) {
		f.Add(s)
	}
	storage := make([]byte, 4096)
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		root, err := unpickle(data)
		if err == nil {
			// Storages of up to 4 KiB exist, whatever their key.
			file, err := load(root, func(key string) ([]byte, string, error) {
				return storage, "archive/data/" + key, nil
			})
			if err == nil {
				for _, name := range file.Names() {
					if _, ok := file.Tensor(name); !ok {
						t.Fatalf("listed tensor %q missing", name)
					}
				}
			}
		}
		runtime.ReadMemStats(&after)
		// Gathered tensors may each copy up to the 4 KiB storage.
		if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+1024*len(data)); n > limit {
			t.Fatalf("%d bytes of pickle allocated %d bytes (limit %d)", len(data), n, limit)
		}
	})
}

// FuzzArchive runs arbitrary files through the zip reader and everything after it.
func FuzzArchive(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.p[t]"))
	for _, path := range paths {
		f.Add(readFile(f, path))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parse(data)
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			if _, ok := file.Tensor(name); !ok {
				t.Fatalf("listed tensor %q missing", name)
			}
		}
	})
}
