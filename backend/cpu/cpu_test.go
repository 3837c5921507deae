package cpu_test

import (
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/backendtest"
	"github.com/minitron-go/minitron/backend/cpu"
)

func TestConformance(t *testing.T) {
	for _, threads := range []int{1, 3} {
		b, err := cpu.New(backend.Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		backendtest.Run(t, b, backend.Exact)
		b.Close()
	}
}
