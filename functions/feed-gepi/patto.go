package function

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

// pattoRecord is a Patto per l'inclusione as GePI sends it; its key is
// GePI's id of the pact.
type pattoRecord struct {
	ProtocolloDomanda  string   `json:"protocollo_domanda"` // the household's, as INPS gave it
	Stato              string   `json:"stato"`
	DataSottoscrizione *string  `json:"data_sottoscrizione"`
	DataFine           *string  `json:"data_fine"`
	Ambito             string   `json:"ambito"`     // the Ambito territoriale running it
	Componenti         []string `json:"componenti"` // the members it covers, by codice fiscale
}

var pattoKind = &feed.Kind{
	Name: "patto_inclusione",
	Key:  sourceKey,
	Columns: []feed.Column{
		{Name: "protocollo", Type: "text"}, {Name: "stato", Type: "text"},
		{Name: "data_sottoscrizione", Type: "date"}, {Name: "data_fine", Type: "date"},
		{Name: "ambito", Type: "text"}, {Name: "componenti", Type: "text[]"}, // canonical codes
	},
	Decode: decodePatto,
	Apply:  applyPatto,
}

// The bounds of a pact: a household has a few members, an Ambito's name
// is a line.
const (
	maxMembers = 20
	maxAmbito  = 100
)

// pattoStates are patto_inclusione's CHECK; all but the first need a
// signing date (its other CHECK), so that no record reaches the table to
// fail there and take its chunk down with it.
var pattoStates = []string{"IN_DEFINIZIONE", "SOTTOSCRITTO", "CONCLUSO", "INTERROTTO"}

func decodePatto(_ string, dati []byte) ([]any, error) {
	var d pattoRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	if err := feed.Pattern("protocollo_domanda", d.ProtocolloDomanda, protocol); err != nil {
		return nil, err
	}
	if err := feed.OneOf("stato", d.Stato, pattoStates...); err != nil {
		return nil, err
	}
	signed, err := feed.OptionalDate("data_sottoscrizione", d.DataSottoscrizione)
	if err != nil {
		return nil, err
	}
	if signed == nil && d.Stato != "IN_DEFINIZIONE" {
		return nil, feed.Refuse("data_sottoscrizione", "required") // only a pact being defined is unsigned
	}
	end, err := feed.OptionalDate("data_fine", d.DataFine)
	if err != nil {
		return nil, err
	}
	if end != nil && signed != nil && end.Before(*signed) {
		return nil, feed.Refuse("data_fine", "invalid") // a pact cannot end before it is signed
	}
	if err := feed.Required("ambito", d.Ambito); err != nil {
		return nil, err
	}
	if len(d.Ambito) > maxAmbito {
		return nil, feed.Refuse("ambito", "invalid")
	}
	members, err := membersOf(d.Componenti)
	if err != nil {
		return nil, err
	}
	return []any{d.ProtocolloDomanda, d.Stato, signed, end, d.Ambito, members}, nil
}

// membersOf checks a pact's members and returns their canonical codes. Two
// spellings of one person (omocodic variants) are one member named twice,
// refused: the member table holds a person once per pact.
func membersOf(codes []string) ([]string, error) {
	if len(codes) == 0 {
		return nil, feed.Refuse("componenti", "required") // a pact covers someone
	}
	if len(codes) > maxMembers {
		return nil, feed.Refuse("componenti", "invalid")
	}
	out := make([]string, 0, len(codes))
	for i, c := range codes {
		field := fmt.Sprintf("componenti[%d]", i)
		person, err := feed.Person(field, c)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, person) {
			return nil, feed.Refuse(field, "invalid")
		}
		out = append(out, person)
	}
	return out, nil
}

// applyPatto upserts the newer pacts and, for those alone, replaces the
// members they cover: a stale record leaves both as they are. A pact is
// its household's, so it covers members of that household only; a member
// INPS has not sent yet is refused, to be sent again after them.
func applyPatto(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	orphans, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND NOT EXISTS (SELECT 1 FROM nucleo n WHERE n.protocollo_domanda = s.protocollo)`,
		"dati.protocollo_domanda", feed.CodeUnknownHousehold)
	if err != nil {
		return 0, nil, err
	}
	nobody, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND EXISTS (
		SELECT 1 FROM unnest(s.componenti) AS m (cf)
		WHERE NOT EXISTS (SELECT 1 FROM componente c WHERE c.cf_canonico = m.cf))`,
		"dati.componenti", feed.CodeUnknownPerson)
	if err != nil {
		return 0, nil, err
	}
	outsiders, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND EXISTS (
		SELECT 1 FROM unnest(s.componenti) AS m (cf)
		JOIN componente c ON c.cf_canonico = m.cf
		JOIN nucleo n ON n.protocollo_domanda = s.protocollo
		WHERE c.nucleo_id <> n.id)`,
		"dati.componenti", feed.CodeNotMember)
	if err != nil {
		return 0, nil, err
	}
	// One statement: the pacts the upsert returns (inserted, or updated
	// because newer) are the only ones whose members change. Members who
	// stay are left alone and only the others deleted, so that the delete
	// and the insert never touch one row (their order within a statement
	// is not defined).
	var applied int64
	err = tx.QueryRow(ctx, `
		WITH up AS (
			INSERT INTO patto_inclusione (fonte_chiave, nucleo_id, stato, data_sottoscrizione, data_fine, ambito, fonte_il, fonte_seq)
			SELECT s.chiave, n.id, s.stato, s.data_sottoscrizione, s.data_fine, s.ambito, s.il, s.seq
			FROM `+stage+` s JOIN nucleo n ON n.protocollo_domanda = s.protocollo
			WHERE NOT s.ritirato
			ORDER BY s.chiave
			ON CONFLICT (fonte_chiave) DO UPDATE SET nucleo_id = EXCLUDED.nucleo_id, stato = EXCLUDED.stato,
				data_sottoscrizione = EXCLUDED.data_sottoscrizione, data_fine = EXCLUDED.data_fine,
				ambito = EXCLUDED.ambito, fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq
			WHERE `+feed.Newer("patto_inclusione")+`
			RETURNING id, fonte_chiave
		), covered AS (
			SELECT up.id AS patto_id, c.id AS componente_id
			FROM up
			JOIN `+stage+` s ON s.chiave = up.fonte_chiave
			CROSS JOIN LATERAL unnest(s.componenti) AS m (cf)
			JOIN componente c ON c.cf_canonico = m.cf
		), dropped AS (
			DELETE FROM patto_inclusione_componente x USING up
			WHERE x.patto_id = up.id
			  AND NOT EXISTS (SELECT 1 FROM covered w WHERE w.patto_id = x.patto_id AND w.componente_id = x.componente_id)
		), added AS (
			INSERT INTO patto_inclusione_componente (patto_id, componente_id)
			SELECT w.patto_id, w.componente_id FROM covered w
			ORDER BY w.patto_id, w.componente_id
			ON CONFLICT (patto_id, componente_id) DO NOTHING
		)
		SELECT count(*) FROM up`).Scan(&applied)
	if err != nil {
		return 0, nil, fmt.Errorf("upsert pacts: %w", err)
	}
	// A withdrawn pact takes its members with it, where the withdrawal is
	// newer than the pact (the version check of feed.Withdraw, which then
	// deletes the pact itself).
	if _, err := tx.Exec(ctx, `
		DELETE FROM patto_inclusione_componente x USING `+stage+` s, patto_inclusione t
		WHERE s.ritirato AND t.fonte_chiave = s.chiave AND x.patto_id = t.id
		  AND `+feed.Older("t")); err != nil {
		return 0, nil, fmt.Errorf("withdraw the members of pacts: %w", err)
	}
	gone, err := feed.Withdraw(ctx, tx, "patto_inclusione", stage, "patto_inclusione", "t.fonte_chiave = s.chiave")
	if err != nil {
		return 0, nil, err
	}
	refused := append(append(orphans, nobody...), outsiders...)
	return applied + gone, refused, nil
}
