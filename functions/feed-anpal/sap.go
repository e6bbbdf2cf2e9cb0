package function

import (
	"context"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

var (
	// codeName is a code list's name or code: STATO_IN_CAPITALI, 02.
	codeName = regexp.MustCompile(`^[A-Z0-9_]{1,40}$`)
	// cpiCode is an office's code (CPI, ente promotore).
	cpiCode = regexp.MustCompile(`^[A-Za-z0-9._\-]{1,40}$`)
	// activity is a code of the ministerial table of policies (A02 …).
	activity = regexp.MustCompile(`^[A-Z0-9]{2,8}$`)
	// sourceID is an id the source gives (a presa in carico).
	sourceID = regexp.MustCompile(`^[A-Za-z0-9._:/\-]{1,100}$`)
)

// sapRecord is a SAP section 6 policy as ANPAL sends it; its key is
// ANPAL's id of the policy (id_politica).
type sapRecord struct {
	CodiceFiscale    string   `json:"codice_fiscale"`
	CodiceAttivita   string   `json:"codice_attivita"`
	Titolo           string   `json:"titolo"`
	DataProposta     string   `json:"data_proposta"`
	DataInizio       *string  `json:"data_inizio"`
	DataFine         *string  `json:"data_fine"`
	Durata           *int32   `json:"durata"`
	UnitaDurata      *string  `json:"unita_durata"` // G, S, M
	EntePromotore    string   `json:"ente_promotore"`
	IDPresaInCarico  string   `json:"id_presa_in_carico"`
	IndiceProfiling  *float64 `json:"indice_profiling"`
	UltimoEvento     string   `json:"ultimo_evento"` // sap_evento's code
	DataUltimoEvento string   `json:"data_ultimo_evento"`
}

var sapKind = &feed.Kind{
	Name: "sap_politica",
	Columns: []feed.Column{
		{Name: "cf", Type: "text"}, {Name: "codice_attivita", Type: "text"}, {Name: "titolo", Type: "text"},
		{Name: "data_proposta", Type: "date"}, {Name: "data_inizio", Type: "date"}, {Name: "data_fine", Type: "date"},
		{Name: "durata", Type: "integer"}, {Name: "unita_durata", Type: "char(1)"}, {Name: "ente_promotore", Type: "text"},
		{Name: "id_presa_in_carico", Type: "text"}, {Name: "indice_profiling", Type: "numeric(4,3)"},
		{Name: "ultimo_evento", Type: "text"}, {Name: "data_ultimo_evento", Type: "date"},
	},
	Decode: decodeSAP,
	Apply:  applySAP,
}

func decodeSAP(_ string, dati []byte) ([]any, error) {
	var d sapRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	person, err := feed.Person("codice_fiscale", d.CodiceFiscale)
	if err != nil {
		return nil, err
	}
	if err := feed.Pattern("codice_attivita", d.CodiceAttivita, activity); err != nil {
		return nil, err
	}
	if err := feed.Required("titolo", d.Titolo); err != nil {
		return nil, err
	}
	if len(d.Titolo) > 500 {
		return nil, feed.Refuse("titolo", "invalid")
	}
	proposed, err := feed.Date("data_proposta", d.DataProposta)
	if err != nil {
		return nil, err
	}
	start, err := feed.OptionalDate("data_inizio", d.DataInizio)
	if err != nil {
		return nil, err
	}
	end, err := feed.OptionalDate("data_fine", d.DataFine)
	if err != nil {
		return nil, err
	}
	if start != nil && end != nil && end.Before(*start) {
		return nil, feed.Refuse("data_fine", "invalid")
	}
	if (d.Durata == nil) != (d.UnitaDurata == nil) {
		return nil, feed.Refuse("unita_durata", "invalid") // a duration and its unit go together
	}
	if d.Durata != nil {
		if *d.Durata <= 0 {
			return nil, feed.Refuse("durata", "invalid")
		}
		if err := feed.OneOf("unita_durata", *d.UnitaDurata, "G", "S", "M"); err != nil {
			return nil, err
		}
	}
	if err := feed.Pattern("ente_promotore", d.EntePromotore, cpiCode); err != nil {
		return nil, err
	}
	if err := feed.Pattern("id_presa_in_carico", d.IDPresaInCarico, sourceID); err != nil {
		return nil, err
	}
	if p := d.IndiceProfiling; p != nil && (*p < 0 || *p > 1) {
		return nil, feed.Refuse("indice_profiling", "invalid")
	}
	if err := feed.Pattern("ultimo_evento", d.UltimoEvento, codeName); err != nil {
		return nil, err
	}
	last, err := feed.Date("data_ultimo_evento", d.DataUltimoEvento)
	if err != nil {
		return nil, err
	}
	return []any{person, d.CodiceAttivita, d.Titolo, proposed, start, end, d.Durata, d.UnitaDurata,
		d.EntePromotore, d.IDPresaInCarico, d.IndiceProfiling, d.UltimoEvento, last}, nil
}

// applySAP upserts the newer policies; the event is checked against
// sap_evento, where what each event means is kept. Each record's person
// and event are looked up once.
func applySAP(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	n, refused, err := feed.Merge(ctx, tx, `
		WITH s AS MATERIALIZED (
			SELECT s.*, c.id AS componente_id, e.codice AS evento
			FROM `+stage+` s LEFT JOIN componente c ON c.cf_canonico = s.cf LEFT JOIN sap_evento e ON e.codice = s.ultimo_evento
			WHERE NOT s.ritirato),
		up AS (
			INSERT INTO sap_politica (fonte_chiave, id_politica, componente_id, codice_attivita, titolo, data_proposta, data_inizio,
				data_fine, durata, unita_durata, ente_promotore, id_presa_in_carico, indice_profiling, ultimo_evento,
				data_ultimo_evento, fonte_il, fonte_seq)
			SELECT s.chiave, s.chiave, s.componente_id, s.codice_attivita, s.titolo, s.data_proposta, s.data_inizio, s.data_fine,
				s.durata, s.unita_durata, s.ente_promotore, s.id_presa_in_carico, s.indice_profiling, s.evento,
				s.data_ultimo_evento, s.il, s.seq
			FROM s WHERE s.componente_id IS NOT NULL AND s.evento IS NOT NULL
			ORDER BY s.chiave
			ON CONFLICT (fonte_chiave) DO UPDATE SET componente_id = EXCLUDED.componente_id,
				codice_attivita = EXCLUDED.codice_attivita, titolo = EXCLUDED.titolo, data_proposta = EXCLUDED.data_proposta,
				data_inizio = EXCLUDED.data_inizio, data_fine = EXCLUDED.data_fine, durata = EXCLUDED.durata,
				unita_durata = EXCLUDED.unita_durata, ente_promotore = EXCLUDED.ente_promotore,
				id_presa_in_carico = EXCLUDED.id_presa_in_carico, indice_profiling = EXCLUDED.indice_profiling,
				ultimo_evento = EXCLUDED.ultimo_evento, data_ultimo_evento = EXCLUDED.data_ultimo_evento,
				fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq
			WHERE `+feed.Newer("sap_politica")+`
			RETURNING 1)
		SELECT s.riga, CASE WHEN s.evento IS NULL THEN 'dati.ultimo_evento' ELSE 'dati.codice_fiscale' END,
			CASE WHEN s.evento IS NULL THEN 'invalid' ELSE '`+feed.CodeUnknownPerson+`' END, NULL::bigint
		FROM s WHERE s.evento IS NULL OR s.componente_id IS NULL
		UNION ALL
		SELECT NULL, NULL, NULL, (SELECT count(*) FROM up)`)
	if err != nil {
		return 0, nil, err
	}
	gone, err := feed.Withdraw(ctx, tx, "sap_politica", stage, "sap_politica", "t.fonte_chiave = s.chiave")
	if err != nil {
		return 0, nil, err
	}
	return n + gone, refused, nil
}
