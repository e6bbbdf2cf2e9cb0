package function

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

// nucleoRecord is a household as INPS sends it; its key is the protocol
// of its application.
type nucleoRecord struct {
	StatoDomanda          string      `json:"stato_domanda"`
	DataPresentazione     string      `json:"data_presentazione"`
	DataDecorrenza        *string     `json:"data_decorrenza"`
	DataCessazione        *string     `json:"data_cessazione"` // the benefit's last day, once it has ended
	Isee                  json.Number `json:"isee"`
	RedditoFamiliare      json.Number `json:"reddito_familiare"`
	PatrimonioMobiliare   json.Number `json:"patrimonio_mobiliare"`
	PatrimonioImmobiliare json.Number `json:"patrimonio_immobiliare"`
	DataDsu               string      `json:"data_dsu"`
	ImportoBeneficio      json.Number `json:"importo_beneficio"`
	ComuneResidenza       string      `json:"comune_residenza"` // ISTAT code
	Indirizzo             string      `json:"indirizzo"`
	Cap                   string      `json:"cap"`
}

var nucleoKind = &feed.Kind{
	Name: "nucleo",
	Key:  protocolKey,
	Columns: []feed.Column{
		{Name: "stato_domanda", Type: "text"}, {Name: "data_presentazione", Type: "date"}, {Name: "data_decorrenza", Type: "date"},
		{Name: "data_cessazione", Type: "date"}, {Name: "isee", Type: "numeric(12,2)"}, {Name: "reddito_familiare", Type: "numeric(12,2)"},
		{Name: "patrimonio_mobiliare", Type: "numeric(12,2)"}, {Name: "patrimonio_immobiliare", Type: "numeric(12,2)"},
		{Name: "data_dsu", Type: "date"}, {Name: "importo_beneficio", Type: "numeric(10,2)"},
		{Name: "comune_residenza", Type: "text"}, {Name: "indirizzo", Type: "text"}, {Name: "cap", Type: "text"},
	},
	Decode: decodeNucleo,
	Apply:  applyNucleo,
}

var (
	// amount is a sum in euros with at most two decimals, not negative.
	amount  = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{1,2})?$`)
	istat   = regexp.MustCompile(`^[0-9]{6}$`)
	capCode = regexp.MustCompile(`^[0-9]{5}$`)
)

// money checks an amount below limit euros.
func money(field string, n json.Number, limit float64) (float64, error) {
	if n == "" {
		return 0, feed.Refuse(field, "required")
	}
	if !amount.MatchString(string(n)) {
		return 0, feed.Refuse(field, "invalid")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f >= limit {
		return 0, feed.Refuse(field, "invalid")
	}
	return f, nil
}

var states = []string{"ACCOLTA", "IN_ISTRUTTORIA", "SOSPESA", "REVOCATA", "DECADUTA", "TERMINATA"}

func decodeNucleo(_ string, dati []byte) ([]any, error) {
	var d nucleoRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	if err := feed.OneOf("stato_domanda", d.StatoDomanda, states...); err != nil {
		return nil, err
	}
	filed, err := feed.Date("data_presentazione", d.DataPresentazione)
	if err != nil {
		return nil, err
	}
	from, err := feed.OptionalDate("data_decorrenza", d.DataDecorrenza)
	if err != nil {
		return nil, err
	}
	until, err := feed.OptionalDate("data_cessazione", d.DataCessazione)
	if err != nil {
		return nil, err
	}
	// A benefit ends after it starts: one without a start has no end.
	if until != nil && (from == nil || until.Before(*from)) {
		return nil, feed.Refuse("data_cessazione", "invalid")
	}
	v := []any{d.StatoDomanda, filed, from, until}
	for _, m := range []struct {
		field string
		n     json.Number
		limit float64
	}{
		{"isee", d.Isee, 1e10}, {"reddito_familiare", d.RedditoFamiliare, 1e10},
		{"patrimonio_mobiliare", d.PatrimonioMobiliare, 1e10}, {"patrimonio_immobiliare", d.PatrimonioImmobiliare, 1e10},
	} {
		f, err := money(m.field, m.n, m.limit)
		if err != nil {
			return nil, err
		}
		v = append(v, f)
	}
	dsu, err := feed.Date("data_dsu", d.DataDsu)
	if err != nil {
		return nil, err
	}
	benefit, err := money("importo_beneficio", d.ImportoBeneficio, 1e8)
	if err != nil {
		return nil, err
	}
	if err := feed.Pattern("comune_residenza", d.ComuneResidenza, istat); err != nil {
		return nil, err
	}
	if err := feed.Required("indirizzo", d.Indirizzo); err != nil {
		return nil, err
	}
	if len(d.Indirizzo) > 200 {
		return nil, feed.Refuse("indirizzo", "invalid")
	}
	if err := feed.Pattern("cap", d.Cap, capCode); err != nil {
		return nil, err
	}
	return append(v, dsu, benefit, d.ComuneResidenza, d.Indirizzo, d.Cap), nil
}

// applyNucleo upserts the newer households by protocol. Which service
// follows a household is the transfers' to say, never the feed's. A
// household is withdrawn only when nothing names it any more: no member,
// pact or transfer (a transfer in flight keeps its household).
func applyNucleo(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	unknown, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND NOT EXISTS (SELECT 1 FROM comune c WHERE c.codice_istat = s.comune_residenza)`,
		"dati.comune_residenza", feed.CodeUnknownReference)
	if err != nil {
		return 0, nil, err
	}
	inUse, err := feed.RefuseWhere(ctx, tx, stage, `s.ritirato AND EXISTS (
		SELECT 1 FROM nucleo n WHERE n.protocollo_domanda = s.chiave
		AND `+feed.Older("n")+`
		AND (EXISTS (SELECT 1 FROM componente c WHERE c.nucleo_id = n.id)
		  OR EXISTS (SELECT 1 FROM patto_inclusione p WHERE p.nucleo_id = n.id)
		  OR EXISTS (SELECT 1 FROM trasferimento x WHERE x.nucleo_id = n.id)))`, "ritirato", feed.CodeInUse)
	if err != nil {
		return 0, nil, err
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO nucleo (protocollo_domanda, stato_domanda, data_presentazione, data_decorrenza, data_cessazione, isee, reddito_familiare,
			patrimonio_mobiliare, patrimonio_immobiliare, data_dsu, importo_beneficio, comune_residenza, indirizzo, cap,
			fonte_il, fonte_seq, aggiornato_il)
		SELECT s.chiave, s.stato_domanda, s.data_presentazione, s.data_decorrenza, s.data_cessazione, s.isee, s.reddito_familiare,
			s.patrimonio_mobiliare, s.patrimonio_immobiliare, s.data_dsu, s.importo_beneficio, s.comune_residenza,
			s.indirizzo, s.cap, s.il, s.seq, now()
		FROM `+stage+` s WHERE NOT s.ritirato
		ORDER BY s.chiave
		ON CONFLICT (protocollo_domanda) DO UPDATE SET stato_domanda = EXCLUDED.stato_domanda,
			data_presentazione = EXCLUDED.data_presentazione, data_decorrenza = EXCLUDED.data_decorrenza,
			data_cessazione = EXCLUDED.data_cessazione, isee = EXCLUDED.isee, reddito_familiare = EXCLUDED.reddito_familiare,
			patrimonio_mobiliare = EXCLUDED.patrimonio_mobiliare, patrimonio_immobiliare = EXCLUDED.patrimonio_immobiliare,
			data_dsu = EXCLUDED.data_dsu, importo_beneficio = EXCLUDED.importo_beneficio,
			comune_residenza = EXCLUDED.comune_residenza, indirizzo = EXCLUDED.indirizzo, cap = EXCLUDED.cap,
			fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq, aggiornato_il = now()
		WHERE `+feed.Newer("nucleo"))
	if err != nil {
		return 0, nil, err
	}
	gone, err := feed.Withdraw(ctx, tx, "nucleo", stage, "nucleo", "t.protocollo_domanda = s.chiave")
	if err != nil {
		return 0, nil, err
	}
	return tag.RowsAffected() + gone, append(unknown, inUse...), nil
}
