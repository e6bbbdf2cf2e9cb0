package transfer

import (
	"encoding/json"
	"time"

	"github.com/rdc-interop/faas/shared/civil"
)

// EsitoTrasferito is the outcome of a transfer that was made.
const EsitoTrasferito = "TRASFERITO"

// Risposta is the answer to a transfer, and the core of its notification.
// It holds art. 3 c.1 lett. a) data nn. 1, 2, 3, 9 of the household and, as
// beneficiari, n. 1 for the members of n. 7 (to be called in by the CPI) or
// n. 8 (by the Comuni): nothing else, for no one else (data minimisation).
type Risposta struct {
	IDTrasferimento   string         `json:"id_trasferimento"`
	Esito             string         `json:"esito"`
	DataTrasferimento time.Time      `json:"data_trasferimento"`
	Nucleo            Nucleo         `json:"nucleo"`
	Beneficiari       []Beneficiario `json:"beneficiari"`
}

// Notifica is what the receiving platform is told of a transfer: the
// caller's answer, with the direction and the reason (null when none).
type Notifica struct {
	Risposta
	Verso       string  `json:"verso"` // CPI or SERVIZI_SOCIALI
	Motivazione *string `json:"motivazione"`
}

// Nucleo is the household's data. Amounts are decimal numbers in euro, as
// PostgreSQL stores them (no float rounding on the way).
type Nucleo struct {
	ProtocolloDomanda string `json:"protocollo_domanda"`
	// n. 2: economic and asset condition from the valid DSU
	Isee                  json.Number `json:"isee"`
	RedditoFamiliare      json.Number `json:"reddito_familiare"`
	PatrimonioMobiliare   json.Number `json:"patrimonio_mobiliare"`
	PatrimonioImmobiliare json.Number `json:"patrimonio_immobiliare"`
	DataDsu               civil.Date  `json:"data_dsu"`
	// n. 3: monthly amount of the benefit
	ImportoBeneficio json.Number `json:"importo_beneficio"`
	// n. 9: state and dates of the application
	StatoDomanda      string      `json:"stato_domanda"`
	DataPresentazione civil.Date  `json:"data_presentazione"`
	DataDecorrenza    *civil.Date `json:"data_decorrenza"`
	// n. 1, the household's part: where the members are to be called in.
	Residenza Residenza `json:"residenza"`
}

// Residenza is the household's residence.
type Residenza struct {
	ComuneIstat string `json:"comune_istat"`
	Indirizzo   string `json:"indirizzo"`
	Cap         string `json:"cap"`
}

// Beneficiario is n. 1 for one member concerned: who they are and how to
// reach them.
type Beneficiario struct {
	CodiceFiscale string     `json:"codice_fiscale"`
	Cognome       string     `json:"cognome"`
	Nome          string     `json:"nome"`
	Sesso         string     `json:"sesso"`
	DataNascita   civil.Date `json:"data_nascita"`
	ComuneNascita string     `json:"comune_nascita"`
	Cittadinanza  string     `json:"cittadinanza"`
	Telefono      *string    `json:"telefono"`
	Email         *string    `json:"email"`
}
