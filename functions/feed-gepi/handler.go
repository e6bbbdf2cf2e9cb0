// Package function is feed-gepi: GePI keeps current the Patti per
// l'inclusione sociale the Comuni's social services define with a
// household, their state, dates and Ambito, and the members each covers
// (docs/feeds.md#gepi).
//
// A body of change records is applied before the answer; a file is
// applied by a job (package feed).
package function

import (
	"net/http"
	"regexp"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/feed"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to feed GePI's records; only clients of the
// organisation GEPI may hold it.
const Scope = "rdc:feed:gepi"

// Source is GePI's feed: pacts, each with its members.
var Source = &feed.Source{Name: "GEPI", Function: "feed-gepi", Scope: Scope, Kinds: []*feed.Kind{pattoKind}}

var handler = web.New(Source.Function, func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	return feed.Routes(p, bg, Source)
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

var (
	// sourceID is an id GePI gives (a pact's).
	sourceID = regexp.MustCompile(`^[A-Za-z0-9._:/\-]{1,100}$`)
	// protocol is an INPS application's protocol, the key of a household,
	// as feed-inps takes it.
	protocol = regexp.MustCompile(`^[A-Za-z0-9._:/\-]{1,60}$`)
)

func sourceKey(k string) (string, error) {
	if !sourceID.MatchString(k) {
		return "", feed.Refuse("chiave", "invalid")
	}
	return k, nil
}
