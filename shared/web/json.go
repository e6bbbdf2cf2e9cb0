package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/rdc-interop/faas/shared/problem"
)

// DecodeJSON reads an application/json body into v strictly: unknown fields,
// trailing data, wrong types and oversized bodies are refused with the field named.
func DecodeJSON(r *http.Request, v any) error { return DecodeAs(r, "application/json", v) }

// DecodeAs is DecodeJSON for another JSON media type (e.g. application/merge-patch+json).
func DecodeAs(r *http.Request, mediaType string, v any) error {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != mediaType {
		return problem.Newf(problem.UnsupportedMediaType, "send the body as %s", mediaType)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return problem.New(problem.Invalid, "the body holds more than one JSON value")
	}
	return nil
}

// DecodeValue reads one JSON value, e.g. an item of a bulk request, as
// strictly as DecodeJSON reads a body, so each item can be refused alone.
func DecodeValue(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
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
		field := typ.Field
		if field == "" {
			return problem.New(problem.Invalid, "the body must be a JSON object")
		}
		return problem.Field(field, "type", fmt.Sprintf("must be a JSON %s", jsonKind(typ.Type.Kind().String())))
	}
	// encoding/json reports unknown fields only in the message.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return problem.Field(strings.Trim(name, `"`), "unknown", "this field is not part of the request")
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
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	// Answers carry personal data unless a handler says otherwise.
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
