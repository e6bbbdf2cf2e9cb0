// Package function is anonymised-export (art. 7 c.1-2;
// docs/domain.md#exchange-7-access-for-mlps-and-the-regions): the Ministry gets national data and each Region its own territory,
// as anonymised microdata or as aggregates, never with anything that links
// back to a person.
//
// A request (or the monthly schedule) starts a job; the job streams the
// period's people out of PostgreSQL, anonymises them on the way (keyed
// pseudonyms, generalised quasi-identifiers, k-anonymity, cell suppression:
// package disclosure) and writes one gzip CSV or Parquet file to MinIO, encrypted at rest.
// The recipient downloads it once through this function, which then
// removes it and signs a receipt.
package function

import (
	"fmt"
	"net/http"

	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry.
const Scope = "rdc:export"

// Schedule of the previous month's exports for every recipient and the
// removal of those not downloaded in time: daily at 03:00 UTC, so an export
// that failed or was cut short is made again the next night. stack.yml's
// cron annotation triggers it (a test checks they agree).
const Schedule = "0 3 * * *"

var handler = web.New("anonymised-export", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	master, err := p.Config.Secrets.Get("export-pseudonym-key", "EXPORT_PSEUDONYM_KEY")
	if err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	docs, err := p.DocumentKeys()
	if err != nil {
		return nil, err
	}
	heads, err := p.TreeHeadKeys()
	if err != nil {
		return nil, err
	}
	store, err := files.Open(p.Config, "exports")
	if err != nil {
		return nil, err
	}
	jobs := p.Config.ExportMaxJobs
	x := &exporter{db: p.DB, files: store, master: []byte(master), receipts: docs.Receipts(), trail: auditlog.New(p.DB, heads), log: p.Log, life: p.Life, slots: make(chan struct{}, jobs)}
	return []web.Route{
		{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: x.request, Scheduled: x.scheduled, Schedule: Schedule},
		{Method: http.MethodGet, Path: "/exports", Scope: Scope, Handle: x.list},
		{Method: http.MethodGet, Path: "/exports/{id}", Scope: Scope, Handle: x.get},
		{Method: http.MethodGet, Path: "/exports/{id}/download", Scope: Scope, Handle: x.download},
		{Method: http.MethodGet, Path: "/exports/{id}/receipt", Scope: Scope, Handle: x.receipt},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
