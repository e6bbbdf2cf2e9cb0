package web

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rdc-interop/faas/shared/problem"
)

// Every string a request carries ends up in PostgreSQL text, in a partner's
// notification or in an Excel cell. PostgreSQL cannot store NUL at all (the
// statement fails, and the caller got a 500); other control characters are
// storable but are never something a person typed, and they break the files
// and logs the text is copied into. So strings are checked once, where they
// are decoded, and every handler can rely on them being printable text.
//
// A field where a line break makes sense (a description, a note, a reason)
// says so with the struct tag `text:"multiline"`: there tab, line feed and
// carriage return are text too. The tag applies to every string under the
// field (elements of a slice, members of a nested object).

// Field error codes of text that is refused.
const (
	CodeControlCharacter = "control_character"
	CodeInvalidEncoding  = "invalid_encoding"
	CodeUnknown          = "unknown"
)

// maxTextErrors bounds the field errors one request can produce, so that a
// body of a million bad strings does not become an answer as large.
const maxTextErrors = 20

// textTag is the struct tag that marks a multi-line field.
const textTag = "text"

// control reports whether r is a control character that text may not hold:
// C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F); in multi-line text tab,
// line feed and carriage return are allowed.
func control(r rune, multiline bool) bool {
	switch {
	case multiline && (r == '\t' || r == '\n' || r == '\r'):
		return false
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	}
	return false
}

// TextError returns why s is not acceptable text for the field named, or
// nil when it is. The detail never repeats s.
func TextError(field, s string, multiline bool) *problem.FieldError {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return &problem.FieldError{Field: field, Code: CodeInvalidEncoding, Detail: "not valid UTF-8"}
			}
		}
		if control(r, multiline) {
			detail := "holds a control character (such as NUL or a line break); only printable text is accepted"
			if multiline {
				detail = "holds a control character (such as NUL); only printable text, tabs and line breaks are accepted"
			}
			return &problem.FieldError{Field: field, Code: CodeControlCharacter, Detail: detail}
		}
	}
	return nil
}

// CheckText returns an Invalid error naming every string field of v (a
// decoded request: structs, pointers, slices, arrays, maps, interfaces) that
// is not acceptable text, by its JSON path ("motivazione", "items[3].titolo"),
// or nil. Map keys are the caller's and are never part of a path: a bad key
// or value of a map is reported at the map's own path.
func CheckText(v any) error {
	var w textWalk
	w.value(reflect.ValueOf(v), "", false)
	if len(w.errs) > 0 {
		return problem.Fields(w.errs)
	}
	return nil
}

type textWalk struct{ errs []problem.FieldError }

func (w *textWalk) add(fe *problem.FieldError) {
	if fe != nil && len(w.errs) < maxTextErrors {
		w.errs = append(w.errs, *fe)
	}
}

// value checks v at path. Below an interface the value is the caller's own
// shape (member names included), so the path stays the interface's.
func (w *textWalk) value(v reflect.Value, path string, multiline bool) {
	w.walk(v, path, multiline, false)
}

func (w *textWalk) walk(v reflect.Value, path string, multiline, opaque bool) {
	if !v.IsValid() || len(w.errs) >= maxTextErrors {
		return
	}
	switch v.Kind() {
	case reflect.String:
		w.add(TextError(path, v.String(), multiline))
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), path, multiline, opaque || v.Kind() == reflect.Interface)
		}
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			if fv, ok := fieldByIndex(v, f.index); ok {
				p := path
				if !opaque {
					p = join(path, f.name)
				}
				w.walk(fv, p, multiline || f.multiline, opaque)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes (base64) or a json.RawMessage, decoded on its own later
		}
		for i := range v.Len() {
			p := path
			if !opaque {
				p = path + "[" + strconv.Itoa(i) + "]"
			}
			w.walk(v.Index(i), p, multiline, opaque)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			w.walk(it.Key(), path, multiline, opaque)
			w.walk(it.Value(), path, multiline, opaque)
		}
	}
}

// fieldByIndex is v.FieldByIndex without the panic on a nil embedded pointer.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 {
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					return reflect.Value{}, false
				}
				v = v.Elem()
			}
		}
		v = v.Field(x)
	}
	return v, true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// field is one JSON member of a struct type, embedded structs flattened as
// encoding/json flattens them.
type field struct {
	name      string
	index     []int
	typ       reflect.Type
	multiline bool
}

var fieldCache sync.Map // reflect.Type → []field

// fieldsOf lists the JSON members of struct type t. Unlike encoding/json it
// does not resolve two embedded members of one name: request types have none.
func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	var add func(t reflect.Type, index []int, depth int)
	add = func(t reflect.Type, index []int, depth int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(slices.Clone(index), i)
			ft := sf.Type
			if sf.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct && depth < 8 {
					add(ft, idx, depth+1)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			fs = append(fs, field{name: name, index: idx, typ: sf.Type, multiline: sf.Tag.Get(textTag) == "multiline"})
		}
	}
	add(t, nil, 0)
	fieldCache.Store(t, fs)
	return fs
}

// knownNames are the JSON member names of every struct reachable from t:
// the only member names an error body may repeat, as they are ours and
// not the caller's.
func knownNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if t == nil || seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			for _, f := range fieldsOf(t) {
				names[f.name] = true
				walk(f.typ)
			}
		}
	}
	walk(t)
	return names
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// invalidUTF8 finds the strings of b, one JSON value already decoded into a
// value of type t, that are not valid UTF-8. encoding/json silently turns
// such bytes into U+FFFD, so only the raw body can tell. Parts of type
// json.RawMessage are skipped: they are decoded, and checked, on their own
// (an item of a bulk call is that item's error, not the call's). Paths are
// built from t, never from the caller's member names.
func invalidUTF8(b []byte, t reflect.Type) ([]problem.FieldError, error) {
	w := rawWalk{dec: json.NewDecoder(bytes.NewReader(b)), b: b}
	w.dec.UseNumber()
	err := w.value(t, "")
	return w.errs, err
}

type rawWalk struct {
	dec  *json.Decoder
	b    []byte
	errs []problem.FieldError
}

// token reads the next token and whether its bytes are valid UTF-8.
func (w *rawWalk) token() (json.Token, bool, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, false, err
	}
	return tok, utf8.Valid(w.b[start:w.dec.InputOffset()]), nil
}

func (w *rawWalk) bad(path string) {
	if len(w.errs) < maxTextErrors && !slices.ContainsFunc(w.errs, func(fe problem.FieldError) bool { return fe.Field == path }) {
		w.errs = append(w.errs, problem.FieldError{Field: path, Code: CodeInvalidEncoding, Detail: "not valid UTF-8"})
	}
}

// value walks one JSON value of type t (nil when the type no longer tells
// which member is which: an interface, a custom decoder, an unknown member).
func (w *rawWalk) value(t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) && t.Elem() != rawMessageType {
			t = nil
			break
		}
		t = t.Elem()
	}
	if t == rawMessageType {
		var skip json.RawMessage
		return w.dec.Decode(&skip)
	}
	if t != nil && reflect.PointerTo(t).Implements(unmarshalerType) {
		t = nil
	}
	tok, valid, err := w.token()
	if err != nil {
		return err
	}
	delim, isDelim := tok.(json.Delim)
	switch {
	case !isDelim:
		if !valid {
			w.bad(path)
		}
		return nil
	case delim == '{':
		for w.dec.More() {
			key, valid, err := w.token()
			if err != nil {
				return err
			}
			var (
				et    reflect.Type
				epath = path
			)
			if t != nil && t.Kind() == reflect.Struct {
				if f, ok := memberOf(t, key.(string)); ok {
					et, epath = f.typ, join(path, f.name)
				}
			} else if t != nil && t.Kind() == reflect.Map {
				et = t.Elem()
			}
			if !valid {
				w.bad(path)
			}
			if err := w.value(et, epath); err != nil {
				return err
			}
		}
	case delim == '[':
		var et reflect.Type
		indexed := t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array)
		if indexed {
			et = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			epath := path
			if indexed {
				epath = path + "[" + strconv.Itoa(i) + "]"
			}
			if err := w.value(et, epath); err != nil {
				return err
			}
		}
	}
	_, _, err = w.token() // the closing delimiter
	return err
}

// memberOf finds the member a key sets, as encoding/json matches it: the
// exact name, else the name folded for case.
func memberOf(t reflect.Type, key string) (field, bool) {
	fs := fieldsOf(t)
	for _, f := range fs {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fs {
		if bytes.EqualFold([]byte(f.name), []byte(key)) {
			return f, true
		}
	}
	return field{}, false
}

// QueryErrors checks a query string: every parameter is one of known, given
// once, and acceptable text (no NUL or other control character, valid
// UTF-8). A parameter that is not known is refused without its name, which
// is the caller's and could be anything, a codice fiscale included.
func QueryErrors(q url.Values, known ...string) []problem.FieldError {
	var errs []problem.FieldError
	unknown := false
	for name := range q {
		if !slices.Contains(known, name) {
			unknown = true
		}
	}
	if unknown {
		errs = append(errs, problem.FieldError{Field: "", Code: CodeUnknown, Detail: "a parameter this route does not take (its name is not repeated)"})
	}
	for _, name := range known {
		vs, ok := q[name]
		if !ok {
			continue
		}
		if len(vs) > 1 {
			errs = append(errs, problem.FieldError{Field: name, Code: "repeated", Detail: "give it once"})
			continue
		}
		if fe := TextError(name, vs[0], false); fe != nil {
			errs = append(errs, *fe)
		}
	}
	return errs
}
