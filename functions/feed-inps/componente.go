package function

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

// componenteRecord is a member as INPS sends it; its key is the member's
// codice fiscale (any spelling: omocodic variants name the same person).
type componenteRecord struct {
	ProtocolloDomanda  string  `json:"protocollo_domanda"` // the household's
	CodiceFiscale      string  `json:"codice_fiscale"`     // as issued
	Cognome            string  `json:"cognome"`
	Nome               string  `json:"nome"`
	Sesso              string  `json:"sesso"`
	DataNascita        string  `json:"data_nascita"`
	ComuneNascita      string  `json:"comune_nascita"` // Belfiore code, Z… abroad
	Cittadinanza       string  `json:"cittadinanza"`   // ISO 3166 alpha-3
	Telefono           *string `json:"telefono"`
	Email              *string `json:"email"`
	Richiedente        *bool   `json:"richiedente"`
	TitoloStudio       *int16  `json:"titolo_studio"`        // 0 none … 7 doctorate
	InScalaEquivalenza *bool   `json:"in_scala_equivalenza"` // n. 5: false, not a beneficiary
	Obbligato          *bool   `json:"obbligato"`            // n. 6
	DaConvocareCPI     *bool   `json:"da_convocare_cpi"`     // n. 7
	DaConvocareComune  *bool   `json:"da_convocare_comune"`  // n. 8
	// n. 4: the member's other social benefits (SIUSS). Absent or null
	// leaves the stored set as it is; a list, even empty, replaces it.
	PrestazioniSociali *[]prestazioneRecord `json:"prestazioni_sociali"`
}

// prestazioneRecord is one of a member's other social benefits as INPS
// reads it from the SIUSS, the Casellario dell'assistenza. The SIUSS
// record layout is not public: the fields are *assumed*.
type prestazioneRecord struct {
	CodicePrestazione string      `json:"codice_prestazione"` // the SIUSS type of benefit
	Descrizione       string      `json:"descrizione"`
	EnteErogatore     string      `json:"ente_erogatore"`
	ImportoMensile    json.Number `json:"importo_mensile"` // optional: a benefit in kind has none
	DataInizio        string      `json:"data_inizio"`
	DataFine          *string     `json:"data_fine"`
}

// prestazione is a benefit checked, as it is staged (jsonb) and then
// expanded by jsonb_to_recordset in applyComponente.
type prestazione struct {
	CodicePrestazione string   `json:"codice_prestazione"`
	Descrizione       string   `json:"descrizione"`
	EnteErogatore     string   `json:"ente_erogatore"`
	ImportoMensile    *float64 `json:"importo_mensile"`
	DataInizio        string   `json:"data_inizio"`
	DataFine          *string  `json:"data_fine"`
}

// The bounds of a member's benefits: a few per person, each a line of text.
const (
	maxPrestazioni = 30
	maxBenefitText = 200
)

// siussCode is a SIUSS benefit type (*assumed*: letters and digits in dot-
// or dash-separated groups, such as A1.02 or ADI-2023).
var siussCode = regexp.MustCompile(`^[A-Z0-9]{1,10}([.\-][A-Z0-9]{1,10}){0,3}$`)

// prestazioniOf checks a member's benefits and returns them as the staged
// jsonb, or nil when the record sends none (the stored set stays).
func prestazioniOf(list *[]prestazioneRecord) (any, error) {
	if list == nil {
		return nil, nil
	}
	if len(*list) > maxPrestazioni {
		return nil, feed.Refuse("prestazioni_sociali", "invalid")
	}
	out := make([]prestazione, 0, len(*list))
	seen := map[[2]string]bool{}
	for i, p := range *list {
		field := func(name string) string { return fmt.Sprintf("prestazioni_sociali[%d].%s", i, name) }
		if err := feed.Pattern(field("codice_prestazione"), p.CodicePrestazione, siussCode); err != nil {
			return nil, err
		}
		for _, t := range []struct{ name, v string }{{"descrizione", p.Descrizione}, {"ente_erogatore", p.EnteErogatore}} {
			if err := feed.Required(field(t.name), t.v); err != nil {
				return nil, err
			}
			if len(t.v) > maxBenefitText {
				return nil, feed.Refuse(field(t.name), "invalid")
			}
		}
		var amount *float64
		if p.ImportoMensile != "" {
			f, err := money(field("importo_mensile"), p.ImportoMensile, 1e8)
			if err != nil {
				return nil, err
			}
			amount = &f
		}
		from, err := feed.Date(field("data_inizio"), p.DataInizio)
		if err != nil {
			return nil, err
		}
		until, err := feed.OptionalDate(field("data_fine"), p.DataFine)
		if err != nil {
			return nil, err
		}
		if until != nil && until.Before(from) {
			return nil, feed.Refuse(field("data_fine"), "invalid") // a benefit cannot end before it starts
		}
		// One benefit of a type from a day: the same one sent twice.
		k := [2]string{p.CodicePrestazione, p.DataInizio}
		if seen[k] {
			return nil, feed.Refuse(field("codice_prestazione"), "invalid")
		}
		seen[k] = true
		var end *string
		if until != nil {
			e := until.Format("2006-01-02")
			end = &e
		}
		out = append(out, prestazione{CodicePrestazione: p.CodicePrestazione, Descrizione: p.Descrizione,
			EnteErogatore: p.EnteErogatore, ImportoMensile: amount, DataInizio: from.Format("2006-01-02"), DataFine: end})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

var componenteKind = &feed.Kind{
	Name: "componente",
	Key:  func(k string) (string, error) { return feed.Person("chiave", k) },
	Columns: []feed.Column{
		{Name: "protocollo", Type: "text"}, {Name: "codice_fiscale", Type: "text"},
		{Name: "cognome", Type: "text"}, {Name: "nome", Type: "text"}, {Name: "sesso", Type: "char(1)"},
		{Name: "data_nascita", Type: "date"}, {Name: "comune_nascita", Type: "text"}, {Name: "cittadinanza", Type: "text"},
		{Name: "telefono", Type: "text"}, {Name: "email", Type: "text"}, {Name: "richiedente", Type: "boolean"},
		{Name: "titolo_studio", Type: "smallint"}, {Name: "in_scala_equivalenza", Type: "boolean"},
		{Name: "obbligato", Type: "boolean"}, {Name: "da_convocare_cpi", Type: "boolean"}, {Name: "da_convocare_comune", Type: "boolean"},
		{Name: "prestazioni_sociali", Type: "jsonb"}, // NULL: the record sends none
	},
	Decode: decodeComponente,
	Apply:  applyComponente,
}

var (
	belfiore    = regexp.MustCompile(`^[A-Z][0-9]{3}$`)
	alpha3      = regexp.MustCompile(`^[A-Z]{3}$`)
	phone       = regexp.MustCompile(`^\+?[0-9 ]{6,20}$`)
	email       = regexp.MustCompile(`^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$`)
	personName  = 100
	flagsFields = []string{"richiedente", "in_scala_equivalenza", "obbligato", "da_convocare_cpi", "da_convocare_comune"}
)

func decodeComponente(key string, dati []byte) ([]any, error) {
	var d componenteRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	if err := feed.Pattern("protocollo_domanda", d.ProtocolloDomanda, protocol); err != nil {
		return nil, err
	}
	issued, person, err := feed.Code("codice_fiscale", d.CodiceFiscale)
	if err != nil {
		return nil, err
	}
	if person != key {
		return nil, feed.Refuse("codice_fiscale", "invalid") // not the person the key names
	}
	for _, n := range []struct{ field, v string }{{"cognome", d.Cognome}, {"nome", d.Nome}} {
		if err := feed.Required(n.field, n.v); err != nil {
			return nil, err
		}
		if len(n.v) > personName {
			return nil, feed.Refuse(n.field, "invalid")
		}
	}
	if err := feed.OneOf("sesso", d.Sesso, "M", "F"); err != nil {
		return nil, err
	}
	born, err := feed.Date("data_nascita", d.DataNascita)
	if err != nil {
		return nil, err
	}
	if err := feed.Pattern("comune_nascita", d.ComuneNascita, belfiore); err != nil {
		return nil, err
	}
	if err := feed.Pattern("cittadinanza", d.Cittadinanza, alpha3); err != nil {
		return nil, err
	}
	if d.Telefono != nil && !phone.MatchString(*d.Telefono) {
		return nil, feed.Refuse("telefono", "invalid")
	}
	if d.Email != nil && !email.MatchString(*d.Email) {
		return nil, feed.Refuse("email", "invalid")
	}
	if d.TitoloStudio == nil {
		return nil, feed.Refuse("titolo_studio", "required")
	}
	if *d.TitoloStudio < 0 || *d.TitoloStudio > 7 {
		return nil, feed.Refuse("titolo_studio", "invalid")
	}
	flags := []*bool{d.Richiedente, d.InScalaEquivalenza, d.Obbligato, d.DaConvocareCPI, d.DaConvocareComune}
	for i, f := range flags {
		if f == nil {
			return nil, feed.Refuse(flagsFields[i], "required")
		}
	}
	benefits, err := prestazioniOf(d.PrestazioniSociali)
	if err != nil {
		return nil, err
	}
	return []any{d.ProtocolloDomanda, issued, d.Cognome, d.Nome, d.Sesso, born, d.ComuneNascita, d.Cittadinanza,
		d.Telefono, d.Email, *d.Richiedente, *d.TitoloStudio, *d.InScalaEquivalenza, *d.Obbligato,
		*d.DaConvocareCPI, *d.DaConvocareComune, benefits}, nil
}

// dependants are the tables that name a member: a member is withdrawn
// only when none does (a DID, a policy, a pact, what SIISL or an agency
// holds about them, a fact reported for INPS).
const dependants = `EXISTS (SELECT 1 FROM did x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM sap_politica x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM patto_inclusione_componente x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM scelta_apl x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM pad x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM profilo x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM manifestazione_interesse x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM annotazione_apl x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM rifiuto_offerta x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM evento_condizionalita x WHERE x.componente_id = m.id)`

// applyComponente upserts the newer members by canonical codice fiscale:
// a member who moves to another household is moved, with what names them.
// A newer record that sends prestazioni_sociali replaces the member's
// benefits; a stale one, or one without them, leaves them as they are.
func applyComponente(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	orphans, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND NOT EXISTS (SELECT 1 FROM nucleo n WHERE n.protocollo_domanda = s.protocollo)`,
		"dati.protocollo_domanda", feed.CodeUnknownHousehold)
	if err != nil {
		return 0, nil, err
	}
	inUse, err := feed.RefuseWhere(ctx, tx, stage, `s.ritirato AND EXISTS (
		SELECT 1 FROM componente m WHERE m.cf_canonico = s.chiave
		AND `+feed.Older("m")+`
		AND (`+dependants+`))`, "ritirato", feed.CodeInUse)
	if err != nil {
		return 0, nil, err
	}
	// One statement: the members the upsert returns (inserted, or updated
	// because newer) are the only ones whose benefits change. The delete
	// sees the rows as they were before the statement, the insert adds new
	// ones: they never touch one row.
	var applied int64
	err = tx.QueryRow(ctx, `
		WITH up AS (
			INSERT INTO componente (nucleo_id, codice_fiscale, cf_canonico, cognome, nome, sesso, data_nascita, comune_nascita,
				cittadinanza, telefono, email, richiedente, titolo_studio, in_scala_equivalenza, obbligato,
				da_convocare_cpi, da_convocare_comune, fonte_il, fonte_seq)
			SELECT n.id, s.codice_fiscale, s.chiave, s.cognome, s.nome, s.sesso, s.data_nascita, s.comune_nascita,
				s.cittadinanza, s.telefono, s.email, s.richiedente, s.titolo_studio, s.in_scala_equivalenza, s.obbligato,
				s.da_convocare_cpi, s.da_convocare_comune, s.il, s.seq
			FROM `+stage+` s JOIN nucleo n ON n.protocollo_domanda = s.protocollo
			WHERE NOT s.ritirato
			ORDER BY s.chiave
			ON CONFLICT (cf_canonico) DO UPDATE SET nucleo_id = EXCLUDED.nucleo_id, codice_fiscale = EXCLUDED.codice_fiscale,
				cognome = EXCLUDED.cognome, nome = EXCLUDED.nome, sesso = EXCLUDED.sesso, data_nascita = EXCLUDED.data_nascita,
				comune_nascita = EXCLUDED.comune_nascita, cittadinanza = EXCLUDED.cittadinanza, telefono = EXCLUDED.telefono,
				email = EXCLUDED.email, richiedente = EXCLUDED.richiedente, titolo_studio = EXCLUDED.titolo_studio,
				in_scala_equivalenza = EXCLUDED.in_scala_equivalenza, obbligato = EXCLUDED.obbligato,
				da_convocare_cpi = EXCLUDED.da_convocare_cpi, da_convocare_comune = EXCLUDED.da_convocare_comune,
				fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq
			WHERE `+feed.Newer("componente")+`
			RETURNING id, cf_canonico
		), replaced AS (
			SELECT up.id, s.prestazioni_sociali
			FROM up JOIN `+stage+` s ON s.chiave = up.cf_canonico
			WHERE s.prestazioni_sociali IS NOT NULL
		), dropped AS (
			DELETE FROM prestazione_sociale x USING replaced r WHERE x.componente_id = r.id
		), added AS (
			INSERT INTO prestazione_sociale (componente_id, codice_prestazione, descrizione, ente_erogatore,
				importo_mensile, data_inizio, data_fine)
			SELECT r.id, p.codice_prestazione, p.descrizione, p.ente_erogatore, p.importo_mensile, p.data_inizio, p.data_fine
			FROM replaced r CROSS JOIN LATERAL jsonb_to_recordset(r.prestazioni_sociali)
				AS p (codice_prestazione text, descrizione text, ente_erogatore text, importo_mensile numeric(10,2),
				      data_inizio date, data_fine date)
			ORDER BY r.id, p.data_inizio, p.codice_prestazione
		)
		SELECT count(*) FROM up`).Scan(&applied)
	if err != nil {
		return 0, nil, err
	}
	gone, err := feed.Withdraw(ctx, tx, "componente", stage, "componente", "t.cf_canonico = s.chiave")
	if err != nil {
		return 0, nil, err
	}
	return applied + gone, append(orphans, inUse...), nil
}
