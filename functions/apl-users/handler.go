// Package function is apl-users (docs/domain.md#employment-agencies-on-siisl,
// docs/contract.md#apl-users): an agency's own users and its PAD branches.
//
// Seed 004: a master creates super users, a super creates operators for
// chosen branches. Each user is an OAuth2 client of the agency (a row of
// oauth_client with org APL:<id>, its role, branches and the scopes package
// apl gives the role), which authenticates either with a secret shown once
// in the answer that creates it (stored as bcrypt, as oauth-token checks
// it) or with the public keys it registers (private_key_jwt). Disabling a
// user is an UPDATE of its row, whose trigger (migration 015) makes every
// function drop its cached registration: its tokens stop working at once.
//
// Who manages whom is package apl's rule; another agency's user, or a user
// of a role the caller does not manage, is a 404 exactly like a missing
// one. Every change leaves an audit record, which never holds a secret,
// an e-mail address or a webhook URL.
//
// A super (or the master) also chooses which of the agency's branches
// citizens may pick in the PAD (apl_filiale.selezionabile_pad), which
// feed-siisl respects.
package function

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/web"
)

// Name is the function's, as in stack.yml.
const Name = "apl-users"

// Scope a token must carry: master and super clients hold it.
const Scope = apl.ScopeUsers

type users struct {
	db *pgxpool.Pool
}

var handler = web.New(Name, func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	x := &users{db: p.DB}
	return []web.Route{
		{Method: http.MethodPost, Path: "/", Scope: Scope, MaxBody: maxBody, Handle: x.create},
		{Method: http.MethodGet, Path: "/", Scope: Scope, Handle: x.list},
		{Method: http.MethodGet, Path: "/filiali-pad", Scope: Scope, Handle: x.getPAD},
		{Method: http.MethodPut, Path: "/filiali-pad", Scope: Scope, Handle: x.putPAD},
		{Method: http.MethodGet, Path: "/{client_id}", Scope: Scope, Handle: x.get},
		{Method: http.MethodPatch, Path: "/{client_id}", Scope: Scope, Handle: x.patch},
		{Method: http.MethodPost, Path: "/{client_id}/disabilita", Scope: Scope, Handle: x.disable},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

// maxBody bounds a creation: a few public keys and names fit in 64 KiB.
const maxBody = 64 << 10
