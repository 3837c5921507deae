package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/minitron-go/minitron"
)

func init() {
	commands["tokenize"] = command{
		summary: "turn text into token ids, or ids back into text (-decode)",
		run:     runTokenize,
	}
}

const tokenizeUsage = `tokenize -model DIR [-json] [-pieces] [-bos=auto|true|false] [TEXT | - | -f FILE]
       minitron tokenize -model DIR -decode [-json] [IDS | - | -f FILE]

Encodes TEXT with the model's tokenizer.model and prints the token ids, space-separated.
Without TEXT, or with -, the text is read from standard input; with -f, from FILE. Text read
is taken byte for byte (a final newline, NUL bytes and all), so any text can be tokenized.
With -decode, IDS (such as "2,380,1554" or "2 380 1554") are decoded and the text printed.
-bos=auto adds BOS as the checkpoint's tokenizer_config.json says (by default it does).`

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", tokenizeUsage, stderr)
	model := fs.String("model", "", "model `DIR` containing tokenizer.model, Hugging Face id, or GGUF file")
	asJSON := fs.Bool("json", false, "print a JSON array of ids (a JSON string with -decode)")
	pieces := fs.Bool("pieces", false, "print each id with its piece, one per line")
	bos := fs.String("bos", "auto", "add the BOS token: auto (as the checkpoint says), true or false")
	decode := fs.Bool("decode", false, "decode the ids given as the argument")
	file := fs.String("f", "", "read the text (the ids with -decode) from `FILE`")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if *model == "" {
		return usagef("-model is required")
	}
	what := "TEXT"
	if *decode {
		what = "IDS"
	}
	switch {
	case fs.NArg() > 1:
		return usagef("want one %s argument (quote it), got %d", what, fs.NArg())
	case fs.NArg() == 1 && *file != "":
		return usagef("give %s or -f FILE, not both", what)
	}
	if *decode && *pieces {
		return usagef("-pieces does not apply to -decode")
	}
	var addBOS *bool
	switch *bos {
	case "auto":
	case "true", "false":
		b := *bos == "true"
		addBOS = &b
	default:
		return usagef("-bos must be auto, true or false, not %q", *bos)
	}
	arg, err := tokenizeInput(fs.Args(), *file)
	if err != nil {
		return err
	}
	var ids []int32
	if *decode {
		if ids, err = parseIDs(arg); err != nil {
			return usagef("%v", err)
		}
	}

	tok, err := minitron.LoadTokenizer(*model)
	if err != nil {
		return err
	}

	if *decode {
		text, err := tok.Decode(ids)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeTokenizeJSON(stdout, text)
		}
		_, err = fmt.Fprintln(stdout, text)
		return err
	}

	if addBOS != nil {
		tok.AddBOS = *addBOS
	}
	ids = tok.Encode(arg)
	switch {
	case *pieces && *asJSON:
		type idPiece struct {
			ID    int32  `json:"id"`
			Piece string `json:"piece"`
		}
		out := make([]idPiece, len(ids))
		for i, id := range ids {
			out[i] = idPiece{id, tok.IDToPiece(id)}
		}
		return writeTokenizeJSON(stdout, out)
	case *pieces:
		var b strings.Builder
		for _, id := range ids {
			fmt.Fprintf(&b, "%d\t%s\n", id, printablePiece(tok.IDToPiece(id)))
		}
		_, err := io.WriteString(stdout, b.String())
		return err
	case *asJSON:
		if ids == nil {
			ids = []int32{} // [] rather than null
		}
		return writeTokenizeJSON(stdout, ids)
	default:
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.Itoa(int(id))
		}
		_, err := fmt.Fprintln(stdout, strings.Join(s, " "))
		return err
	}
}

// stdin is what tokenize reads when its text comes from standard input; tests replace it.
var stdin io.Reader = os.Stdin

// tokenizeInput is tokenize's text: the argument, standard input when the argument is "-" or
// absent, or the file named by -f.
func tokenizeInput(args []string, file string) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		return string(b), err // the error names the file
	case len(args) == 0 || args[0] == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return "", fmt.Errorf("reading standard input: %w", err)
		}
		return string(b), nil
	}
	return args[0], nil
}

// parseIDs reads ids separated by commas and/or white space, optionally in brackets,
// so that the output of tokenize (plain or -json) can be pasted back.
func parseIDs(s string) ([]int32, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == '[' || r == ']' || unicode.IsSpace(r)
	})
	if len(fields) == 0 {
		return nil, fmt.Errorf("no token ids in %q", s)
	}
	ids := make([]int32, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a token id", f)
		}
		ids[i] = int32(n)
	}
	return ids, nil
}

// printablePiece quotes a piece that would otherwise break the one-per-line output.
func printablePiece(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(p)
	}
	return p
}

func writeTokenizeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
