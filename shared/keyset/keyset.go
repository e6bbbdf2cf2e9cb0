// Package keyset is the cursor of the lists paged by (time, id): the
// position after the last row of a page, which the next request sends back.
//
// A cursor is opaque to the caller but not secret: base64url of the row's
// time in microseconds and its id. Only the exact spelling After.String
// writes is read back, so a cursor cannot be crafted into something the
// query was not meant to take, and two spellings never name one position.
package keyset

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ID is the type of the rows' ids a list orders by after their time.
type ID interface{ int64 | uuid.UUID }

// After is the position after a row: its time and id, the list's order.
type After[T ID] struct {
	At time.Time
	ID T
}

// maxLen bounds a cursor: a UUID's is 76 characters.
const maxLen = 96

var errMalformed = errors.New("malformed cursor")

func (a After[T]) String() string {
	var id string
	switch v := any(a.ID).(type) {
	case int64:
		id = strconv.FormatInt(v, 10)
	case uuid.UUID:
		id = v.String()
	}
	return a.encode(strconv.FormatInt(a.At.UnixMicro(), 10) + "." + id)
}

func (After[T]) encode(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// Parse reads what After.String wrote, and nothing else.
func Parse[T ID](s string) (After[T], error) {
	var a After[T]
	if len(s) > maxLen {
		return a, errors.New("cursor too long")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return a, errMalformed
	}
	at, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return a, errors.New("cursor without id")
	}
	micros, err := strconv.ParseInt(at, 10, 64)
	if err != nil || micros < 0 {
		return a, errMalformed
	}
	switch p := any(&a.ID).(type) {
	case *int64:
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 1 {
			return a, errMalformed
		}
		*p = n
	case *uuid.UUID:
		u, err := uuid.Parse(id)
		if err != nil {
			return a, errMalformed
		}
		*p = u
	}
	a.At = time.UnixMicro(micros).UTC()
	if a.String() != s { // base64 skips newlines, uuid.Parse takes other forms: only ours is read
		return After[T]{}, errors.New("cursor not in canonical form")
	}
	return a, nil
}
