// Package function is did-holder-exclusion (art. 3 c.6): a CPI asks whether a
// DID holder is a beneficiary of a Patto per l'inclusione sociale, and so
// must not be called in for a Patto per il lavoro (docs/domain.md#the-art-3-c6-exclusion).
//
// The answer is about the person named, not the household: it is the CPI's
// decision for that person.
package function

import (
	"net/http"
	"time"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/lookup"
	"github.com/rdc-interop/faas/shared/web"
)

// Scope a token must carry to call did-holder-exclusion.
const Scope = "rdc:exclusion:read"

// Reasons not to call a person in (motivo). The contract leaves the codes to
// us: these are the two the rule can give.
const (
	// MotivoPattoInclusione: a beneficiary of an active Patto per
	// l'inclusione sociale is followed by the social services (art. 3 c.6).
	MotivoPattoInclusione = "BENEFICIARIO_PATTO_INCLUSIONE"
	// MotivoSenzaDid: without an active DID the person is not a DID holder,
	// so there is nobody for the CPI to call in.
	MotivoSenzaDid = "DID_NON_ATTIVA"
)

var handler = web.New("did-holder-exclusion", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	c := checker{lookup: lookup.New(p, bg, "did-holder-exclusion", store{db: p.DB}.person)}
	return []web.Route{{Method: http.MethodPost, Path: "/", Scope: Scope, Handle: c.check,
		Integrity: web.SignsAnswers | web.ChecksRequests}}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }

type response struct {
	CodiceFiscale               string    `json:"codice_fiscale"`
	BeneficiarioPattoInclusione bool      `json:"beneficiario_patto_inclusione"`
	DaConvocare                 bool      `json:"da_convocare"`
	Motivo                      *string   `json:"motivo"`
	VerificatoIl                time.Time `json:"verificato_il"`
}

type checker struct {
	lookup *lookup.Lookup[facts]
}

func (c checker) check(w http.ResponseWriter, r *http.Request) error {
	res, err := c.lookup.Do(r)
	if err != nil {
		return err
	}
	out := response{CodiceFiscale: string(res.Code), BeneficiarioPattoInclusione: res.Answer.Beneficiario, VerificatoIl: res.At}
	out.DaConvocare, out.Motivo = decide(res.Answer)
	return web.JSON(w, http.StatusOK, out)
}

// decide applies art. 3 c.6: an active DID holder is called in unless an
// active Patto per l'inclusione covers them. The pact is the first reason
// given: it holds whatever the DID's state.
func decide(f facts) (daConvocare bool, motivo *string) {
	switch {
	case f.Beneficiario:
		m := MotivoPattoInclusione
		return false, &m
	case !f.DidAttiva:
		m := MotivoSenzaDid
		return false, &m
	}
	return true, nil
}
