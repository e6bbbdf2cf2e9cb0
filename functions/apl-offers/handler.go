// Package function is apl-offers (seed 004; contract.md, "Employment
// agencies (APL) on SIISL"): the agencies' systems publish their vacancies
// in bulk, find an offer by their own reference, read it, and change its
// state or end of publication.
//
// Every route sees only the caller's agency and the branches its token
// lists (package apl): another agency's offer, or another branch's for an
// operator, is a 404 exactly like an offer that does not exist.
package function

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/platform"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry.
const Scope = "apl:offerte"

// maxBody is the contract's limit of a bulk call.
const maxBody = 10 << 20

type offers struct {
	db *pgxpool.Pool
}

var handler = web.New("apl-offers", func(p *platform.Platform) ([]web.Route, error) {
	x := &offers{db: p.DB}
	return []web.Route{
		{Method: http.MethodPost, Path: "/", Scope: Scope, MaxBody: maxBody, Handle: x.create},
		{Method: http.MethodGet, Path: "/rif/{rif...}", Scope: Scope, Handle: x.byReference},
		{Method: http.MethodGet, Path: "/{id}", Scope: Scope, Handle: x.get},
		{Method: http.MethodPatch, Path: "/{id}", Scope: Scope, Handle: x.patch},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
