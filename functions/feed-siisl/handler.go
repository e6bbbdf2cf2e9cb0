// Package function is feed-siisl: SIISL keeps current what citizens do on
// it: the PAD they sign with the agencies and branches they choose, their
// CV, and the interest they express in the agencies' offers
// (docs/feeds.md#siisl).
//
// A body of change records is applied before the answer; a file is
// applied by a job (package feed).
package function

import (
	"net/http"
	"regexp"
	"time"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/feed"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to feed SIISL's records; only clients of the
// organisation SIISL may hold it.
const Scope = "rdc:feed:siisl"

// Source is SIISL's feed: PADs, CVs, interest in offers. None names
// another, so the order is only the one a reader expects.
var Source = &feed.Source{Name: "SIISL", Function: "feed-siisl", Scope: Scope, Kinds: []*feed.Kind{padKind, cvKind, interesseKind}}

var handler = web.New(Source.Function, func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	return feed.Routes(p, bg, Source)
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

var (
	// sourceID is an id SIISL gives (an interest expression's).
	sourceID = regexp.MustCompile(`^[A-Za-z0-9._:/\-]{1,100}$`)
	// code is an agency's id or a branch's code, as apl and apl_filiale
	// hold them (1001, 1001-RM01).
	code = regexp.MustCompile(`^[A-Za-z0-9._\-]{1,40}$`)
)

func sourceKey(k string) (string, error) {
	if !sourceID.MatchString(k) {
		return "", feed.Refuse("chiave", "invalid")
	}
	return k, nil
}

// personKey is the key of what SIISL holds once per person (a PAD, a CV):
// the codice fiscale, canonical, so that every spelling names one row.
func personKey(k string) (string, error) { return feed.Person("chiave", k) }

// samePerson checks a record's codice fiscale against its key.
func samePerson(key, s string) error {
	person, err := feed.Person("codice_fiscale", s)
	if err != nil {
		return err
	}
	if person != key {
		return feed.Refuse("codice_fiscale", "invalid") // not the person the key names
	}
	return nil
}

// instant parses an RFC 3339 instant. SIISL opened in 2023; an instant
// before 2000 is a mistake, as in the envelope.
func instant(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, feed.Refuse(field, "required")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Year() < 2000 {
		return time.Time{}, feed.Refuse(field, "invalid")
	}
	return t.UTC(), nil
}

// personOf is the SQL of the member a staged record's key names, for
// feed.Withdraw's match: nobody (NULL) matches no row.
const personOf = `(SELECT c.id FROM componente c WHERE c.cf_canonico = s.chiave)`
