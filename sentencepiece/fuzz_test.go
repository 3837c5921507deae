package sentencepiece

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// naiveEncode is bpe_model.cc's algorithm written the plain way: symbols as strings, the
// merge table searched by the concatenated string, the best pair found by a linear scan
// over the whole text (highest score, leftmost on ties), no segmentation, no cache. It is
// quadratic, and obviously what sentencepiece does; the fast encoder must agree with it.
// It does not resegment unused pieces, so models with them are not compared.
func naiveEncode(p *Processor, text string) []int32 {
	norm := string(p.enc.normalize(nil, text))
	type sym struct {
		s      string
		frozen bool
	}
	var user []string
	for id, t := range p.types {
		if t == UserDefined {
			user = append(user, p.pieces[id])
		}
	}
	var syms []sym
	for norm != "" {
		n := 0
		for _, u := range user {
			if strings.HasPrefix(norm, u) {
				n = max(n, len(u))
			}
		}
		frozen := n > 0
		if !frozen {
			// sentencepiece's OneCharLen: the length the lead byte announces.
			n = min(len(norm), []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[norm[0]>>4])
		}
		syms = append(syms, sym{norm[:n], frozen})
		norm = norm[n:]
	}
	for {
		best, bestScore := -1, float32(0)
		for i := 0; i+1 < len(syms); i++ {
			if syms[i].frozen || syms[i+1].frozen {
				continue
			}
			id, ok := p.mergeIDs[syms[i].s+syms[i+1].s]
			if ok && (best < 0 || p.scores[id] > bestScore) {
				best, bestScore = i, p.scores[id]
			}
		}
		if best < 0 {
			break
		}
		syms[best].s += syms[best+1].s
		syms = slices.Delete(syms, best+1, best+2)
	}
	var ids []int32
	prevUnk := false
	for _, s := range syms {
		id := p.PieceToID(s.s)
		isUnk := p.types[id] == Unknown
		switch {
		case isUnk && p.model.Trainer.ByteFallback:
			for i := 0; i < len(s.s); i++ {
				ids = append(ids, p.byteIDs[s.s[i]])
			}
		case isUnk && prevUnk:
		default:
			ids = append(ids, id)
		}
		prevUnk = isUnk
	}
	return ids
}

// wantRoundTrip is what Decode(Encode(s)) gives with an identity-normalizing model that
// keeps all whitespace and has byte fallback: s itself, except that each byte that does not
// start a valid UTF-8 character became U+FFFD when normalized, and U+2581 in the input is
// indistinguishable from an escaped space, so it comes back as a space. The dummy prefix,
// when the model adds one, is dropped again by Decode.
func wantRoundTrip(s string) string {
	var b strings.Builder
	for s != "" {
		n, ok := validUTF8Rune(s)
		if ok {
			b.WriteString(s[:n])
		} else {
			b.WriteString("\uFFFD")
		}
		s = s[n:]
	}
	return strings.ReplaceAll(b.String(), spaceSymbol, " ")
}

type fuzzModel struct {
	name      string
	p         *Processor
	roundTrip bool // Decode(Encode(s)) == wantRoundTrip(s) holds
	naive     bool // naiveEncode applies
}

var fuzzModelsOnce struct {
	sync.Once
	ms []fuzzModel
}

// fuzzModels returns the variant models, built once.
func fuzzModels(t testing.TB) []fuzzModel {
	fuzzModelsOnce.Do(func() {
		for _, v := range variants {
			m, _ := buildVariant(t, v)
			p, err := NewProcessor(m)
			if err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
			n := m.Normalizer
			fuzzModelsOnce.ms = append(fuzzModelsOnce.ms, fuzzModel{
				name:      v.name,
				p:         p,
				roundTrip: m.Trainer.ByteFallback && n.EscapeWhitespaces && !n.RemoveExtraWhitespaces && !m.Trainer.TreatWhitespaceAsSuffix,
				naive:     !p.enc.hasUnused,
			})
		}
	})
	if len(fuzzModelsOnce.ms) != len(variants) {
		t.Fatal("building the test models failed")
	}
	return fuzzModelsOnce.ms
}

func checkEncode(t *testing.T, m fuzzModel, s string) {
	p := m.p
	ids := p.Encode(s)
	for _, id := range ids {
		if id < 0 || int(id) >= p.VocabSize() {
			t.Fatalf("%s: Encode(%q) gave id %d out of range", m.name, s, id)
		}
	}
	if m.naive {
		if want := naiveEncode(p, s); !slices.Equal(ids, want) {
			t.Fatalf("%s: Encode(%q)\n got %v\nwant %v (naive BPE)", m.name, s, ids, want)
		}
	}
	pieces := p.EncodePieces(s)
	if p.model.Trainer.ByteFallback && len(pieces) != len(ids) {
		t.Fatalf("%s: %d pieces but %d ids", m.name, len(pieces), len(ids))
	}
	got, err := p.Decode(ids)
	if err != nil {
		t.Fatalf("%s: Decode(Encode(%q)): %v", m.name, s, err)
	}
	if m.roundTrip {
		if want := wantRoundTrip(s); got != want {
			t.Fatalf("%s: Decode(Encode(%q)) = %q, want %q", m.name, s, got, want)
		}
	}
	if streamed := streamDecode(t, p, ids); streamed != got {
		t.Fatalf("%s: streaming decode of Encode(%q) = %q, Decode gives %q", m.name, s, streamed, got)
	}
}

// FuzzEncode checks, for arbitrary input bytes and each test model: Encode does not panic
// and gives ids in range; it agrees with naiveEncode; Decode accepts its ids and, for models
// that keep the text intact (identity normalization, whitespace kept, byte fallback), gives
// back the input as sentencepiece would (wantRoundTrip); and the streaming decoder agrees
// with Decode.
func FuzzEncode(f *testing.F) {
	_, g := loadGolden(f, "tok-a")
	for _, c := range g.Encode {
		f.Add(c.Text)
	}
	for _, s := range []string{"\xff", "a\xe6\x97b", "\xed\xa0\x80", "▁▁x▁", "<extra_id_0><extra_id_1>", " the  the", "\uFFFD\xef\xbf"} {
		f.Add(s)
	}
	ms := fuzzModels(f)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return // naiveEncode is quadratic
		}
		for _, m := range ms {
			checkEncode(t, m, s)
		}
	})
}

// The naive comparison on longer, varied input than the fuzz seeds: the variant goldens'
// texts, whole and joined.
func TestEncodeMatchesNaive(t *testing.T) {
	ms := fuzzModels(t)
	_, g := loadGolden(t, "tok-a")
	var texts []string
	for _, c := range g.Encode {
		texts = append(texts, c.Text)
	}
	texts = append(texts, strings.Join(texts, " "), strings.Join(texts, "\n"), strings.Join(texts, ""))
	for _, m := range ms {
		for _, s := range texts {
			if !utf8.ValidString(s) {
				t.Fatal("golden text is not UTF-8")
			}
			checkEncode(t, m, s)
		}
	}
}

// Segmenting the text and caching segments are optimizations: turning them off must not
// change a single id.
func TestSegmentationIsInvisible(t *testing.T) {
	text := benchText(t, 1<<18)
	joined := false
	for _, m := range fuzzModels(t) {
		if !m.p.enc.segmentWS {
			continue
		}
		joined = joined || len(m.p.enc.wsJoin) > 0
		whole, err := NewProcessor(m.p.Model())
		if err != nil {
			t.Fatal(err)
		}
		whole.enc.segmentWS = false
		want := whole.Encode(text)
		if got := m.p.Encode(text); !slices.Equal(got, want) {
			t.Errorf("%s: segmented and whole-text encodings differ", m.name)
		}
		// A second pass is served from the segment cache.
		if got := m.p.Encode(text); !slices.Equal(got, want) {
			t.Errorf("%s: cached and whole-text encodings differ", m.name)
		}
	}
	if !joined {
		t.Error("no test model has pieces with a space symbol inside")
	}
}

// A Processor is shared by goroutines; run with -race.
func TestConcurrentEncode(t *testing.T) {
	p, g := loadGolden(t, "tok-a")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				c := g.Encode[(w*7+i)%len(g.Encode)]
				if got := p.Encode(c.Text); !slices.Equal(got, c.IDs) {
					t.Errorf("concurrent Encode(%q) = %v, want %v", c.Text, got, c.IDs)
					return
				}
			}
		})
	}
	wg.Wait()
}
