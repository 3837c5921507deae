package minitron

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/cpu"
	"github.com/minitron-go/minitron/nemotron"
)

// floatOnly is a backend without backend.QuantizedWeights, as the CUDA backend is: the CPU's
// operations behind the plain interface.
type floatOnly struct{ backend.Backend }

func init() {
	backend.Register("test-float-only", func(o backend.Options) (backend.Backend, error) {
		b, err := cpu.New(o)
		return floatOnly{b}, err
	})
}

// -quant needs a backend that keeps quantized weights; elsewhere it is a bad option, and a
// quantized file loads with a warning that it runs dequantized.
func TestQuantBackend(t *testing.T) {
	dir := filepath.Join("testdata", "models", "tiny-a")
	_, err := Load(dir, Options{Threads: 1, Backend: "test-float-only", Quant: nemotron.QuantQ8_0})
	if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "no kernels for quantized weights") {
		t.Errorf("q8_0 on a float-only backend: %v, want a bad option", err)
	}
	var warnings []string
	m, err := Load(filepath.Join("testdata", "gguf", "tiny-a-q8_0.gguf"), Options{Threads: 1, Backend: "test-float-only",
		Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Q8_0) are dequantized to F32") {
		t.Errorf("a Q8_0 file on a float-only backend: warnings %q", warnings)
	}
	m, err = Load(dir, Options{Threads: 1, Quant: nemotron.QuantQ4_K})
	if err != nil {
		t.Fatalf("q4_k on the CPU: %v", err)
	}
	m.Close()
}
