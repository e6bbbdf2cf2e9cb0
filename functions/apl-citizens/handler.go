// Package function is apl-citizens (docs/domain.md#employment-agencies-on-siisl,
// docs/contract.md#apl-citizens): an agency searches the citizens who chose it in
// their Patto di attivazione digitale (age, education, words of their CV,
// branch; ordered by age, education, date of choice or relevance), as JSON
// pages or one Excel file; reads a citizen's CV (JSON or PDF) and signed
// PAD (PDF); notes the outcome of an interview, for itself alone, and reads
// its own notes back (JSON pages or one Excel file).
//
// A citizen is visible only to the agencies the citizen chose, and to an
// operator only through the branch picked; anyone else is the 404 of an id
// that does not exist. Citizens are addressed by the id_cittadino a search
// gives, never by codice fiscale (a URL ends up in logs). Every search,
// read and note leaves an audit record.
package function

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry.
const Scope = "apl:cittadini"

type citizens struct {
	db       *pgxpool.Pool
	subjects audit.Subjects
}

var handler = web.New("apl-citizens", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	x := &citizens{db: p.DB, subjects: p.Subjects}
	return []web.Route{
		{Method: http.MethodPost, Path: "/search", Scope: Scope, Handle: x.search},
		{Method: http.MethodPost, Path: "/{id}/annotazioni", Scope: Scope, Handle: x.annotate},
		{Method: http.MethodGet, Path: "/{id}/annotazioni", Scope: Scope, Handle: x.citizenNotes},
		{Method: http.MethodGet, Path: "/annotazioni", Scope: Scope, Handle: x.agencyNotes},
		{Method: http.MethodGet, Path: "/{id}/cv", Scope: Scope, Handle: x.cv},
		{Method: http.MethodGet, Path: "/{id}/pad", Scope: Scope, Handle: x.pad},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
