package nemotron

import (
	"errors"
	"fmt"
)

// The kinds of error a caller can act on, tested with errors.Is. An error of neither kind is
// a failure of the model, the files or the machine.
var (
	// ErrBadInput marks a request the model cannot serve as given: an empty prompt, one that
	// leaves no room in the context, more new tokens than the context holds.
	ErrBadInput = errors.New("bad input")
	// ErrBadOption marks an option out of its range: a negative token limit, sampling
	// parameters that select nothing, an empty stop string.
	ErrBadOption = errors.New("bad option")
)

// kindError is an error of one kind whose message is its own, without the kind's name.
type kindError struct {
	kind error
	err  error
}

func (e kindError) Error() string   { return e.err.Error() }
func (e kindError) Unwrap() []error { return []error{e.kind, e.err} }

// BadInput returns an ErrBadInput error with the message fmt.Errorf makes (%w wraps).
func BadInput(format string, args ...any) error {
	return kindError{ErrBadInput, fmt.Errorf(format, args...)}
}

// BadOption returns an ErrBadOption error with the message fmt.Errorf makes (%w wraps).
func BadOption(format string, args ...any) error {
	return kindError{ErrBadOption, fmt.Errorf(format, args...)}
}
