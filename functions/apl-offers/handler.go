// Package function is apl-offers (docs/domain.md#employment-agencies-on-siisl,
// docs/contract.md#apl-offers): the agencies' systems publish their vacancies
// in bulk, list them (JSON pages or one Excel workbook), find an offer by
// their own reference, read it, publish a draft, change its state or end of
// publication, and record a candidate's refusal of it, which is
// passed on to ANPAL like a transfer notification, and to INPS as a
// conditionality event (shared/conditionality, docs/conditionality.md).
//
// Every route sees only the caller's agency and the branches its token
// lists (package apl): another agency's offer, or another branch's for an
// operator, is a 404 exactly like an offer that does not exist.
package function

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/conditionality"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry.
const Scope = "apl:offerte"

// Schedule of the refusals' outbox safety net: every minute (each replica
// also delivers as soon as a refusal commits).
const Schedule = "* * * * *"

// maxBody is the contract's limit of a bulk call.
const maxBody = 10 << 20

type offers struct {
	db       *pgxpool.Pool
	subjects audit.Subjects
	refusals []*outbox.Worker // the deliveries a refusal wakes: ANPAL's refusals, INPS's conditionality events
}

var handler = web.New("apl-offers", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	x := &offers{db: p.DB, subjects: p.Subjects}
	// Refusals go to ANPAL's ANPAL_REFUSAL_URL, with its token settings
	// (outbox.Configure); INPS gets the conditionality event at its
	// INPS_NOTIFY_URL, delivered from here too (conditionality-events'
	// replicas share the rows) so it leaves as soon as it commits.
	for _, name := range refusalNotified {
		pt, opt := outbox.Configure(p.Config, name, outbox.Refusal, "apl-offers")
		wk := outbox.New(p.DB, pt, opt, p.Log.With("function", "apl-offers"))
		bg.Go(wk.Run)
		x.refusals = append(x.refusals, wk)
	}
	events := conditionality.NewWorker(p.Config, p.DB, p.Log, "apl-offers")
	bg.Go(events.Run)
	x.refusals = append(x.refusals, events)
	return []web.Route{
		// The cron-connector calls it too: the refusals' outbox safety net.
		{Method: http.MethodPost, Path: "/", Scope: Scope, MaxBody: maxBody, Handle: x.create, Scheduled: x.scheduled, Schedule: Schedule},
		{Method: http.MethodGet, Path: "/", Scope: Scope, Handle: x.list},
		{Method: http.MethodPost, Path: "/{id}/rifiuti", Scope: Scope, Handle: x.refuse},
		{Method: http.MethodGet, Path: "/rif/{rif...}", Scope: Scope, Handle: x.byReference},
		{Method: http.MethodGet, Path: "/{id}", Scope: Scope, Handle: x.get},
		{Method: http.MethodPatch, Path: "/{id}", Scope: Scope, Handle: x.patch},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
