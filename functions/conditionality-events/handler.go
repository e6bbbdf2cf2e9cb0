// Package function is conditionality-events (docs/conditionality.md): the
// facts that may lead to a sanction reach INPS. The CPI (through ANPAL's
// clients) and the Comuni's social services (through GePI's) report a
// missed call-in, a pact not signed, a suitable offer refused or followed
// by a hiring, a PUC skipped, a change not reported; the employment
// agencies' refusals come in through apl-offers as the same kind of event.
// INPS is notified of each through the outbox, and lists and acknowledges
// them here.
//
// The kinds and who may report which are shared/conditionality's; this
// function is the exchange: who the reporter is (its token's organisation),
// the person (never in a URL), the idempotent write with its notification
// and audit record in one transaction, and INPS's side.
package function

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/conditionality"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Name of the function, for keys and the audit trail.
const Name = "conditionality-events"

// Scopes: the reporters write, INPS reads (and acknowledges what it read).
const (
	ScopeWrite = "rdc:condizionalita:write"
	ScopeRead  = "rdc:condizionalita:read"
)

// Schedule of the outbox's safety net and the purge of expired idempotency
// keys: every minute (each replica also delivers as soon as an event
// commits).
const Schedule = "* * * * *"

type events struct {
	db       *pgxpool.Pool
	subjects audit.Subjects
	worker   *outbox.Worker
}

var handler = web.New(Name, func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	// Events go to INPS_NOTIFY_URL, with INPS's token settings.
	worker := conditionality.NewWorker(p.Config, p.DB, p.Log, Name)
	bg.Go(worker.Run)
	x := &events{db: p.DB, subjects: p.Subjects, worker: worker}
	return []web.Route{
		// The cron-connector calls it too: the outbox's safety net.
		{Method: http.MethodPost, Path: "/", Scope: ScopeWrite, Handle: x.report, Scheduled: x.scheduled, Schedule: Schedule},
		{Method: http.MethodGet, Path: "/", Scope: ScopeRead, Handle: inpsOnly(x.list)},
		{Method: http.MethodPost, Path: "/{id}/riscontro", Scope: ScopeRead, Handle: inpsOnly(x.acknowledge)},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

// inpsOnly runs next only for INPS's own clients: the events are the
// benefit's, and only the payer applies its sanctions. The scope alone
// would let any client registered with it read every event.
func inpsOnly(next web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if c := web.Claims(r.Context()); c == nil || c.Org != conditionality.Partner {
			return problem.New(problem.Forbidden, "only INPS's clients read and acknowledge conditionality events")
		}
		return next(w, r)
	}
}
