package sentencepiece

import "testing"

// streamDecode feeds ids one at a time to a Decoder and joins what it returns.
func streamDecode(t testing.TB, p *Processor, ids []int32) string {
	t.Helper()
	d := p.NewDecoder()
	var s string
	for _, id := range ids {
		out, err := d.Next(id)
		if err != nil {
			t.Fatal(err)
		}
		s += out
	}
	return s + d.Flush()
}
