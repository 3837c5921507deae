package sentencepiece

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDirSpecialTokens(t *testing.T) {
	tokA, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizers", "tok-a", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	m := loadReferenceModel(t, "tok-a")
	m.Pieces[2].Type = Normal // <s> is no longer a control piece: the model has no BOS
	noBOS := string(marshalModel(m))

	const hello = 1080 // "▁H", the first piece of "Hello"
	tests := []struct {
		name            string
		model           string // tokenizer.model, tok-a when ""
		tokenizerConfig string // tokenizer_config.json, absent when ""
		config          string // config.json, absent when ""
		wantErr         string // in the error, which must also name wantErrFile
		wantErrFile     string
		want            []int32 // Encode("Hello")[:2] or [-2:]
	}{
		{name: "no configs: BOS from the model", want: []int32{2, hello}},
		{name: "config.json BOS", config: `{"bos_token_id": 5, "eos_token_id": 3}`, want: []int32{5, hello}},
		{name: "null BOS in config.json", config: `{"bos_token_id": null}`, want: []int32{2, hello}},
		{name: "config.json without BOS", config: `{"vocab_size": 4096}`, want: []int32{2, hello}},
		{name: "add_bos_token false", tokenizerConfig: `{"add_bos_token": false}`, config: `{"bos_token_id": 2}`, want: []int32{hello}},
		{name: "add_bos_token true", tokenizerConfig: `{"add_bos_token": true}`, config: `{"bos_token_id": 4}`, want: []int32{4, hello}},
		{name: "tokenizer_config.json without add_bos_token", tokenizerConfig: `{"model_max_length": 4096}`, want: []int32{2, hello}},
		{name: "add_eos_token", tokenizerConfig: `{"add_bos_token": false, "add_eos_token": true}`, config: `{"eos_token_id": [3, 7]}`, want: []int32{hello, 647, 304, 3}},
		{name: "no BOS anywhere but none wanted", model: noBOS, tokenizerConfig: `{"add_bos_token": false}`, want: []int32{hello}},
		{name: "no BOS anywhere", model: noBOS, wantErr: "has no <s>", wantErrFile: "tokenizer.model"},
		{name: "BOS from config.json when the model has none", model: noBOS, config: `{"bos_token_id": 2}`, want: []int32{2, hello}},
		{name: "bad tokenizer_config.json", tokenizerConfig: `{"add_bos_token": "yes"}`, wantErr: "cannot unmarshal", wantErrFile: "tokenizer_config.json"},
		{name: "bad config.json", config: `{`, wantErr: "unexpected end", wantErrFile: "config.json"},
		{name: "BOS not an id", config: `{"bos_token_id": "<s>"}`, wantErr: "not a token id", wantErrFile: "config.json"},
		{name: "BOS out of range", config: `{"bos_token_id": 4096}`, wantErr: "outside the vocabulary", wantErrFile: "config.json"},
		{name: "bad tokenizer.model", model: "\x0f", wantErr: "invalid wire type", wantErrFile: "tokenizer.model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			model := tt.model
			if model == "" {
				model = string(tokA)
			}
			writeFile(t, dir, "tokenizer.model", model)
			if tt.tokenizerConfig != "" {
				writeFile(t, dir, "tokenizer_config.json", tt.tokenizerConfig)
			}
			if tt.config != "" {
				writeFile(t, dir, "config.json", tt.config)
			}
			tok, err := LoadDir(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), filepath.Join(dir, tt.wantErrFile)) {
					t.Fatalf("error %v, want %q naming %s", err, tt.wantErr, tt.wantErrFile)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := tok.Encode("Hello")
			got := ids[:min(len(ids), len(tt.want))]
			if tok.AddEOS {
				got = ids[len(ids)-len(tt.want):]
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Encode(\"Hello\") = %v, want it to start (or end) with %v", ids, tt.want)
			}
		})
	}
}

func TestLoadDirMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "tokenizer.model")) {
		t.Errorf("LoadDir of an empty directory: error %v, want it to name tokenizer.model", err)
	}
}
