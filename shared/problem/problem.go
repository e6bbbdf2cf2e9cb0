// Package problem is the one place where errors become HTTP answers.
//
// Handlers and the packages under them return errors of a few kinds (invalid
// input, not found, conflict, unavailable ...); Write maps a kind to its status
// and writes an RFC 9457 application/problem+json body. Only the Detail and
// Fields a caller chose to expose reach the body: wrapped causes (SQL, hosts,
// stacks) stay in the logs, and an error of no known kind is a generic 500.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds, each with one HTTP status (see status).
const (
	Internal Kind = iota
	Invalid
	Unauthorized
	Forbidden
	NotFound
	MethodNotAllowed
	Conflict
	Gone
	TooLarge
	UnsupportedMediaType
	Unprocessable
	TooManyRequests
	Unavailable
)

var kinds = map[Kind]struct {
	status int
	slug   string
	title  string
}{
	Internal:             {http.StatusInternalServerError, "internal", "Internal error"},
	Invalid:              {http.StatusBadRequest, "invalid-input", "Invalid input"},
	Unauthorized:         {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	Forbidden:            {http.StatusForbidden, "forbidden", "Forbidden"},
	NotFound:             {http.StatusNotFound, "not-found", "Not found"},
	MethodNotAllowed:     {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	Conflict:             {http.StatusConflict, "conflict", "Conflict"},
	Gone:                 {http.StatusGone, "gone", "Gone"},
	TooLarge:             {http.StatusRequestEntityTooLarge, "too-large", "Request body too large"},
	UnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	Unprocessable:        {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	TooManyRequests:      {http.StatusTooManyRequests, "too-many-requests", "Too many requests"},
	Unavailable:          {http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
}

// TypeBase prefixes the problem type URIs; the slug names the kind.
const TypeBase = "urn:rdc-interop:problem:"

// FieldError names one invalid input field: the field (JSON name), a short
// machine code, and a human detail that never repeats the value sent.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// Error is an error with a kind and what may be shown to the caller.
type Error struct {
	Kind   Kind
	Detail string       // safe for the caller
	Fields []FieldError // for Invalid
	Header http.Header  // extra response headers (Allow, WWW-Authenticate, Retry-After ...)
	// Extensions are extra members of the body (RFC 9457 §3.2), e.g. the RFC 6749
	// "error" code that OAuth clients read from a token endpoint's answer.
	Extensions map[string]string
	Err        error // the cause: logged, never shown
}

func (e *Error) Error() string {
	msg := kinds[e.Kind].slug
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind with a detail safe to show.
func New(kind Kind, detail string) *Error { return &Error{Kind: kind, Detail: detail} }

// Newf is New with formatting; never format personal data into it.
func Newf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind whose cause is err.
func Wrap(kind Kind, err error, detail string) *Error {
	return &Error{Kind: kind, Detail: detail, Err: err}
}

// Field returns an Invalid error for one field.
func Field(field, code, detail string) *Error {
	return &Error{Kind: Invalid, Detail: "the request has an invalid field", Fields: []FieldError{{field, code, detail}}}
}

// Fields returns an Invalid error listing every invalid field.
func Fields(fields []FieldError) *Error {
	return &Error{Kind: Invalid, Detail: "the request has invalid fields", Fields: fields}
}

// RetryAfterSeconds is what a 503 tells callers to wait when a dependency is down:
// long enough for a restart of PostgreSQL or Redis, short enough not to stall them.
const RetryAfterSeconds = 5

// Down returns an Unavailable error for a dependency that cannot be reached.
func Down(dependency string, err error) *Error {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	return &Error{Kind: Unavailable, Detail: dependency + " is not reachable; retry later", Header: h, Err: err}
}

// WithHeader returns e with a response header added.
func (e *Error) WithHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Add(key, value)
	return e
}

// A Classifier recognises the errors of one dependency (a driver's "no
// rows", a lost connection) and gives them a kind; nil when err is not its.
type Classifier func(err error) *Error

var classifiers []Classifier

// Classify registers c. The packages that own a dependency (db, files)
// register theirs at init, so an error is translated once, wherever it is
// looked at (KindOf, Status, Write), however many layers wrapped it, and a
// call site that forgets to translate cannot turn a lost connection into a
// 500.
func Classify(c Classifier) { classifiers = append(classifiers, c) }

// As returns err's *Error: its own, or the one a classifier gives; nil when
// err has no kind.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	for _, c := range classifiers {
		if pe := c(err); pe != nil {
			return pe
		}
	}
	return nil
}

// KindOf returns the kind of err, Internal when it has none.
func KindOf(err error) Kind {
	if pe := As(err); pe != nil {
		return pe.Kind
	}
	return Internal
}

// Status is the HTTP status for err.
func Status(err error) int { return kinds[KindOf(err)].status }

// Body is the problem+json document.
type Body struct {
	Type      string       `json:"type,omitempty"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	// Extensions are marshalled as members of the document itself.
	Extensions map[string]string `json:"-"`
}

// MarshalJSON inlines the extension members beside the standard ones.
func (b Body) MarshalJSON() ([]byte, error) {
	type plain Body
	std, err := json.Marshal(plain(b))
	if err != nil || len(b.Extensions) == 0 {
		return std, err
	}
	ext, err := json.Marshal(b.Extensions)
	if err != nil {
		return nil, err
	}
	// {"type":...} + {"error":...} -> {"type":...,"error":...}
	return append(append(std[:len(std)-1], ','), ext[1:]...), nil
}

// ContentType of every error body.
const ContentType = "application/problem+json"

// BodyFor builds the body for err: an error of no known kind gets a generic
// detail, so nothing internal leaks.
func BodyFor(err error, requestID string) (Body, http.Header) {
	pe := As(err)
	if pe == nil {
		pe = &Error{Kind: Internal, Detail: "an unexpected error occurred; it has been logged with the request id"}
	}
	k := kinds[pe.Kind]
	detail := pe.Detail
	if pe.Kind == Internal {
		detail = "an unexpected error occurred; it has been logged with the request id"
	}
	return Body{
		Type:       TypeBase + k.slug,
		Title:      k.title,
		Status:     k.status,
		Detail:     detail,
		RequestID:  requestID,
		Errors:     pe.Fields,
		Extensions: pe.Extensions,
	}, pe.Header
}

// Write sends err as problem+json.
func Write(w http.ResponseWriter, err error, requestID string) {
	body, header := BodyFor(err, requestID)
	for k, vs := range header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	WriteBody(w, body)
}

// WriteBody sends a problem document as is (also used for the 200 of /status).
func WriteBody(w http.ResponseWriter, body Body) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(body.Status)
	_ = json.NewEncoder(w).Encode(body)
}
