package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The tokenizer endpoints have vLLM's form, which lm-evaluation-harness's remote tokenizer
// (tokenizer_backend=remote) speaks: an evaluation then needs no Python tokenizer.

type tokenizeRequest struct {
	Model            string          `json:"model"`
	Prompt           *string         `json:"prompt"`
	AddSpecialTokens *bool           `json:"add_special_tokens"`
	ReturnTokenStrs  bool            `json:"return_token_strs"`
	Messages         json.RawMessage `json:"messages"`
}

type tokenizeResponse struct {
	Count       int      `json:"count"`
	MaxModelLen int      `json:"max_model_len"`
	Tokens      []int32  `json:"tokens"`
	TokenStrs   []string `json:"token_strs"`
}

// tokenize: {"prompt", "add_special_tokens" (default true: BOS as the checkpoint asks)} →
// {"count", "max_model_len", "tokens", "token_strs"}.
func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) *apiError {
	m, e := s.ready()
	if e != nil {
		return e
	}
	var req tokenizeRequest
	if e := decodeJSON(r, &req); e != nil {
		return e
	}
	if e := s.checkModel(req.Model); e != nil {
		return e
	}
	if len(req.Messages) > 0 && string(req.Messages) != "null" {
		return badRequest("messages", "tokenizing chat messages needs a chat template, which this server does not apply; give \"prompt\"")
	}
	if req.Prompt == nil {
		return badRequest("prompt", "\"prompt\" is required")
	}
	var ids []int32
	if req.AddSpecialTokens == nil || *req.AddSpecialTokens {
		ids = m.Tokenizer.Encode(*req.Prompt)
	} else {
		ids = m.Tokenizer.Processor.Encode(*req.Prompt)
	}
	if ids == nil {
		ids = []int32{}
	}
	resp := tokenizeResponse{Count: len(ids), MaxModelLen: m.Config().MaxPositions, Tokens: ids}
	if req.ReturnTokenStrs {
		resp.TokenStrs = make([]string, len(ids))
		for i, id := range ids {
			resp.TokenStrs[i] = m.Tokenizer.IDToPiece(id)
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// detokenize: {"tokens"} → {"prompt"}.
func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) *apiError {
	m, e := s.ready()
	if e != nil {
		return e
	}
	var req struct {
		Model  string   `json:"model"`
		Tokens *[]int64 `json:"tokens"`
	}
	if e := decodeJSON(r, &req); e != nil {
		return e
	}
	if e := s.checkModel(req.Model); e != nil {
		return e
	}
	if req.Tokens == nil {
		return badRequest("tokens", "\"tokens\" is required")
	}
	ids, e := checkIDs(*req.Tokens, m.Tokenizer.VocabSize(), "tokens", "")
	if e != nil {
		return e
	}
	text, err := m.Tokenizer.Decode(ids)
	if err != nil {
		return badRequest("tokens", "%v", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"prompt": text})
	return nil
}

// tokenizerInfo is the tokenizer's configuration as Hugging Face's tokenizer_config.json has
// it: lm-evaluation-harness's remote tokenizer needs eos_token.
func (s *Server) tokenizerInfo(w http.ResponseWriter, r *http.Request) *apiError {
	m, e := s.ready()
	if e != nil {
		return e
	}
	t := m.Tokenizer
	piece := func(id int32) any {
		if id < 0 || int(id) >= t.VocabSize() {
			return nil
		}
		return t.IDToPiece(id)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tokenizer_class":  "LlamaTokenizer",
		"bos_token":        piece(t.BOSID),
		"eos_token":        piece(t.EOSID),
		"unk_token":        piece(t.UNK()),
		"pad_token":        piece(t.PAD()),
		"bos_token_id":     t.BOSID,
		"eos_token_id":     t.EOSID,
		"add_bos_token":    t.AddBOS,
		"add_eos_token":    t.AddEOS,
		"model_max_length": m.Config().MaxPositions,
		"vocab_size":       t.VocabSize(),
	})
	return nil
}

type modelObject struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Root        string `json:"root"`
	MaxModelLen int    `json:"max_model_len"`
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) *apiError {
	m, e := s.ready()
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []modelObject{s.describe(m.Dir, m.Config().MaxPositions)}})
	return nil
}

func (s *Server) modelByID(w http.ResponseWriter, r *http.Request) *apiError {
	m, e := s.ready()
	if e != nil {
		return e
	}
	if e := s.checkModel(r.PathValue("id")); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.describe(m.Dir, m.Config().MaxPositions))
	return nil
}

var started = time.Now().Unix()

func (s *Server) describe(dir string, ctx int) modelObject {
	return modelObject{ID: s.cfg.ModelName, Object: "model", Created: started, OwnedBy: "minitron", Root: dir, MaxModelLen: ctx}
}

// chat refuses: Minitron-4B-Base is a base model, and this server applies no chat template.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) *apiError {
	if _, e := s.ready(); e != nil {
		return e
	}
	why := "its checkpoint has no chat template (tokenizer_config.json has no chat_template: it is a base model)"
	if s.chatTmpl.Load() {
		why = "this server does not apply chat templates"
	}
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalid, Param: ptr("messages"), Code: ptr("chat_template_missing"),
		Message: fmt.Sprintf("/v1/chat/completions is not available for %q: %s; send the prompt text to /v1/completions instead", s.cfg.ModelName, why)}
}
