package function

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

// didRecord is a DID as ANPAL sends it; its key is ANPAL's id of the DID.
type didRecord struct {
	CodiceFiscale string `json:"codice_fiscale"`
	Stato         string `json:"stato"` // as stato_did names it: INSERITA, CONVALIDATA, …
	DataDid       string `json:"data_did"`
	DataStato     string `json:"data_stato"`
	Cpi           string `json:"cpi"`
}

var didKind = &feed.Kind{
	Name: "did",
	Columns: []feed.Column{
		{Name: "cf", Type: "text"}, {Name: "stato", Type: "text"},
		{Name: "data_did", Type: "date"}, {Name: "data_stato", Type: "date"}, {Name: "cpi", Type: "text"},
	},
	Decode: decodeDID,
	Apply:  applyDID,
}

func decodeDID(_ string, dati []byte) ([]any, error) {
	var d didRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	person, err := feed.Person("codice_fiscale", d.CodiceFiscale)
	if err != nil {
		return nil, err
	}
	if err := feed.Pattern("stato", d.Stato, codeName); err != nil {
		return nil, err
	}
	declared, err := feed.Date("data_did", d.DataDid)
	if err != nil {
		return nil, err
	}
	reached, err := feed.Date("data_stato", d.DataStato)
	if err != nil {
		return nil, err
	}
	if reached.Before(declared) {
		return nil, feed.Refuse("data_stato", "invalid") // a state cannot precede its DID
	}
	if err := feed.Pattern("cpi", d.Cpi, cpiCode); err != nil {
		return nil, err
	}
	return []any{person, d.Stato, declared, reached, d.Cpi}, nil
}

// applyDID upserts the newer DIDs of people the record holds and applies
// withdrawals. The state is checked against stato_did, its one list; each
// record's person and state are looked up once, for the checks and the
// upsert alike.
func applyDID(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	n, refused, err := feed.Merge(ctx, tx, `
		WITH s AS MATERIALIZED (
			SELECT s.*, c.id AS componente_id, x.codice
			FROM `+stage+` s LEFT JOIN componente c ON c.cf_canonico = s.cf LEFT JOIN stato_did x ON x.nome = s.stato
			WHERE NOT s.ritirato),
		up AS (
			INSERT INTO did (fonte_chiave, componente_id, stato, data_did, data_stato, cpi, fonte_il, fonte_seq, aggiornato_il)
			SELECT s.chiave, s.componente_id, s.codice, s.data_did, s.data_stato, s.cpi, s.il, s.seq, now()
			FROM s WHERE s.componente_id IS NOT NULL AND s.codice IS NOT NULL
			ORDER BY s.chiave
			ON CONFLICT (fonte_chiave) DO UPDATE SET componente_id = EXCLUDED.componente_id, stato = EXCLUDED.stato,
				data_did = EXCLUDED.data_did, data_stato = EXCLUDED.data_stato, cpi = EXCLUDED.cpi,
				fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq, aggiornato_il = now()
			WHERE `+feed.Newer("did")+`
			RETURNING 1)
		SELECT s.riga, CASE WHEN s.codice IS NULL THEN 'dati.stato' ELSE 'dati.codice_fiscale' END,
			CASE WHEN s.codice IS NULL THEN 'invalid' ELSE '`+feed.CodeUnknownPerson+`' END, NULL::bigint
		FROM s WHERE s.codice IS NULL OR s.componente_id IS NULL
		UNION ALL
		SELECT NULL, NULL, NULL, (SELECT count(*) FROM up)`)
	if err != nil {
		return 0, nil, err
	}
	gone, err := feed.Withdraw(ctx, tx, "did", stage, "did", "t.fonte_chiave = s.chiave")
	if err != nil {
		return 0, nil, err
	}
	return n + gone, refused, nil
}
