// Package function is audit-log (docs/audit-log.md): the audit trail as a
// verifiable log. Every minute, and whenever a caller asks, it appends the
// records that have become final to the trail's Merkle tree and signs a
// tree head; anyone holding the JWKS can then check a head, and that a
// later head extends an earlier one, without trusting this service.
//
// It serves only hashes and sizes: no record, no subject, nothing
// personal. What a record proves is in the receipts that carry it (the
// anonymised export's) and in what the verifier (infra/cmd/audit-verify)
// recomputes from the trail itself.
package function

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope of the on-demand head: a caller that needs a head now (a verifier,
// a receipt that cannot wait for the minute).
const Scope = "rdc:audit"

// Schedule of the heads: every minute, so a record is under a signed head
// about a minute after its answer.
const Schedule = "* * * * *"

var handler = web.New("audit-log", func(p *deps.Set, _ *web.Background) ([]web.Route, error) {
	keys, err := p.TreeHeadKeys()
	if err != nil {
		return nil, err
	}
	x := &heads{log: auditlog.New(p.DB, keys), db: p.DB}
	return []web.Route{
		{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: x.publish, Scheduled: x.publish, Schedule: Schedule},
		{Method: http.MethodGet, Path: "/head", Public: true, Handle: x.latest},
		{Method: http.MethodGet, Path: "/consistency", Public: true, Handle: x.consistency},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
