// Package function is audit-controller: the data controller's own questions
// of the audit trail (issue 17).
//
//   - Who accessed this person: every record of the trail about one
//     codice fiscale, with when, through which client (client_id, org),
//     which operator (from the call's tracking evidence) and which
//     exchange (function, action, outcome, status).
//   - What this client did: every record of one client.
//
// Both take an optional range of days and answer newest first, in pages
// with a keyset cursor. The codice fiscale travels only in the body of a
// POST: the function turns it into the subject's keyed reference (the one
// the trail stores, audit.Subjects) and forgets it. It is never in a URL, a
// log line or a stored row, this function's own audit record included: the
// controller's question is itself an access to the person, recorded under
// the person's reference like any other.
//
// infra/cmd/audit-query asks the same two questions from a terminal, with
// the same queries (trail.go).
package function

import (
	"net/http"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/web"
)

// Name of the function, for its routes and the audit trail.
const Name = "audit-controller"

// Scope of the data controller's own client. No partner holds it.
const Scope = "rdc:audit-controller"

// Actions of this function's own audit records.
const (
	ActionSubject = "subject-accesses"
	ActionClient  = "client-activity"
)

// MaxBody of a subject question: one codice fiscale.
const MaxBody = 4 << 10

type controller struct{ p *deps.Set }

var handler = web.New(Name, func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	c := &controller{p: p}
	return []web.Route{
		{Method: http.MethodPost, Path: "/subject", Scope: Scope, MaxBody: MaxBody, Handle: c.subject},
		{Method: http.MethodGet, Path: "/clients/{client_id}", Scope: Scope, Handle: c.client},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
