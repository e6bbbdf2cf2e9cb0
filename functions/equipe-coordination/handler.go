// Package function is equipe-coordination (art. 6 c.1 lett. c–e;
// docs/equipe.md): inclusion pacts run by an Equipe, a mixed team of
// job-centre operators (CPI, on ANPAL's platform) and the Comune's social
// services (on GePI's).
//
// GePI opens a case for a household, naming the members concerned and the
// team; both sides read it and add what they do (an event), within the
// rules of one table (rules.go); GePI signs, monitors and closes the pact.
// Every change reaches the other side's platform through the outbox, in the
// change's own transaction, with the change's id as Idempotency-Key.
//
// A GePI operator sees what their role allows (tracking evidence): a
// coordinator of the pacts reads the cases without their reasons and the
// events' content; an Ambito administrator reads nothing.
package function

import (
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/idempotency"
	"github.com/rdc-interop/faas/shared/outbox"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/tracking"
	"github.com/rdc-interop/faas/shared/web"
)

// Name is the function's, as in stack.yml.
const Name = "equipe-coordination"

// Scope a token must carry.
const Scope = "rdc:equipe"

// Schedule of the outbox's safety net and the purge of expired idempotency
// keys: every minute (each replica also delivers as soon as a change commits).
const Schedule = "* * * * *"

type equipe struct {
	db       *pgxpool.Pool
	subjects audit.Subjects
	// workers deliver to each platform: by partner name (ANPAL, GEPI).
	workers map[string]*outbox.Worker
	log     *slog.Logger
}

func build(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	x := &equipe{db: p.DB, subjects: p.Subjects, workers: map[string]*outbox.Worker{}, log: p.Log}
	for _, partner := range []string{"ANPAL", "GEPI"} {
		pt, opt := outbox.Configure(p.Config, partner, outbox.Equipe, Name)
		w := outbox.New(p.DB, pt, opt, p.Log.With("function", Name))
		bg.Go(w.Run)
		x.workers[partner] = w
	}
	return []web.Route{
		// The cron-connector calls POST /: the pipeline sends its call to
		// the scheduled job, never to open.
		{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: x.open, Scheduled: x.scheduled, Schedule: Schedule},
		{Method: http.MethodGet, Path: "/", Scope: Scope, Handle: x.list, Reveals: tracking.Registry},
		{Method: http.MethodGet, Path: "/{id}", Scope: Scope, Handle: x.get, Reveals: tracking.Registry},
		{Method: http.MethodPost, Path: "/{id}/eventi", Scope: Scope, Handle: x.addEvent},
	}, nil
}

var handler = web.New(Name, build)

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

// side is the caller's side: only GePI's and ANPAL's clients take part.
func side(r *http.Request) (string, error) {
	c := web.Claims(r.Context())
	if c == nil {
		return "", problem.New(problem.Forbidden, "only GePI's and ANPAL's clients take part in an Equipe")
	}
	s := sideOf(c.Org)
	if s == "" {
		return "", problem.New(problem.Forbidden, "only GePI's and ANPAL's clients take part in an Equipe")
	}
	return s, nil
}

// view is what the operator behind the call may see of a case.
func view(r *http.Request) string {
	if web.Operator(r.Context()).Sees() == tracking.Registry {
		return viewRegistry
	}
	return viewFull
}

// requiredKey reads the Idempotency-Key, which every write of the exchange
// needs: a platform that lost the answer must be able to retry without a
// second case or event.
func requiredKey(r *http.Request) (idempotency.Key, error) {
	key, err := web.IdempotencyKey(r)
	if err != nil {
		return key, err
	}
	if key.Value == "" {
		return key, problem.Field(idempotency.Header, "required", "a case or an event is created once per Idempotency-Key; send one")
	}
	return key, nil
}

// scheduled is the cron-connector's call: deliver what is due to both
// platforms, purge old keys, and say how many, with no personal data.
func (x *equipe) scheduled(w http.ResponseWriter, r *http.Request) error {
	var total outbox.Result
	for _, partner := range []string{"ANPAL", "GEPI"} {
		res, err := x.workers[partner].Sweep(r.Context())
		if err != nil {
			return err
		}
		total.Delivered += res.Delivered
		total.Retried += res.Retried
		total.DeadLettered += res.DeadLettered
	}
	purged, err := idempotency.Purge(r.Context(), x.db)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]int64{
		"consegnate": int64(total.Delivered), "da_ritentare": int64(total.Retried),
		"scartate": int64(total.DeadLettered), "chiavi_scadute": purged})
}
