package config

import "errors"

// Sentinel errors, wrapped by every *Error.
var (
	ErrInvalid    = errors.New("config: invalid value")
	ErrUnknownKey = errors.New("config: unknown key")
)

// Error is one problem with one setting. Load and Validate return these,
// several joined with errors.Join when there is more than one.
type Error struct {
	Pos  string // "file:line" when the problem is in a file, else ""
	Key  string // dotted YAML key, or the environment variable
	Msg  string
	kind error
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Key != "" {
		s = e.Key + ": " + s
	}
	if e.Pos != "" {
		s = e.Pos + ": " + s
	}
	return s
}

// Unwrap returns ErrInvalid or ErrUnknownKey.
func (e *Error) Unwrap() error { return e.kind }

func invalid(key, msg string) *Error { return &Error{Key: key, Msg: msg, kind: ErrInvalid} }
