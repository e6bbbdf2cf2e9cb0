package function

import (
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/keyset"
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
	branches []string             // the caller's, or the one asked
	offer    *string              // id_offerta
	from, to *time.Time           // [from, to): dal at 00:00, the day after al at 00:00, Rome time
	after    *keyset.After[int64] // the last row of the previous page
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
	var dayErrs []problem.FieldError
	f.from, f.to, dayErrs = web.QueryDays(q, "dal", "al")
	errs = append(errs, dayErrs...)
	if v := q.Get("cursor"); v != "" {
		c, err := keyset.Parse[int64](v)
		if err != nil {
			bad("cursor", "invalid", "not a cursor this list gave")
		} else {
			f.after = &c
		}
	}
	if n, fe := web.QueryLimit(q, f.limit, maxLimit); fe != nil {
		errs = append(errs, *fe)
	} else {
		f.limit = n
	}
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	return f, nil
}
