package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/minitron-go/minitron"
)

func init() {
	commands["score"] = command{
		summary: "log-probability of every token of a text or ids, and the perplexity",
		run:     runScore,
	}
}

const scoreUsage = `score -model DIR|ORG/NAME (-ids 2,380,1554 | -prompt TEXT | -f FILE) [-from N] [-top N] [-json]

Prints, for each token from position -from on, its id, its piece, its log-probability given
the tokens before it (natural log, float64 log-softmax of the logits), whether it was the
greedy choice, and with -top N the N most likely tokens; then the total log-likelihood, the
number of tokens scored and the perplexity, exp(-mean log-probability). The first token has
no log-probability (nothing precedes it). Text from -prompt or -f (read byte for byte) is
tokenized with BOS as -bos says; -ids are taken as they are.`

func runScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("score", scoreUsage, stderr)
	var mf modelFlags
	mf.register(fs)
	idsFlag := fs.String("ids", "", "the sequence as token `ids`, comma-separated (include BOS yourself)")
	prompt := fs.String("prompt", "", "the `text` to score")
	file := fs.String("f", "", "score the text of `FILE`")
	from := fs.Int("from", 0, "first position to report (0 is the first token, which has no log-probability)")
	top := fs.Int("top", 0, "also print the `N` most likely tokens at each position")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	bos := fs.String("bos", "auto", "add BOS to text: auto (as the checkpoint says), true or false")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}

	// Everything that can be checked before loading is; the library checks -from against the
	// length and -top against the vocabulary.
	inputs := 0
	for _, s := range []string{*idsFlag, *prompt, *file} {
		if s != "" {
			inputs++
		}
	}
	switch {
	case inputs == 0:
		return usagef("nothing to score: give -ids, -prompt or -f")
	case inputs > 1:
		return usagef("give one of -ids, -prompt and -f")
	case *from < 0:
		return usagef("-from %d is negative", *from)
	case *top < 0:
		return usagef("-top %d is negative", *top)
	case *bos != "auto" && *bos != "true" && *bos != "false":
		return usagef("-bos %q: want auto, true or false", *bos)
	}
	var ids []int32
	text := *prompt
	switch {
	case *idsFlag != "":
		var err error
		if ids, err = parseIDs(*idsFlag); err != nil {
			return usagef("-ids: %v", err)
		}
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return err // names the file
		}
		if len(b) == 0 {
			return usagef("%s is empty", *file)
		}
		text = string(b)
	}

	m, err := mf.load(stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	if ids == nil {
		switch *bos {
		case "true":
			m.Tokenizer.AddBOS = true
		case "false":
			m.Tokenizer.AddBOS = false
		}
		ids = m.Tokenizer.Encode(text)
	}
	scores, err := m.ScoreIDs(ctx, ids, *from, minitron.ScoreOptions{Top: *top})
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	if *asJSON {
		err = writeScoresJSON(w, m, scores)
	} else {
		err = writeScores(w, m, scores, *top > 0)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// writeScores prints a table, tab-separated, then the totals.
func writeScores(w io.Writer, m *minitron.Model, scores minitron.Scores, top bool) error {
	piece := func(id int32) string { return printablePiece(m.Tokenizer.IDToPiece(id)) }
	fmt.Fprint(w, "pos\tid\ttoken\tlogprob\tgreedy")
	if top {
		fmt.Fprint(w, "\ttop")
	}
	fmt.Fprintln(w)
	for _, s := range scores {
		if !s.Scored {
			fmt.Fprintf(w, "%d\t%d\t%s\t-\t-\n", s.Pos, s.ID, piece(s.ID))
			continue
		}
		greedy := "no"
		if s.Greedy {
			greedy = "yes"
		}
		fmt.Fprintf(w, "%d\t%d\t%s\t%.6f\t%s", s.Pos, s.ID, piece(s.ID), s.Logprob, greedy)
		for i, t := range s.Top {
			sep := " "
			if i == 0 {
				sep = "\t"
			}
			fmt.Fprintf(w, "%s%d:%s:%.6f", sep, t.ID, piece(t.ID), t.Logprob)
		}
		fmt.Fprintln(w)
	}
	sum, n := scores.LogLikelihood()
	ppl := "-"
	if n > 0 {
		ppl = strconv.FormatFloat(scores.Perplexity(), 'f', 4, 64)
	}
	_, err := fmt.Fprintf(w, "log-likelihood %.6f over %d tokens, perplexity %s\n", sum, n, ppl)
	return err
}

// scoreJSON is -json's output; an unscored first token has a null logprob, as OpenAI's echo.
type scoreJSON struct {
	Tokens        []tokenScoreJSON `json:"tokens"`
	LogLikelihood float64          `json:"log_likelihood"`
	Scored        int              `json:"scored"`
	Perplexity    *float64         `json:"perplexity"` // null when nothing was scored
}

type tokenScoreJSON struct {
	Pos     int            `json:"pos"`
	ID      int32          `json:"id"`
	Token   string         `json:"token"`
	Logprob *float64       `json:"logprob"`
	Greedy  *bool          `json:"greedy,omitempty"`
	Top     []topTokenJSON `json:"top,omitempty"`
}

type topTokenJSON struct {
	ID      int32   `json:"id"`
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
}

func writeScoresJSON(w io.Writer, m *minitron.Model, scores minitron.Scores) error {
	out := scoreJSON{Tokens: make([]tokenScoreJSON, len(scores))}
	for i, s := range scores {
		t := tokenScoreJSON{Pos: s.Pos, ID: s.ID, Token: m.Tokenizer.IDToPiece(s.ID)}
		if s.Scored {
			t.Logprob, t.Greedy = &s.Logprob, &s.Greedy
			for _, a := range s.Top {
				t.Top = append(t.Top, topTokenJSON{a.ID, m.Tokenizer.IDToPiece(a.ID), a.Logprob})
			}
		}
		out.Tokens[i] = t
	}
	out.LogLikelihood, out.Scored = scores.LogLikelihood()
	if p := scores.Perplexity(); !math.IsNaN(p) {
		out.Perplexity = &p
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
