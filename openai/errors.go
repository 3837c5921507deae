package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/minitron-go/minitron"
)

// apiError is an error answered in OpenAI's form, {"error": {"message", "type", "param",
// "code"}}, with its HTTP status. Every refusal of the server is one of these.
type apiError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"` // the request field at fault, null when none is
	Code    *string `json:"code"`
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (e *apiError) Error() string { return e.Message }

// The error types OpenAI's API and clients use.
const (
	typeInvalid   = "invalid_request_error"
	typeAuth      = "authentication_error"
	typeNotFound  = "not_found_error"
	typeRateLimit = "rate_limit_exceeded"
	typeServer    = "server_error"
	typeLoading   = "service_unavailable"
)

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// badRequest is a 400 naming the field at fault (param may be "").
func badRequest(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalid, Param: ptr(param), Message: fmt.Sprintf(format, args...)}
}

// fromLibrary maps an error of the library to the answer: ErrBadInput and ErrBadOption are the
// client's (400), a cancelled request needs no answer, anything else is the server's (500).
func fromLibrary(err error, param string) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, minitron.ErrBadInput), errors.Is(err, minitron.ErrBadOption):
		return badRequest(param, "%v", err)
	}
	return &apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: err.Error()}
}

// writeError answers e as JSON.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

// marshal is json.Marshal without HTML escaping: token strings such as "</s>" stay readable.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"message":"encoding the response failed","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decodeJSON reads a request body into v, naming the field at fault when a value has the wrong
// type. Unknown fields are ignored (clients send fields this server has no use for), as is
// nothing after the object but space.
func decodeJSON(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err == nil {
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		big *http.MaxBytesError
	)
	switch {
	case errors.As(err, &big):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalid,
			Message: fmt.Sprintf("request body exceeds the limit of %d bytes", big.Limit)}
	case errors.As(err, &typ):
		return badRequest(typ.Field, "field %q: got a JSON %s, want %s", typ.Field, typ.Value, typ.Type)
	case errors.As(err, &syn):
		return badRequest("", "malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.Is(err, io.EOF):
		return badRequest("", "empty request body: want a JSON object")
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return badRequest(fe.field, "field %q: %s", fe.field, fe.msg)
	}
	return badRequest("", "malformed JSON: %v", err)
}

// fieldError is a value a custom UnmarshalJSON refused.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }
