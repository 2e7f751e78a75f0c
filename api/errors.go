package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Error is an API error: the HTTP status, a stable code for programs and a
// message for people. It is the body of every error answer, as
// {"error": {...}}.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// maxBody bounds a request body.
const maxBody = 64 << 10

var errNoEndpoint = &Error{Status: http.StatusNotFound, Code: "not-found", Message: "no such endpoint; the API is described at /api/v1/openapi.json"}

// missing is the error for a required field left out or empty.
func missing(field string) *Error {
	return errorf(http.StatusBadRequest, "missing-field", "the field %q is required", field)
}

// fail answers err: an *Error as it is, anything else as a 500 whose cause
// is logged, not shown.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		a.cfg.Log.Error("admin api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, "internal-error", "the server could not complete the request; the cause is in its log")
	}
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a request's JSON object into v: the content type must be
// JSON, the body at most maxBody, one object with no unknown field.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "unsupported-media-type", "the body must be JSON (Content-Type: application/json), got %q", r.Header.Get("Content-Type"))
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		return errorf(http.StatusBadRequest, "bad-json", "the body must hold one JSON object and nothing after it")
	}
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, "body-too-large", "the body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "bad-json", "the body is empty; want a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "bad-json", "the body is not valid JSON: %v", err)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errorf(http.StatusBadRequest, "bad-json", "the body must be a JSON object, not %s", typeErr.Value)
		}
		return errorf(http.StatusBadRequest, "invalid-field", "the field %q must be a %s, not %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for it.
		return errorf(http.StatusBadRequest, "unknown-field", "the body has an unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errorf(http.StatusBadRequest, "bad-json", "the body could not be read: %v", err)
}
