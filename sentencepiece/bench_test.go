package sentencepiece

import (
	"math/rand"
	"strings"
	"testing"
)

// benchText returns about size bytes of mixed text (English, code, numbers, European,
// Cyrillic, CJK, Korean, Arabic, emoji, whitespace runs): the golden texts, shuffled and
// repeated with a fixed seed so that every run measures the same input.
func benchText(t testing.TB, size int) string {
	_, g := loadGolden(t, "tok-a")
	rng := rand.New(rand.NewSource(1))
	seps := []string{" ", " ", " ", "\n", "\n\n", "  ", "\t"}
	var b strings.Builder
	for b.Len() < size {
		c := g.Encode[rng.Intn(len(g.Encode))]
		b.WriteString(c.Text)
		b.WriteString(seps[rng.Intn(len(seps))])
	}
	return b.String()
}

// BenchmarkEncode encodes 4 MB of mixed text. It repeats its texts, so most segments come
// from the segment cache; the nocache runs show the cost of BPE itself, which is what
// text that never repeats a word would see.
func BenchmarkEncode(b *testing.B) {
	for _, name := range []string{"tok-a", "tok-b", "tok-a/nocache"} {
		b.Run(name, func(b *testing.B) {
			model, nocache := strings.CutSuffix(name, "/nocache")
			p, _ := loadGolden(b, model)
			p.enc.noCache = nocache
			text := benchText(b, 4<<20)
			var ids []int32
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for b.Loop() {
				ids = p.AppendEncode(ids[:0], text)
			}
			b.ReportMetric(float64(len(text))/float64(len(ids)), "bytes/token")
		})
	}
}

// BenchmarkEncodeShort measures prompt-sized inputs, where per-call overhead shows.
func BenchmarkEncodeShort(b *testing.B) {
	p, _ := loadGolden(b, "tok-a")
	text := "Complete the paragraph: our solar system is"
	var ids []int32
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		ids = p.AppendEncode(ids[:0], text)
	}
}

func BenchmarkDecode(b *testing.B) {
	p, _ := loadGolden(b, "tok-a")
	text := benchText(b, 1<<20)
	ids := p.Encode(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := p.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := marshalModel(loadReferenceModel(b, "tok-a"))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// largeVocab grows tok-a to the 256000 pieces of the real Minitron tokenizer the way BPE
// training does: each new piece joins two existing ones and scores below all of them. The
// new pieces are random joins that text rarely contains, so this measures what the tables'
// size costs (loading, cache misses), not deeper merges.
func largeVocab(tb testing.TB) *Model {
	m := cloneModel(loadReferenceModel(tb, "tok-a"))
	seen := make(map[string]bool, 256000)
	var normal []string
	for _, p := range m.Pieces {
		seen[p.Piece] = true
		if p.Type == Normal {
			normal = append(normal, p.Piece)
		}
	}
	rng := rand.New(rand.NewSource(1))
	score := m.Pieces[len(m.Pieces)-1].Score
	for len(m.Pieces) < 256000 {
		l, r := normal[rng.Intn(len(normal))], normal[rng.Intn(len(normal))]
		s := l + r
		if seen[s] || len(s) > 24 || strings.Contains(r, "▁") {
			continue
		}
		seen[s] = true
		score--
		m.Pieces = append(m.Pieces, Piece{s, score, Normal})
		normal = append(normal, s)
	}
	return m
}

func BenchmarkEncodeLargeVocab(b *testing.B) {
	p, err := NewProcessor(largeVocab(b))
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(b, 4<<20)
	var ids []int32
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		ids = p.AppendEncode(ids[:0], text)
	}
	b.ReportMetric(float64(len(text))/float64(len(ids)), "bytes/token")
}

func BenchmarkParseLargeVocab(b *testing.B) {
	data := marshalModel(largeVocab(b))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
