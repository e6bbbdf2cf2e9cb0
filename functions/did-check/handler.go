// Package function is did-check: has any member of a person's household
// declared immediate availability for work (DID), and is that DID active now?
//
// GePI and ANPAL ask it with a codice fiscale (in a POST body: never in a URL);
// it answers for every member of the household. A DID is active only in state
// INSERITA or CONVALIDATA at the moment of the query (docs/domain.md#did-states).
package function

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/lookup"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to call did-check.
const Scope = "rdc:did:read"

var handler = web.New("did-check", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	c := checker{lookup: lookup.New(p, bg, "did-check", store{db: p.DB}.household)}
	return []web.Route{{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: c.check,
		Integrity: web.SignsAnswers | web.ChecksRequests}}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
