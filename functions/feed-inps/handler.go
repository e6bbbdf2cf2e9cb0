// Package function is feed-inps: INPS keeps current the benefit
// applications and their households (protocol, state, dates, amount,
// DSU/ISEE, residence) and their members, with the personal data and the
// flags of art. 3 c.1 a) (docs/feeds.md#inps).
//
// A household is applied before its members in every chunk, so one batch
// may carry both in any order of lines; a member of a household not yet
// known is refused (unknown_household) and sent again after it.
package function

import (
	"net/http"
	"regexp"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/feed"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to feed INPS's records; only clients of the
// organisation INPS may hold it.
const Scope = "rdc:feed:inps"

// Source is INPS's feed: households, then members.
var Source = &feed.Source{Name: "INPS", Function: "feed-inps", Scope: Scope, Kinds: []*feed.Kind{nucleoKind, componenteKind}}

var handler = web.New(Source.Function, func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	return feed.Routes(p, bg, Source)
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

// protocol is an INPS application's protocol, the key of a household.
var protocol = regexp.MustCompile(`^[A-Za-z0-9._:/\-]{1,60}$`)

func protocolKey(k string) (string, error) {
	if !protocol.MatchString(k) {
		return "", feed.Refuse("chiave", "invalid")
	}
	return k, nil
}
