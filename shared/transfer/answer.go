package transfer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/rdc-interop/faas/shared/civil"
)

// EsitoTrasferito is the outcome of a transfer that was made.
const EsitoTrasferito = "TRASFERITO"

// Risposta is the answer to a transfer, and the core of its notification.
// It holds art. 3 c.1 lett. a) data nn. 1, 2, 3, 9 of the household and, as
// beneficiari, the members of n. 7 (to be called in by the CPI) or n. 8 (by
// the Comuni) with the numbers the exchange owes about each member
// (Exchange.Owes): nothing else, for no one else (data minimisation).
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

// Beneficiario is one member concerned: n. 1, who they are and how to
// reach them, and the member's nn. 4–8 where the exchange owes them (a
// member field the exchange does not owe is nil, and left out).
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

	// n. 4: the member's other social benefits (SIUSS), [] when none
	PrestazioniSociali *[]PrestazioneSociale `json:"prestazioni_sociali,omitempty"`
	// n. 5: counted in the equivalence scale (false: not a beneficiary)
	InScalaEquivalenza *bool `json:"in_scala_equivalenza,omitempty"`
	// n. 6: bound by the obligations (art. 4 c.2)
	Obbligato *bool `json:"obbligato,omitempty"`
	// nn. 7 and 8: to be called in by the CPI, by the Comuni
	DaConvocareCPI    *bool `json:"da_convocare_cpi,omitempty"`
	DaConvocareComune *bool `json:"da_convocare_comune,omitempty"`
}

// PrestazioneSociale is one of a member's other social benefits (n. 4), as
// INPS reads it from the SIUSS (fields *assumed*: the layout is not public).
type PrestazioneSociale struct {
	CodicePrestazione string       `json:"codice_prestazione"`
	Descrizione       string       `json:"descrizione"`
	EnteErogatore     string       `json:"ente_erogatore"`
	ImportoMensile    *json.Number `json:"importo_mensile"` // euro; null for a benefit in kind
	DataInizio        civil.Date   `json:"data_inizio"`
	DataFine          *civil.Date  `json:"data_fine"`
}

// registryMember are the members of a beneficiario that are registry data
// (n. 1): an operator who sees only registry data gets these and null for
// every other member, whatever the answer holds now or later.
var registryMember = map[string]bool{
	"codice_fiscale": true, "cognome": true, "nome": true, "sesso": true, "data_nascita": true,
	"comune_nascita": true, "cittadinanza": true, "telefono": true, "email": true,
}

// null is JSON's null.
var null = json.RawMessage("null")

// RegistryOnly reduces a transfer's answer, as stored, to registry data
// (tracking.Registry, a coordinator's view): the transfer's id, outcome and
// instant, the household's residence and the members' n. 1. Every other
// member of the household and of each beneficiario (nn. 2–9 and the
// application's protocol) keeps its key with null, so the answer has one
// shape for every role. It works on the stored bytes, so the answers
// stored before a field was added are reduced the same way.
func RegistryOnly(body []byte) ([]byte, error) {
	var a map[string]json.RawMessage
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("reduce the answer: %w", err)
	}
	var n map[string]json.RawMessage
	if err := json.Unmarshal(a["nucleo"], &n); err != nil {
		return nil, fmt.Errorf("reduce the answer's household: %w", err)
	}
	for k := range n {
		if k != "residenza" {
			n[k] = null
		}
	}
	var bs []map[string]json.RawMessage
	if err := json.Unmarshal(a["beneficiari"], &bs); err != nil {
		return nil, fmt.Errorf("reduce the answer's members: %w", err)
	}
	for _, b := range bs {
		for k := range b {
			if !registryMember[k] {
				b[k] = null
			}
		}
	}
	var err error
	if a["nucleo"], err = json.Marshal(n); err != nil {
		return nil, fmt.Errorf("reduce the answer: %w", err)
	}
	if a["beneficiari"], err = json.Marshal(bs); err != nil {
		return nil, fmt.Errorf("reduce the answer: %w", err)
	}
	for k := range a {
		switch k {
		case "id_trasferimento", "esito", "data_trasferimento", "nucleo", "beneficiari":
		default:
			a[k] = null
		}
	}
	return json.Marshal(a)
}
