package cuda_test

import (
	"testing"

	"github.com/minitron-go/minitron/backend"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// Score on the GPU: its logits come from the same final norm and head as Forward's, 16 rows
// at a time through views of the State's scratch, so its log-probabilities carry the logits'
// error at most twice (a logit minus a log-sum-exp): within 2·goldenTolerance of the float64
// log-softmax of the references, greedy flags and top ranks right wherever the reference's
// logits are further apart than that.
func TestGoldenScore(t *testing.T) {
	for _, p := range []backend.Precision{backend.Exact, backend.Fast} {
		t.Run(p.String(), func(t *testing.T) {
			b := open(t, p)
			tol := 2 * goldenTolerance(p).Logits
			for _, name := range goldentest.Models {
				t.Run(name, func(t *testing.T) {
					dir := goldentest.Dir(2, name)
					worst := goldentest.CheckScore(t, goldentest.LoadModel(t, dir, b), goldentest.Load(t, dir), tol, tol)
					t.Logf("%s %s on %s: max |logprob error| %.3g", name, p, b.Name(), worst)
				})
			}
		})
	}
}
