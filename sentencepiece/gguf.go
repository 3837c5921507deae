package sentencepiece

import (
	"fmt"

	"github.com/minitron-go/minitron/checkpoint/gguf"
)

// A SentencePiece tokenizer as GGUF carries it (tokenizer.ggml.model "llama", written by
// llama.cpp's convert_hf_to_gguf.py, _create_vocab_sentencepiece): the pieces, their scores and
// types in three parallel arrays, the special ids, and the flags llama.cpp tokenizes by. The
// GGUF token types are numbered as sentencepiece's piece types (llama_token_type).
//
// The conversion loses one thing: the converter asks sentencepiece for unknown, control, unused
// and byte pieces and calls everything else normal, so user-defined pieces (such as
// <extra_id_0>) arrive as normal ones. A text that spells such a piece out is tokenized as
// llama.cpp tokenizes it from the same file, by merges, not matched whole as the
// tokenizer.model would; all other text gets the ids of the tokenizer.model.

// The metadata keys of a GGUF tokenizer.
const (
	ggufModel       = "tokenizer.ggml.model"
	ggufPre         = "tokenizer.ggml.pre"
	ggufTokens      = "tokenizer.ggml.tokens"
	ggufScores      = "tokenizer.ggml.scores"
	ggufTypes       = "tokenizer.ggml.token_type"
	ggufBOS         = "tokenizer.ggml.bos_token_id"
	ggufEOS         = "tokenizer.ggml.eos_token_id"
	ggufPad         = "tokenizer.ggml.padding_token_id"
	ggufUnk         = "tokenizer.ggml.unknown_token_id"
	ggufAddBOS      = "tokenizer.ggml.add_bos_token"
	ggufAddEOS      = "tokenizer.ggml.add_eos_token"
	ggufSpacePrefix = "tokenizer.ggml.add_space_prefix"
	ggufRemoveWS    = "tokenizer.ggml.remove_extra_whitespaces"
)

// HasGGUF reports whether f carries a tokenizer (any tokenizer.ggml.model).
func HasGGUF(f *gguf.File) bool {
	_, ok := f.Get(ggufModel)
	return ok
}

// ModelFromGGUF rebuilds the SentencePiece model of a GGUF file's tokenizer.ggml.* metadata:
// a BPE model with the file's pieces, scores and types, byte fallback when it has byte pieces,
// and the normalization llama.cpp applies: a leading space unless add_space_prefix says false
// (llama.cpp adds it where the key is absent), extra whitespace kept unless
// remove_extra_whitespaces says otherwise (llama.cpp's SentencePiece tokenizer never removes
// it; the key records what the tokenizer.model did). Errors name the file and the key.
func ModelFromGGUF(f *gguf.File) (*Model, error) {
	fail := func(format string, args ...any) (*Model, error) {
		return nil, fmt.Errorf("%s: %s", f.Path(), fmt.Sprintf(format, args...))
	}
	switch v, ok := f.Get(ggufModel); {
	case !ok:
		return fail("metadata %s is missing: the file has no tokenizer", ggufModel)
	case v != "llama":
		return fail("metadata %s is %v: only \"llama\" (SentencePiece) tokenizers are supported", ggufModel, v)
	}
	tokens, ok := get[[]string](f, ggufTokens)
	if !ok {
		return fail("metadata %s is missing or not an array of strings", ggufTokens)
	}
	n := len(tokens)
	scores, ok := get[[]float32](f, ggufScores)
	if v, present := f.Get(ggufScores); present && (!ok || len(scores) != n) {
		return fail("metadata %s is %s, want %d float32 values", ggufScores, describe(v), n)
	}
	types, ok := get[[]int32](f, ggufTypes)
	if v, present := f.Get(ggufTypes); present && (!ok || len(types) != n) {
		return fail("metadata %s is %s, want %d int32 values", ggufTypes, describe(v), n)
	}

	m := &Model{Trainer: defaultTrainerSpec(), Normalizer: defaultNormalizerSpec()}
	m.Trainer.ModelType = BPE
	m.Trainer.VocabSize = int32(n)
	m.Normalizer.Name = "identity"
	m.Normalizer.RemoveExtraWhitespaces = false
	m.Pieces = make([]Piece, n)
	for i, s := range tokens {
		p := Piece{Piece: s, Type: Normal}
		if scores != nil {
			p.Score = scores[i]
		}
		if types != nil {
			t := types[i]
			if t < int32(Normal) || t > int32(Byte) {
				return fail("metadata %s: token %d %q has type %d, want 1 to 6", ggufTypes, i, s, t)
			}
			p.Type = PieceType(t)
		}
		if p.Type == Byte {
			m.Trainer.ByteFallback = true
		}
		m.Pieces[i] = p
	}

	// The special pieces are found by name (see NewProcessor), so name them after the ids.
	ids := []struct {
		key   string
		id    *int32
		piece *string
	}{
		{ggufUnk, &m.Trainer.UnkID, &m.Trainer.UnkPiece},
		{ggufBOS, &m.Trainer.BOSID, &m.Trainer.BOSPiece},
		{ggufEOS, &m.Trainer.EOSID, &m.Trainer.EOSPiece},
		{ggufPad, &m.Trainer.PadID, &m.Trainer.PadPiece},
	}
	for _, s := range ids {
		id, present, err := tokenIDKey(f, s.key, n)
		if err != nil {
			return nil, err
		}
		if present {
			*s.id, *s.piece = id, tokens[id]
		}
	}
	var err error
	if m.Normalizer.AddDummyPrefix, err = boolKey(f, ggufSpacePrefix, true); err != nil {
		return nil, err
	}
	if m.Normalizer.RemoveExtraWhitespaces, err = boolKey(f, ggufRemoveWS, false); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadGGUF builds the tokenizer of a GGUF file (see ModelFromGGUF), adding BOS and EOS as
// llama.cpp does for it: BOS unless add_bos_token is false, EOS only if add_eos_token is true.
func LoadGGUF(f *gguf.File) (*Tokenizer, error) {
	m, err := ModelFromGGUF(f)
	if err != nil {
		return nil, err
	}
	p, err := NewProcessor(m)
	if err != nil {
		return nil, fmt.Errorf("%s: tokenizer.ggml.*: %w", f.Path(), err)
	}
	t := &Tokenizer{Processor: p, BOSID: p.BOS(), EOSID: p.EOS()}
	n := p.VocabSize()
	for _, s := range []struct {
		key string
		id  *int32
	}{{ggufBOS, &t.BOSID}, {ggufEOS, &t.EOSID}} {
		id, present, err := tokenIDKey(f, s.key, n)
		if err != nil {
			return nil, err
		}
		if present {
			*s.id = id
		}
	}
	if t.AddBOS, err = boolKey(f, ggufAddBOS, true); err != nil {
		return nil, err
	}
	if t.AddEOS, err = boolKey(f, ggufAddEOS, false); err != nil {
		return nil, err
	}
	if t.AddBOS && t.BOSID < 0 {
		return nil, fmt.Errorf("%s: a BOS token is to be added, but the tokenizer has no <s> and no %s", f.Path(), ggufBOS)
	}
	if t.AddEOS && t.EOSID < 0 {
		return nil, fmt.Errorf("%s: an EOS token is to be added, but the tokenizer has no </s> and no %s", f.Path(), ggufEOS)
	}
	return t, nil
}

// GGUFMetadata is the tokenizer.ggml.* metadata of t as convert_hf_to_gguf.py writes it for a
// SentencePiece model, for a model of vocabSize tokens: the pieces padded to vocabSize with
// unused "[PADn]" pieces as the converter pads them, user-defined pieces written as normal ones
// (as the converter does), the special ids, add_bos_token and add_eos_token where they differ
// from llama.cpp's defaults for this tokenizer (BOS added, EOS not), and then the
// tokenizer.model's add_dummy_prefix and remove_extra_whitespaces, which the converter leaves
// out for nemotron (llama.cpp then adds a leading space, wrong for a model trained without).
func (t *Tokenizer) GGUFMetadata(vocabSize int) ([]gguf.KV, error) {
	pieces := t.Model().Pieces
	if len(pieces) > vocabSize {
		return nil, fmt.Errorf("sentencepiece: the tokenizer has %d pieces, more than the model's vocabulary of %d", len(pieces), vocabSize)
	}
	tokens := make([]string, vocabSize)
	scores := make([]float32, vocabSize)
	types := make([]int32, vocabSize)
	for i := range vocabSize {
		if i >= len(pieces) {
			tokens[i], scores[i], types[i] = fmt.Sprintf("[PAD%d]", i), -10000, int32(Unused)
			continue
		}
		p := pieces[i]
		tokens[i], scores[i], types[i] = p.Piece, p.Score, int32(p.Type)
		if p.Type == UserDefined {
			types[i] = int32(Normal)
		}
	}
	kvs := []gguf.KV{
		{Key: ggufModel, Value: "llama"},
		{Key: ggufPre, Value: "default"},
		{Key: ggufTokens, Value: tokens},
		{Key: ggufScores, Value: scores},
		{Key: ggufTypes, Value: types},
	}
	ids := []struct {
		key string
		id  int32
	}{{ggufBOS, t.BOSID}, {ggufEOS, t.EOSID}, {ggufPad, t.PAD()}, {ggufUnk, t.UNK()}}
	for _, s := range ids {
		if s.id >= 0 {
			kvs = append(kvs, gguf.KV{Key: s.key, Value: uint32(s.id)})
		}
	}
	if !t.AddBOS {
		kvs = append(kvs, gguf.KV{Key: ggufAddBOS, Value: false})
	}
	if t.AddEOS {
		kvs = append(kvs, gguf.KV{Key: ggufAddEOS, Value: true})
	}
	n := t.Model().Normalizer
	return append(kvs,
		gguf.KV{Key: ggufSpacePrefix, Value: n.AddDummyPrefix},
		gguf.KV{Key: ggufRemoveWS, Value: n.RemoveExtraWhitespaces},
	), nil
}

// get returns the value under key if it has type T.
func get[T any](f *gguf.File, key string) (T, bool) {
	v, _ := f.Get(key)
	t, ok := v.(T)
	return t, ok
}

// describe names a metadata value's type and, for an array, its length.
func describe(v any) string {
	switch a := v.(type) {
	case []float32:
		return fmt.Sprintf("%d float32 values", len(a))
	case []int32:
		return fmt.Sprintf("%d int32 values", len(a))
	}
	return fmt.Sprintf("a %T", v)
}

// boolKey reads a flag, def where it is absent.
func boolKey(f *gguf.File, key string, def bool) (bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: metadata %s is %v (%T), want a bool", f.Path(), key, v, v)
	}
	return b, nil
}

// tokenIDKey reads a token id, which writers store as uint32 (some as another integer type),
// and checks it against the n tokens.
func tokenIDKey(f *gguf.File, key string, n int) (id int32, present bool, err error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, false, nil
	}
	var x int64 = -1
	switch i := v.(type) {
	case uint8:
		x = int64(i)
	case int8:
		x = int64(i)
	case uint16:
		x = int64(i)
	case int16:
		x = int64(i)
	case uint32:
		x = int64(i)
	case int32:
		x = int64(i)
	case uint64:
		if i < 1<<62 {
			x = int64(i)
		}
	case int64:
		x = i
	default:
		return 0, false, fmt.Errorf("%s: metadata %s is %v (%T), want a token id", f.Path(), key, v, v)
	}
	if x < 0 || x >= int64(n) {
		return 0, false, fmt.Errorf("%s: metadata %s is %v, outside the %d tokens", f.Path(), key, v, n)
	}
	return int32(x), true, nil
}
