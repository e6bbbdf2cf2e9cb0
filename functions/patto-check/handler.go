// Package function is patto-check: has any member of a person's household
// signed a Patto per il lavoro, and is it active at the time of the query?
//
// The source is SAP section 6 (docs/domain.md#patto-per-il-lavoro-and-the-sap): a Patto per il lavoro
// is a section-6 record with activity A02, and its state is its last event.
// Which events mean "signed" and "closed" is kept in the sap_evento table.
package function

import (
	"net/http"
	"time"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/lookup"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to call patto-check.
const Scope = "rdc:patto:read"

var handler = web.New("patto-check", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	c := checker{lookup: lookup.New(p, bg, "patto-check", store{db: p.DB}.household)}
	return []web.Route{{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: c.check,
		Integrity: web.SignsAnswers | web.ChecksRequests}}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

type response struct {
	CodiceFiscale string       `json:"codice_fiscale"`
	PattoAttivo   bool         `json:"patto_attivo"`
	Componenti    []componente `json:"componenti"`
	VerificatoIl  time.Time    `json:"verificato_il"`
}

type componente struct {
	CodiceFiscale      string      `json:"codice_fiscale"`
	PattoSottoscritto  bool        `json:"patto_sottoscritto"`
	PattoAttivo        bool        `json:"patto_attivo"`
	DataSottoscrizione *civil.Date `json:"data_sottoscrizione"`
	DataFine           *civil.Date `json:"data_fine"`
}

type checker struct {
	lookup *lookup.Lookup[[]componente]
}

func (c checker) check(w http.ResponseWriter, r *http.Request) error {
	res, err := c.lookup.Do(r)
	if err != nil {
		return err
	}
	out := response{CodiceFiscale: string(res.Code), Componenti: res.Answer, VerificatoIl: res.At}
	for _, m := range res.Answer {
		out.PattoAttivo = out.PattoAttivo || m.PattoAttivo
	}
	return web.JSON(w, http.StatusOK, out)
}
