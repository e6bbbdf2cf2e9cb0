// Package function is apl-interests (docs/domain.md#employment-agencies-on-siisl,
// docs/contract.md#apl-interests): the interest beneficiaries expressed in an
// agency's offers, as JSON pages for its systems or as one Excel file for
// its people.
//
// The list holds the candidates' names and contacts, which they gave the
// agency by applying: every extraction leaves an audit record, and a client
// sees only the offers of the branches its token lists (package apl).
package function

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry.
const Scope = "apl:candidature"

type interests struct {
	db *pgxpool.Pool
}

var handler = web.New("apl-interests", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	x := &interests{db: p.DB}
	return []web.Route{
		{Method: http.MethodGet, Path: "/", Scope: Scope, Handle: x.list},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
