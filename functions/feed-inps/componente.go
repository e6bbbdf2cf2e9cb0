package function

import (
	"context"
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
	return []any{d.ProtocolloDomanda, issued, d.Cognome, d.Nome, d.Sesso, born, d.ComuneNascita, d.Cittadinanza,
		d.Telefono, d.Email, *d.Richiedente, *d.TitoloStudio, *d.InScalaEquivalenza, *d.Obbligato,
		*d.DaConvocareCPI, *d.DaConvocareComune}, nil
}

// dependants are the tables that name a member: a member is withdrawn
// only when none does (a DID, a policy, a pact, what SIISL or an agency
// holds about them).
const dependants = `EXISTS (SELECT 1 FROM did x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM sap_politica x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM patto_inclusione_componente x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM scelta_apl x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM pad x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM profilo x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM manifestazione_interesse x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM annotazione_apl x WHERE x.componente_id = m.id)
	OR EXISTS (SELECT 1 FROM rifiuto_offerta x WHERE x.componente_id = m.id)`

// applyComponente upserts the newer members by canonical codice fiscale:
// a member who moves to another household is moved, with what names them.
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
	tag, err := tx.Exec(ctx, `
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
		WHERE `+feed.Newer("componente"))
	if err != nil {
		return 0, nil, err
	}
	gone, err := feed.Withdraw(ctx, tx, "componente", stage, "componente", "t.cf_canonico = s.chiave")
	if err != nil {
		return 0, nil, err
	}
	return tag.RowsAffected() + gone, append(orphans, inUse...), nil
}
