package function

import (
	"net/http"
	"time"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/lookup"
	"github.com/rdc-interop/faas/shared/web"
)

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
	lookup *lookup.Lookup[[]componente]
}

func (c checker) check(w http.ResponseWriter, r *http.Request) error {
	res, err := c.lookup.Do(r)
	if err != nil {
		return err
	}
	out := response{CodiceFiscale: string(res.Code), Componenti: res.Answer, VerificatoIl: res.At}
	for _, m := range res.Answer {
		out.DidAttiva = out.DidAttiva || m.DidAttiva
	}
	return web.JSON(w, http.StatusOK, out)
}
