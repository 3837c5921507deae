package openai

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minitron-go/minitron/internal/near"
	"github.com/minitron-go/minitron/nemotron/goldentest"
)

// Tolerances. The server's log-probabilities are the library's float64 log-softmax of float32
// logits computed in exact precision; the reference is the float64 log-softmax of the golden
// float32 logits. Their logits agree to ~1e-5 (the golden tests' tolerance), so a sum over a
// continuation of up to 49 tokens stays well within 1e-4.
const (
	sumTol      = 1e-4
	greedyClear = 1e-3 // reference top-2 lead above which a greedy flag is asserted
)

// parseLogprobs is lm-evaluation-harness's parse_logprobs (openai_completions.py): choices
// by index, the sum of token_logprobs[ctxlen:-1], greedy when each of those equals the
// largest value of its top_logprobs.
func parseLogprobs(t *testing.T, a completionAnswer, ctxlens []int) (sums []float64, greedy []bool) {
	t.Helper()
	choices := slices.Clone(a.Choices)
	slices.SortFunc(choices, func(x, y struct {
		Index        int     `json:"index"`
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Logprobs     *struct {
			Tokens        []string             `json:"tokens"`
			TokenLogprobs []*float64           `json:"token_logprobs"`
			TopLogprobs   []map[string]float64 `json:"top_logprobs"`
			TextOffset    []int                `json:"text_offset"`
		} `json:"logprobs"`
	}) int {
		return x.Index - y.Index
	})
	if len(choices) != len(ctxlens) {
		t.Fatalf("%d choices for %d requests", len(choices), len(ctxlens))
	}
	for i, ch := range choices {
		lp := ch.Logprobs
		if lp == nil {
			t.Fatalf("choice %d: no logprobs", i)
		}
		toks := lp.TokenLogprobs[ctxlens[i] : len(lp.TokenLogprobs)-1]
		tops := lp.TopLogprobs[ctxlens[i] : len(lp.TopLogprobs)-1]
		var sum float64
		g := true
		for j, tok := range toks {
			if tok == nil || tops[j] == nil {
				t.Fatalf("choice %d: null logprob at %d", i, ctxlens[i]+j)
			}
			sum += *tok
			mx := math.Inf(-1)
			for _, v := range tops[j] {
				mx = max(mx, v)
			}
			if *tok != mx {
				g = false
			}
		}
		sums = append(sums, sum)
		greedy = append(greedy, g)
	}
	return sums, greedy
}

// TestLMEvalLoglikelihood sends lm-evaluation-harness's loglikelihood request (token-id
// prompts, several per request, echo, logprobs 1, max_tokens 1, temperature 0, seed 1234)
// for every golden case split into context and continuation at several points, and checks
// the summed log-probability against the golden logits' log-softmax and the greedy flag
// against their argmax; then whole greedy continuations, which must read as greedy.
func TestLMEvalLoglikelihood(t *testing.T) {
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			_, ts := newServer(t, name, Config{})
			g := goldentest.Load(t, goldentest.Dir(1, name))
			vocab := loadModel(t, name).Config().VocabSize
			var prompts [][]int64
			var ctxlens []int
			var wantSum []float64
			var wantGreedy []int // 1 greedy, 0 not, -1 too close to call
			for _, c := range g.Cases {
				if len(c.IDs) < 2 {
					continue
				}
				logits := g.Tensor(t, c.Name+".logits")
				for _, ctxlen := range slices.Compact([]int{1, len(c.IDs) / 2, len(c.IDs) - 1}) {
					var sum float64
					greedy := 1
					for p := ctxlen; p < len(c.IDs); p++ {
						row := logits[(p-1)*vocab : p*vocab]
						sum += goldentest.LogSoftmax(row)[c.IDs[p]]
						best, lead := goldentest.Top2(row)
						switch {
						case greedy == 0:
						case best != int(c.IDs[p]) && lead > greedyClear:
							greedy = 0
						case lead <= greedyClear:
							greedy = -1
						}
					}
					prompts = append(prompts, ids64(c.IDs))
					ctxlens = append(ctxlens, ctxlen)
					wantSum = append(wantSum, sum)
					wantGreedy = append(wantGreedy, greedy)
				}
			}
			// Greedy continuations: prompt as context, the reference's greedy tokens as continuation.
			for _, gr := range g.Greedy {
				prompts = append(prompts, ids64(append(slices.Clone(gr.PromptIDs), gr.NewIDs...)))
				ctxlens = append(ctxlens, len(gr.PromptIDs))
				wantSum = append(wantSum, math.NaN()) // no reference logits along it
				wantGreedy = append(wantGreedy, 1)
			}
			code, a := complete(t, ts.URL, map[string]any{
				"model": "golden", "prompt": prompts, "temperature": 0, "max_tokens": 1,
				"logprobs": 1, "seed": 1234, "echo": true,
			})
			if code != 200 {
				t.Fatalf("status %d: %+v", code, a.Error)
			}
			for i, ch := range a.Choices {
				lp := ch.Logprobs
				if ch.Index != i || lp == nil || len(lp.TokenLogprobs) != len(prompts[i])+1 || lp.TokenLogprobs[0] != nil || lp.TopLogprobs[0] != nil {
					t.Fatalf("choice %d: index %d, want the prompt's %d tokens and one more, the first null", i, ch.Index, len(prompts[i]))
				}
			}
			sums, greedy := parseLogprobs(t, a, ctxlens)
			var got, want []float64
			asserted := 0
			for i := range sums {
				if !math.IsNaN(wantSum[i]) {
					got, want = append(got, sums[i]), append(want, wantSum[i])
				}
				if wantGreedy[i] >= 0 {
					asserted++
					if greedy[i] != (wantGreedy[i] == 1) {
						t.Errorf("request %d (context %d of %d tokens): greedy %v, reference %v", i, ctxlens[i], len(prompts[i]), greedy[i], wantGreedy[i] == 1)
					}
				}
			}
			d, at := near.Max(got, want)
			if !(d <= sumTol) {
				t.Errorf("summed logprob off by %.3g at request %d (got %v, want %v), tolerance %g", d, at, got[at], want[at], sumTol)
			}
			if asserted < len(g.Greedy)+1 {
				t.Errorf("only %d greedy flags asserted", asserted)
			}
			t.Logf("%d requests, %d greedy flags asserted, worst |Δ sum| %.3g", len(sums), asserted, d)
		})
	}
}

// goldenText is what the server must answer for a golden greedy continuation: the
// reference's text of the new tokens, which decodes them alone, with the leading space a
// continuation keeps after its prompt (" Paris", as OpenAI's API answers).
func goldenText(t *testing.T, name string, promptIDs, newIDs []int32) string {
	m := loadModel(t, name)
	alone, err := m.Tokenizer.Decode(newIDs)
	if err != nil {
		t.Fatal(err)
	}
	return continuationPrefix(m, promptIDs, newIDs[0]) + alone
}

// TestLMEvalGenerateUntil sends lm-evaluation-harness's generate_until request (prompt,
// max_tokens, temperature 0, stop, seed) for every golden greedy case: the text must be the
// reference's greedy continuation, cut before the stop string when it appears.
func TestLMEvalGenerateUntil(t *testing.T) {
	for _, name := range goldentest.Models {
		t.Run(name, func(t *testing.T) {
			_, ts := newServer(t, name, Config{})
			g := goldentest.Load(t, goldentest.Dir(1, name))
			m := loadModel(t, name)
			refTexts := greedyTexts(t, name)
			cut := 0
			for gi, gr := range g.Greedy {
				want := goldenText(t, name, gr.PromptIDs, gr.NewIDs)
				text, err := m.Tokenizer.Decode(gr.NewIDs)
				if err != nil {
					t.Fatal(err)
				}
				if text != refTexts[gi] || !strings.HasSuffix(want, text) {
					t.Fatalf("%s: the new ids decode to %q, golden.json's text is %q", gr.Case, text, refTexts[gi])
				}
				// A stop string that never occurs, then one from the middle of the text.
				stops := [][]string{{"\u0000never"}}
				runes := []rune(strings.ReplaceAll(want, "\uFFFD", ""))
				if len(runes) >= 6 {
					stops = append(stops, []string{"\u0000never", string(runes[len(runes)/2 : len(runes)/2+2])})
				}
				for _, stop := range stops {
					code, a := complete(t, ts.URL, map[string]any{
						"model": "golden", "prompt": [][]int64{ids64(gr.PromptIDs)}, "max_tokens": len(gr.NewIDs),
						"temperature": 0, "stop": stop, "seed": 1234,
					})
					if code != 200 {
						t.Fatalf("status %d: %+v", code, a.Error)
					}
					w, finish := want, "length"
					if len(stop) > 1 {
						if i := strings.Index(want, stop[1]); i >= 0 {
							w, finish = want[:i], "stop"
							cut++
						}
					}
					if got := a.Choices[0].Text; got != w || *a.Choices[0].FinishReason != finish {
						t.Errorf("%s stop %q: text %q (%s), want %q (%s)", gr.Case, stop, got, *a.Choices[0].FinishReason, w, finish)
					}
					if u := a.Usage; u.PromptTokens != len(gr.PromptIDs) {
						t.Errorf("%s: usage %+v", gr.Case, u)
					}
				}
			}
			if cut == 0 {
				t.Error("no stop string was exercised")
			}
		})
	}
}

// greedyTexts are golden.json's greedy[i].text: transformers' decoding of the new ids.
func greedyTexts(t *testing.T, name string) []string {
	raw, err := os.ReadFile(filepath.Join(goldentest.Dir(1, name), "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Greedy []struct {
			Text string `json:"text"`
		} `json:"greedy"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(g.Greedy))
	for i, gr := range g.Greedy {
		out[i] = gr.Text
	}
	return out
}
