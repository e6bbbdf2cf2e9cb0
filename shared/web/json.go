package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rdc-interop/faas/shared/problem"
)

// DecodeJSON reads an application/json body into v strictly: unknown fields,
// trailing data, wrong types, oversized bodies and strings that are not
// printable text (see CheckText) are refused with the field named.
func DecodeJSON(r *http.Request, v any) error { return DecodeAs(r, "application/json", v) }

// DecodeAs is DecodeJSON for another JSON media type (e.g. application/merge-patch+json).
func DecodeAs(r *http.Request, mediaType string, v any) error {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != mediaType {
		return problem.Newf(problem.UnsupportedMediaType, "send the body as %s", mediaType)
	}
	// Read whole (the route's MaxBytesReader bounds it; the decoder would
	// buffer it all anyway): only the raw bytes show invalid UTF-8.
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeError(err, v)
	}
	return DecodeValue(b, v)
}

// DecodeValue reads one JSON value, e.g. an item of a bulk request, as
// strictly as DecodeJSON reads a body, so each item can be refused alone.
func DecodeValue(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.New(problem.Invalid, "the body holds more than one JSON value")
	}
	var errs []problem.FieldError
	if !utf8.Valid(b) {
		bad, err := invalidUTF8(b, reflect.TypeOf(v))
		if err != nil {
			return problem.New(problem.Invalid, "the body is not valid UTF-8")
		}
		errs = bad
	}
	if err := CheckText(v); err != nil {
		var pe *problem.Error
		errors.As(err, &pe)
		errs = append(errs, pe.Fields...)
	}
	if len(errs) > 0 {
		return problem.Fields(errs[:min(len(errs), maxTextErrors)])
	}
	return nil
}

// decodeError turns a decoding failure into a 4xx naming what it can. Only
// our own names reach the body: a member the request does not take is
// named when it is one of the request's field names (sent at the wrong
// level), and otherwise not at all, as it could be a codice fiscale.
func decodeError(err error, v any) error {
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return problem.Newf(problem.TooLarge, "the body is over %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return problem.New(problem.Invalid, "the body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return problem.Wrap(problem.Invalid, err, "the body is not well-formed JSON")
	case errors.As(err, &typ):
		// Field is the path of struct fields (ours), never a map key.
		field := typ.Field
		if field == "" {
			return problem.New(problem.Invalid, "the body must be a JSON object")
		}
		return problem.Field(field, "type", fmt.Sprintf("must be a JSON %s", jsonKind(typ.Type.Kind().String())))
	}
	// encoding/json reports unknown fields only in the message; the cause is
	// not kept either, as it would carry the name into the logs.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, uerr := strconv.Unquote(name); uerr == nil && knownNames(reflect.TypeOf(v))[name] {
			return problem.Field(name, CodeUnknown, "not a member of the request here")
		}
		return &problem.Error{Kind: problem.Invalid, Detail: "the body has a member that is not part of the request",
			Fields: []problem.FieldError{{Field: "", Code: CodeUnknown, Detail: "not a member of the request (its name is not repeated)"}}}
	}
	return problem.Wrap(problem.Invalid, err, "the body could not be read as the expected JSON object")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	default:
		return "number"
	}
}

// JSON writes v as the application/json answer with status.
func JSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	jsonHeaders(w.Header())
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// jsonHeaders are every JSON answer's, unless the handler set its own.
func jsonHeaders(h http.Header) {
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	// Answers carry personal data unless a handler says otherwise.
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
}
