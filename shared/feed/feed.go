// Package feed is how the systems that own the data keep their part of the
// record current (docs/feeds.md): INPS its households, ANPAL the DIDs and
// SAP policies, GePI the Patti per l'inclusione, SIISL what citizens do on
// it. A source sends change records as NDJSON, in a body (incremental, up
// to MaxRecords) or as a file (bulk, a job with checkpoints).
//
// Every record names its key and its version (an instant and a sequence,
// monotone per key), and is applied only if it is newer than what is
// stored: a replay, an out-of-order delivery or a resumed file changes
// nothing twice. A withdrawn record is a tombstone, remembered so that an
// older record of its key arriving later is stale too.
//
// Records are applied set-wise: a chunk of records is checked in Go with
// the exchanges' own parsers, copied into a temporary table, then merged
// into the record by each kind's SQL, in one transaction. A record is
// refused alone (its line, field and a code; never a value); a chunk is
// applied whole or not at all.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// The limits of one incremental batch (a body). A file has no limit on its
// records, only on a line.
const (
	MaxRecords = 10_000
	MaxBody    = 16 << 20
	// MaxLine bounds one record of a body or a file: a CV's text is the
	// longest field any source sends.
	MaxLine = 256 << 10
)

// Source is one system that feeds the record.
type Source struct {
	// Name is the source as batches record it, and the organisation
	// (the token's org) whose clients alone may feed it: INPS, ANPAL, GEPI, SIISL.
	Name string
	// Function is the function's name, as in stack.yml.
	Function string
	// Scope the token must carry.
	Scope string
	// Kinds of record the source sends, in the order a chunk applies them:
	// a parent before what names it (a household before its members).
	Kinds []*Kind
}

func (s *Source) kind(name string) *Kind {
	for _, k := range s.Kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Column is one column of a kind's staging table.
type Column struct{ Name, Type string }

// Kind is one kind of record ("tipo"): how its data is checked and how it
// is merged into the record.
type Kind struct {
	Name string
	// Key checks and normalises a record's key: a codice fiscale to its
	// canonical form, say. Nil takes any key that is printable text.
	Key func(key string) (string, error)
	// Columns of the staging table after the envelope's (riga, chiave,
	// il, seq, ritirato), which every kind has.
	Columns []Column
	// Decode checks a live record's data (its "dati"), given its key as
	// Key made it, and returns the values of Columns, in order. A refused
	// record is a *Reject without a line (see Refuse and RefuseDecode).
	Decode func(key string, dati []byte) ([]any, error)
	// Apply merges the records staged in table stage into the record, in
	// tx: live records (ritirato false) are upserted where newer,
	// withdrawn ones delete where newer and leave a tombstone (Tombstones).
	// It returns how many records took effect and the lines it refused;
	// a record neither applied nor refused was stale.
	Apply func(ctx context.Context, tx pgx.Tx, stage string) (applied int64, refused []Reject, err error)
}

// Reject is a record refused: where, and why, as a code. Never a value.
type Reject struct {
	Line  int64  `json:"riga"`
	Field string `json:"campo"`
	Code  string `json:"codice"`
}

func (r *Reject) Error() string { return fmt.Sprintf("line %d: %s: %s", r.Line, r.Field, r.Code) }

// Refuse returns the reject of field with code, for a Decode.
func Refuse(field, code string) *Reject { return &Reject{Field: field, Code: code} }

// Reject codes beyond the contract's field codes (invalid, required, type,
// unknown, control_character, invalid_encoding).
const (
	CodeMalformed        = "malformed"         // the line is not a JSON object
	CodeLineTooLong      = "line_too_long"     // over MaxLine
	CodeUnknownKind      = "unknown_kind"      // "tipo" is not one this source sends
	CodeUnknownPerson    = "unknown_person"    // no member has this codice fiscale
	CodeUnknownHousehold = "unknown_household" // no household has this protocol
	CodeUnknownReference = "unknown_reference" // an agency, branch or offer that is not there
	CodeInUse            = "in_use"            // a withdrawal of what others still name
	CodeNotMember        = "not_member"        // a pact's member outside its household
)

// envelope is what every record has around its data.
type envelope struct {
	Tipo     string          `json:"tipo"`
	Chiave   string          `json:"chiave"`
	Istante  *string         `json:"istante"`
	Sequenza *int64          `json:"sequenza"`
	Ritirato bool            `json:"ritirato"`
	Dati     json.RawMessage `json:"dati"`
}

// record is one line decoded and checked: ready to stage.
type record struct {
	kind   *Kind
	line   int64
	key    string
	at     time.Time
	seq    int64
	gone   bool
	values []any
}

// maxKey bounds a key: sources' ids are tens of characters.
const maxKey = 200

// parse decodes and checks one line of source s.
func (s *Source) parse(line []byte, n int64) (record, *Reject) {
	var e envelope
	if err := web.DecodeValue(line, &e); err != nil {
		return record{}, rejectOf(err, n, "", CodeMalformed)
	}
	k := s.kind(e.Tipo)
	switch {
	case e.Tipo == "":
		return record{}, &Reject{Line: n, Field: "tipo", Code: "required"}
	case k == nil:
		return record{}, &Reject{Line: n, Field: "tipo", Code: CodeUnknownKind}
	case e.Chiave == "":
		return record{}, &Reject{Line: n, Field: "chiave", Code: "required"}
	case len(e.Chiave) > maxKey:
		return record{}, &Reject{Line: n, Field: "chiave", Code: "invalid"}
	case e.Istante == nil || *e.Istante == "":
		return record{}, &Reject{Line: n, Field: "istante", Code: "required"}
	case e.Sequenza == nil:
		return record{}, &Reject{Line: n, Field: "sequenza", Code: "required"}
	case *e.Sequenza < 0:
		return record{}, &Reject{Line: n, Field: "sequenza", Code: "invalid"}
	}
	at, err := time.Parse(time.RFC3339Nano, *e.Istante)
	if err != nil || at.Year() < 2000 {
		return record{}, &Reject{Line: n, Field: "istante", Code: "invalid"}
	}
	key := e.Chiave
	if k.Key != nil {
		if key, err = k.Key(key); err != nil {
			return record{}, &Reject{Line: n, Field: "chiave", Code: "invalid"}
		}
	}
	r := record{kind: k, line: n, key: key, at: at.UTC(), seq: *e.Sequenza, gone: e.Ritirato}
	if e.Ritirato {
		if len(e.Dati) != 0 && string(e.Dati) != "null" {
			return record{}, &Reject{Line: n, Field: "dati", Code: "not_allowed"}
		}
		r.values = make([]any, len(k.Columns))
		return r, nil
	}
	if len(e.Dati) == 0 || string(e.Dati) == "null" {
		return record{}, &Reject{Line: n, Field: "dati", Code: "required"}
	}
	values, err := k.Decode(key, e.Dati)
	if err != nil {
		return record{}, rejectOf(err, n, "dati.", "invalid")
	}
	if len(values) != len(k.Columns) {
		panic(fmt.Sprintf("feed: kind %s decoded %d values for %d columns", k.Name, len(values), len(k.Columns)))
	}
	r.values = values
	return r, nil
}

// rejectOf turns a decoding error into the reject of line n: the first
// field it names, under prefix; never the error's text.
func rejectOf(err error, n int64, prefix, fallback string) *Reject {
	var rj *Reject
	if errors.As(err, &rj) {
		field := rj.Field
		if field != "" {
			field = prefix + field
		}
		return &Reject{Line: n, Field: field, Code: rj.Code}
	}
	var pe *problem.Error
	if errors.As(err, &pe) && len(pe.Fields) > 0 {
		f := pe.Fields[0]
		field := f.Field
		if field != "" {
			field = prefix + field
		}
		return &Reject{Line: n, Field: field, Code: f.Code}
	}
	return &Reject{Line: n, Field: "", Code: fallback}
}

// RefuseDecode is web.DecodeValue for a kind's data: strict, with text
// checked, and a refusal as a Reject of the first field at fault.
func RefuseDecode(dati []byte, v any) error {
	if err := web.DecodeValue(dati, v); err != nil {
		return rejectOf(err, 0, "", "invalid")
	}
	return nil
}

// The checks the kinds share, with the exchanges' own parsers.

// Person parses a codice fiscale as the exchanges do and returns its
// canonical form, the look-up key.
func Person(field, s string) (string, error) {
	_, canonical, err := Code(field, s)
	return canonical, err
}

// Code parses a codice fiscale as the exchanges do and returns it as
// issued (normalised: upper case, no spaces) and in canonical form.
func Code(field, s string) (issued, canonical string, err error) {
	if s == "" {
		return "", "", Refuse(field, "required")
	}
	c, err := cf.Parse(s)
	if err != nil {
		return "", "", Refuse(field, "invalid")
	}
	return string(c), string(c.Canonical()), nil
}

// Date parses a calendar date (YYYY-MM-DD).
func Date(field, s string) (time.Time, error) {
	d, err := civil.Parse(s)
	if err != nil {
		return time.Time{}, Refuse(field, "invalid")
	}
	return d.Time(), nil
}

// OptionalDate is Date for a field that may be absent (nil).
func OptionalDate(field string, s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := Date(field, *s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// Required refuses an empty string.
func Required(field, s string) error {
	if s == "" {
		return Refuse(field, "required")
	}
	return nil
}

// Pattern refuses s unless it matches re whole.
func Pattern(field, s string, re *regexp.Regexp) error {
	if s == "" {
		return Refuse(field, "required")
	}
	if !re.MatchString(s) {
		return Refuse(field, "invalid")
	}
	return nil
}

// OneOf refuses s unless it is one of values.
func OneOf(field, s string, values ...string) error {
	if s == "" {
		return Refuse(field, "required")
	}
	for _, v := range values {
		if s == v {
			return nil
		}
	}
	return Refuse(field, "invalid")
}
