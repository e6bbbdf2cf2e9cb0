// Package function is feed-anpal: ANPAL (today the Ministry's labour
// platform) keeps current the DIDs and their states and the SAP section 6
// policies with their events, the Patto per il lavoro among them
// (docs/feeds.md#anpal).
//
// A body of change records is applied before the answer; a file is
// applied by a job (package feed).
package function

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/feed"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to feed ANPAL's records; only clients of the
// organisation ANPAL may hold it.
const Scope = "rdc:feed:anpal"

// Source is ANPAL's feed: DIDs, then policies.
var Source = &feed.Source{Name: "ANPAL", Function: "feed-anpal", Scope: Scope, Kinds: []*feed.Kind{didKind, sapKind}}

var handler = web.New(Source.Function, func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	return feed.Routes(p, bg, Source)
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
