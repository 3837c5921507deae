package cpu_test

import (
	"fmt"
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/backend/backendtest"
	"github.com/minitron-go/minitron/backend/cpu"
)

func TestConformance(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", p, threads), func(t *testing.T) {
				b, err := cpu.New(backend.Options{Threads: threads, Precision: p})
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				t.Log(b.Name())
				backendtest.Run(t, b, p)
			})
		}
	}
}
