package sentencepiece

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Tokenizer is a checkpoint's tokenizer: the Processor of its tokenizer.model together with
// the special tokens a prompt gets, decided as the checkpoint is meant to be used. Change
// AddBOS, AddEOS, BOSID or EOSID to override that decision.
type Tokenizer struct {
	*Processor

	AddBOS bool  // Encode puts BOSID first
	BOSID  int32 // valid when AddBOS
	AddEOS bool  // Encode puts EOSID last
	EOSID  int32 // valid when AddEOS
}

// LoadDir loads dir/tokenizer.model and decides BOS and EOS handling the way Hugging Face
// transformers does for the checkpoint in dir:
//   - tokenizer_config.json's add_bos_token and add_eos_token, when present (the
//     LlamaTokenizer defaults, true and false, otherwise);
//   - the BOS id from config.json's bos_token_id, falling back to the model's <s>;
//     likewise the EOS id from eos_token_id and </s>.
//
// Errors name the file at fault.
func LoadDir(dir string) (*Tokenizer, error) {
	modelPath := filepath.Join(dir, "tokenizer.model")
	p, err := Load(modelPath)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{Processor: p, AddBOS: true, BOSID: p.BOS(), EOSID: p.EOS()}

	var tc struct {
		AddBOS *bool `json:"add_bos_token"`
		AddEOS *bool `json:"add_eos_token"`
	}
	tcPath := filepath.Join(dir, "tokenizer_config.json")
	if err := readJSON(tcPath, &tc); err != nil {
		return nil, err
	}
	if tc.AddBOS != nil {
		t.AddBOS = *tc.AddBOS
	}
	if tc.AddEOS != nil {
		t.AddEOS = *tc.AddEOS
	}

	// bos_token_id may be null; generation configs sometimes list several eos ids.
	var cfg struct {
		BOS json.RawMessage `json:"bos_token_id"`
		EOS json.RawMessage `json:"eos_token_id"`
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := readJSON(cfgPath, &cfg); err != nil {
		return nil, err
	}
	if err := tokenID(cfg.BOS, &t.BOSID, p); err != nil {
		return nil, fmt.Errorf("%s: bos_token_id: %w", cfgPath, err)
	}
	if err := tokenID(cfg.EOS, &t.EOSID, p); err != nil {
		return nil, fmt.Errorf("%s: eos_token_id: %w", cfgPath, err)
	}

	if t.AddBOS && t.BOSID < 0 {
		return nil, fmt.Errorf("%s: a BOS token is to be added, but %s has no <s> and %s no bos_token_id", dir, modelPath, cfgPath)
	}
	if t.AddEOS && t.EOSID < 0 {
		return nil, fmt.Errorf("%s: an EOS token is to be added, but %s has no </s> and %s no eos_token_id", dir, modelPath, cfgPath)
	}
	return t, nil
}

// readJSON decodes the file at path into v; a missing file leaves v alone.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// tokenID sets *id from a config value: a number, or a list of numbers whose first is
// taken. Absent or null leaves *id alone.
func tokenID(raw json.RawMessage, id *int32, p *Processor) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var n int32
	if err := json.Unmarshal(raw, &n); err != nil {
		var list []int32
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return fmt.Errorf("%s is not a token id", raw)
		}
		n = list[0]
	}
	if n < 0 || int(n) >= p.VocabSize() {
		return fmt.Errorf("%d is outside the vocabulary of %d pieces", n, p.VocabSize())
	}
	*id = n
	return nil
}

// Encode returns the ids of text, with BOS and EOS as the tokenizer is set to add them.
func (t *Tokenizer) Encode(text string) []int32 {
	var ids []int32
	if t.AddBOS {
		ids = append(ids, t.BOSID)
	}
	ids = t.Processor.AppendEncode(ids, text)
	if t.AddEOS {
		ids = append(ids, t.EOSID)
	}
	return ids
}
