package function

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Page sizes of the list: the contract leaves them to the function. Offers
// are heavier than interest expressions (a description is up to 10,000
// characters), hence a smaller default.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// listStates are the states a list may ask for: the states an offer reads
// as (effectiveStateSQL), SCADUTA included.
var listStates = map[string]bool{Bozza: true, Pubblicata: true, Sospesa: true, Chiusa: true, Scaduta: true}

// listFilter is a list request's query, checked.
type listFilter struct {
	branches []string    // the caller's, or the one asked
	stato    *string     // the state as of today (effectiveStateSQL)
	from, to *civil.Date // data_pubblicazione in [from, to], both included
	rif      *string     // riferimento_apl, exact
	prefix   *string     // riferimento_apl, starting with
	after    *uuid.UUID  // the last offer of the previous page
	limit    int
}

var listParams = []string{"stato", "filiale", "pubblicazione_dal", "pubblicazione_al", "riferimento", "cursor", "limit"}

// parseList reads the list's query string. Every bad parameter is named,
// except one the list does not take: its name is the caller's and could be
// a codice fiscale. Text that is not text (a NUL, say) is refused by
// web.QueryErrors before anything reaches SQL, and no detail repeats a
// value.
func parseList(q url.Values, t apl.Tenant) (listFilter, error) {
	f := listFilter{limit: defaultLimit}
	errs := web.QueryErrors(q, listParams...)
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	var err error
	// A branch the client does not act for is refused the same whether it
	// exists or not (apl.Narrow): no probing of another branch's codes.
	if f.branches, err = t.Narrow(q.Get("filiale")); err != nil {
		bad("filiale", "not_allowed", "not a branch this client acts for")
	}
	if v := q.Get("stato"); v != "" {
		if !listStates[v] {
			bad("stato", "invalid", "BOZZA, PUBBLICATA, SCADUTA, SOSPESA or CHIUSA")
		} else {
			f.stato = &v
		}
	}
	day := func(name string) *civil.Date {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		d, err := civil.Parse(v)
		if err != nil {
			bad(name, "invalid", "a date, YYYY-MM-DD")
			return nil
		}
		return &d
	}
	f.from, f.to = day("pubblicazione_dal"), day("pubblicazione_al")
	if f.from != nil && f.to != nil && f.to.Time().Before(f.from.Time()) {
		bad("pubblicazione_al", "invalid", "before pubblicazione_dal")
	}
	if v := q.Get("riferimento"); v != "" {
		// A trailing * asks for every reference starting with what comes
		// before it; the rest must be a reference's own characters, so the
		// prefix holds no LIKE wildcard but _ (escaped in the query).
		p, isPrefix := strings.CutSuffix(v, "*")
		switch {
		case !reference.MatchString(p):
			bad("riferimento", "invalid", "a reference (letters, digits and . _ / -), optionally ending in * for a prefix")
		case isPrefix:
			f.prefix = &p
		default:
			f.rif = &p
		}
	}
	if v := q.Get("cursor"); v != "" {
		c, err := parseOfferCursor(v)
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

// offerCursor is the position after an offer: its id, the list's order. It
// is opaque to clients (base64url of the id's 16 bytes), and only the form
// it writes is read back, so a cursor cannot be crafted into another
// spelling of the same place.
func offerCursor(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// parseOfferCursor reads what offerCursor wrote, and nothing else.
func parseOfferCursor(s string) (uuid.UUID, error) {
	if len(s) != base64.RawURLEncoding.EncodedLen(16) {
		return uuid.UUID{}, fmt.Errorf("cursor of the wrong length")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return uuid.UUID{}, err
	}
	id, err := uuid.FromBytes(b)
	if err != nil {
		return uuid.UUID{}, err
	}
	if offerCursor(id) != s { // base64 skips newlines: only the form we write is ours
		return uuid.UUID{}, fmt.Errorf("cursor not in canonical form")
	}
	return id, nil
}

// likePrefix is the LIKE pattern of the references starting with p: a
// reference holds no % or \, only _ needs escaping.
func likePrefix(p string) string { return strings.ReplaceAll(p, "_", `\_`) + "%" }
