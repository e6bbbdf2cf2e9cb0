package function

import (
	"net/http"
	"time"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

type request struct {
	CodiceFiscale string `json:"codice_fiscale"`
}

type response struct {
	CodiceFiscale string       `json:"codice_fiscale"`
	DidAttiva     bool         `json:"did_attiva"`
	Componenti    []componente `json:"componenti"`
	VerificatoIl  time.Time    `json:"verificato_il"`
}

type componente struct {
	CodiceFiscale string      `json:"codice_fiscale"`
	DidAttiva     bool        `json:"did_attiva"`
	StatoDid      *string     `json:"stato_did"`
	DataDid       *civil.Date `json:"data_did"`
	DataStato     *civil.Date `json:"data_stato"`
}

type checker struct {
	store    store
	subjects audit.Subjects
}

func (c *checker) check(w http.ResponseWriter, r *http.Request) error {
	var in request
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	code, err := cf.Parse(in.CodiceFiscale)
	if err != nil {
		return problem.Field("codice_fiscale", "invalid", "not a valid codice fiscale")
	}
	now := time.Now().UTC().Truncate(time.Second)
	ref := c.subjects.Ref(string(code.Canonical()))

	h, err := c.store.household(r.Context(), code.Canonical(), civil.Today(now))
	if problem.KindOf(err) == problem.NotFound {
		if aerr := web.Audit(r, audit.Entry{Action: "did-check", SubjectRef: ref, Outcome: "not_found", Status: http.StatusNotFound}); aerr != nil {
			return aerr
		}
		return problem.New(problem.NotFound, "the codice fiscale is not in any RdC household")
	}
	if err != nil {
		return err
	}

	out := response{CodiceFiscale: string(code), VerificatoIl: now, Componenti: make([]componente, 0, len(h.members))}
	for _, m := range h.members {
		out.Componenti = append(out.Componenti, componente{
			CodiceFiscale: m.codiceFiscale, DidAttiva: m.active, StatoDid: m.state, DataDid: m.didDate, DataStato: m.stateDate,
		})
		out.DidAttiva = out.DidAttiva || m.active
	}
	if err := web.Audit(r, audit.Entry{Action: "did-check", SubjectRef: ref, NucleoID: h.id, Outcome: "found", Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, out)
}
