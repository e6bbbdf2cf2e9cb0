package function

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Page sizes: the contract leaves them to the function.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// filter is a request's query, checked.
type filter struct {
	branches []string   // the caller's, or the one asked
	offer    *string    // id_offerta
	from, to *time.Time // [from, to): dal at 00:00, the day after al at 00:00, Rome time
	after    *cursor    // the last row of the previous page
	limit    int
}

var known = []string{"filiale", "id_offerta", "dal", "al", "cursor", "limit"}

// parseFilter reads the query string; every bad parameter is named, except
// one this list does not take: its name is the caller's, and could be a
// codice fiscale. A value that is not text (a NUL, say) is refused before
// it can reach SQL.
func parseFilter(q url.Values, t apl.Tenant) (filter, error) {
	f := filter{limit: defaultLimit}
	errs := web.QueryErrors(q, known...)
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	var err error
	if f.branches, err = t.Narrow(q.Get("filiale")); err != nil {
		bad("filiale", "not_allowed", "not a branch this client acts for")
	}
	if v := q.Get("id_offerta"); v != "" {
		if uuid.Validate(v) != nil {
			bad("id_offerta", "invalid", "not an offer id")
		} else {
			f.offer = &v
		}
	}
	day := func(name string, next bool) *time.Time {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		d, err := civil.Parse(v)
		if err != nil {
			bad(name, "invalid", "a date, YYYY-MM-DD")
			return nil
		}
		start, end := d.Bounds()
		if next {
			return &end
		}
		return &start
	}
	f.from, f.to = day("dal", false), day("al", true)
	if f.from != nil && f.to != nil && !f.to.After(*f.from) {
		bad("al", "invalid", "before dal")
	}
	if v := q.Get("cursor"); v != "" {
		c, err := parseCursor(v)
		if err != nil {
			bad("cursor", "invalid", "not a cursor this list gave")
		} else {
			f.after = &c
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			bad("limit", "invalid", fmt.Sprintf("from 1 to %d", maxLimit))
		} else {
			f.limit = n
		}
	}
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	return f, nil
}

// cursor is the position after a row: its time and id, the list's order.
type cursor struct {
	at time.Time
	id int64
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at.UnixMicro(), 10) + "." + strconv.FormatInt(c.id, 10)))
}

// parseCursor reads what String wrote, and nothing else.
func parseCursor(s string) (cursor, error) {
	if len(s) > 64 {
		return cursor{}, fmt.Errorf("cursor too long")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return cursor{}, err
	}
	at, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return cursor{}, fmt.Errorf("cursor without id")
	}
	micros, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n < 1 || micros < 0 || at != strconv.FormatInt(micros, 10) || id != strconv.FormatInt(n, 10) {
		return cursor{}, fmt.Errorf("malformed cursor")
	}
	c := cursor{at: time.UnixMicro(micros).UTC(), id: n}
	if c.String() != s { // base64 skips newlines: only the form String writes is ours
		return cursor{}, fmt.Errorf("cursor not in canonical form")
	}
	return c, nil
}
