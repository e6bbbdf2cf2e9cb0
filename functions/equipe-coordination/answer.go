package function

import (
	"time"

	"github.com/rdc-interop/faas/shared/civil"
)

// Views of a case: what the operator behind the call may see
// (tracking.Data). A coordinator of the pacts sees who the case is about
// and who works on it, not why nor what was done.
const (
	viewFull     = "COMPLETA"
	viewRegistry = "ANAGRAFICA"
)

// summary is a case as the listing shows it.
type summary struct {
	IDCaso              string      `json:"id_caso"`
	Stato               string      `json:"stato"`
	PattoSottoscrittoIl *civil.Date `json:"patto_sottoscritto_il"`
	ApertoIl            time.Time   `json:"aperto_il"`
	ChiusoIl            *time.Time  `json:"chiuso_il"`
	AggiornatoIl        time.Time   `json:"aggiornato_il"`
	// Motivo is null in the registry view.
	Motivo     *string    `json:"motivo"`
	Nucleo     household  `json:"nucleo"`
	Componenti []member   `json:"componenti"`
	Operatori  []operator `json:"operatori"`
	Vista      string     `json:"vista"`
}

// Caso is a case with its events, in order: GET /{id}, and the answer to
// its opening (no events yet).
type Caso struct {
	summary
	Eventi []Evento `json:"eventi"`
}

// household is the reference to the case's household: the INPS
// application and the Comune of residence (art. 3 c.1 lett. a n. 1).
type household struct {
	ProtocolloDomanda string `json:"protocollo_domanda"`
	ComuneIstat       string `json:"comune_istat"`
}

// member is a member the case concerns: who they are, no more.
type member struct {
	CodiceFiscale string `json:"codice_fiscale"`
	Cognome       string `json:"cognome"`
	Nome          string `json:"nome"`
}

// Evento is one event of a case. descrizione and esito are null in the
// registry view.
type Evento struct {
	IDEvento     string     `json:"id_evento"`
	Tipo         string     `json:"tipo"`
	Lato         string     `json:"lato"`
	Data         civil.Date `json:"data"`
	Descrizione  *string    `json:"descrizione"`
	Esito        *string    `json:"esito"`
	RegistratoIl time.Time  `json:"registrato_il"`
}

// eventAnswer is the answer to an event added: the event, its case and the
// case's state after it.
type eventAnswer struct {
	IDCaso string `json:"id_caso"`
	Evento
	StatoCaso           string      `json:"stato_caso"`
	PattoSottoscrittoIl *civil.Date `json:"patto_sottoscritto_il"`
}

// Notifica is what the other side's platform is told of a change: the case
// as opened (modifica APERTURA), or the event added (modifica: its kind).
// The platform receives everything: its operators' roles are its own to apply.
type Notifica struct {
	IDNotifica string  `json:"id_notifica"` // also the POST's Idempotency-Key
	IDCaso     string  `json:"id_caso"`
	Modifica   string  `json:"modifica"`
	Da         string  `json:"da"` // GEPI or ANPAL: who made the change
	StatoCaso  string  `json:"stato_caso"`
	Caso       *Caso   `json:"caso"`
	Evento     *Evento `json:"evento"`
}

// Apertura is the modifica of a case's opening.
const Apertura = "APERTURA"
