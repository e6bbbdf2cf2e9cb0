package function

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

// interesseRecord is a citizen's interest in an offer as SIISL sends it;
// its key is SIISL's id of the interest expression.
type interesseRecord struct {
	CodiceFiscale string `json:"codice_fiscale"`
	Offerta       string `json:"offerta"` // the offer's id, as apl-offers gives it
	CreataIl      string `json:"creata_il"`
}

var interesseKind = &feed.Kind{
	Name: "interesse",
	Key:  sourceKey,
	Columns: []feed.Column{
		{Name: "cf", Type: "text"}, {Name: "offerta", Type: "uuid"}, {Name: "creata_il", Type: "timestamptz"},
	},
	Decode: decodeInteresse,
	Apply:  applyInteresse,
}

func decodeInteresse(_ string, dati []byte) ([]any, error) {
	var d interesseRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	person, err := feed.Person("codice_fiscale", d.CodiceFiscale)
	if err != nil {
		return nil, err
	}
	if err := feed.Required("offerta", d.Offerta); err != nil {
		return nil, err
	}
	// The 36-character form only: uuid.Parse takes braces and urn: too,
	// which no source sends.
	offer, err := uuid.Parse(d.Offerta)
	if err != nil || len(d.Offerta) != 36 {
		return nil, feed.Refuse("offerta", "invalid")
	}
	created, err := instant("creata_il", d.CreataIl)
	if err != nil {
		return nil, err
	}
	return []any{person, offer, created}, nil
}

// applyInteresse upserts the newer interest expressions by SIISL's id.
//
// The table holds one interest per offer and person (UNIQUE (offerta_id,
// componente_id)), whatever its id: the generator's rows have none, and
// SIISL may give a new id to an interest expressed again. A record for a
// pair stored under another id, or none, adopts that row (takes it over
// under its own id, keeping the row's id, which the agencies page by)
// when it is newer than the row, and is stale otherwise; of two records
// of one pair in a chunk the newer one counts and the other is stale. So
// no record reaches the upsert to break the constraint and take its chunk
// down with it. The id the row had is then no one's: a later record of it
// is applied afresh (and adopts the row again when newer), a withdrawal of
// it finds nothing to delete.
func applyInteresse(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	nobody, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND NOT EXISTS (SELECT 1 FROM componente c WHERE c.cf_canonico = s.cf)`,
		"dati.codice_fiscale", feed.CodeUnknownPerson)
	if err != nil {
		return 0, nil, err
	}
	// A draft offer was never shown to citizens: an interest in it is as
	// unknown as one in no offer. (One closed since is kept: its interest
	// may arrive after it closed.)
	noOffer, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND NOT EXISTS (SELECT 1 FROM offerta o WHERE o.id = s.offerta AND o.stato <> 'BOZZA')`,
		"dati.offerta", feed.CodeUnknownReference)
	if err != nil {
		return 0, nil, err
	}
	// Each step leaves fewer records staged; those it drops are stale
	// (neither applied nor refused). After them every live record is newer
	// than the row of its id and the row of its pair, and alone with its pair.
	for _, step := range []struct{ what, sql string }{
		{"drop interests older than their row", `
			DELETE FROM ` + stage + ` s
			WHERE NOT s.ritirato AND EXISTS (SELECT 1 FROM manifestazione_interesse t
				WHERE t.fonte_chiave = s.chiave AND t.fonte_il IS NOT NULL AND (t.fonte_il, t.fonte_seq) >= (s.il, s.seq))`},
		{"drop interests older than their pair's row", `
			DELETE FROM ` + stage + ` s
			WHERE NOT s.ritirato AND EXISTS (SELECT 1 FROM manifestazione_interesse t JOIN componente c ON c.id = t.componente_id
				WHERE t.offerta_id = s.offerta AND c.cf_canonico = s.cf
				  AND t.fonte_il IS NOT NULL AND (t.fonte_il, t.fonte_seq) >= (s.il, s.seq))`},
		{"drop interests of a pair a newer one names", `
			DELETE FROM ` + stage + ` s USING ` + stage + ` o
			WHERE NOT s.ritirato AND NOT o.ritirato AND o.offerta = s.offerta AND o.cf = s.cf
			  AND (o.il, o.seq, o.riga) > (s.il, s.seq, s.riga)`},
		// A record that adopts its pair's row leaves its id's own row
		// (another pair: its older version) to go, so that the id is free.
		{"free the ids of adopting interests", `
			DELETE FROM manifestazione_interesse t USING ` + stage + ` s
			WHERE NOT s.ritirato AND t.fonte_chiave = s.chiave
			  AND EXISTS (SELECT 1 FROM manifestazione_interesse p JOIN componente c ON c.id = p.componente_id
				WHERE p.offerta_id = s.offerta AND c.cf_canonico = s.cf AND p.fonte_chiave IS DISTINCT FROM s.chiave)`},
		// The row keeps its version, older than the record's, so that the
		// upsert below updates it as any newer record does.
		{"adopt the rows of pairs", `
			UPDATE manifestazione_interesse t SET fonte_chiave = s.chiave
			FROM ` + stage + ` s JOIN componente c ON c.cf_canonico = s.cf
			WHERE NOT s.ritirato AND t.offerta_id = s.offerta AND t.componente_id = c.id
			  AND t.fonte_chiave IS DISTINCT FROM s.chiave`},
	} {
		if _, err := tx.Exec(ctx, step.sql); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", step.what, err)
		}
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO manifestazione_interesse (fonte_chiave, offerta_id, componente_id, creata_il, fonte_il, fonte_seq)
		SELECT s.chiave, s.offerta, c.id, s.creata_il, s.il, s.seq
		FROM `+stage+` s JOIN componente c ON c.cf_canonico = s.cf
		WHERE NOT s.ritirato
		ORDER BY s.chiave
		ON CONFLICT (fonte_chiave) DO UPDATE SET offerta_id = EXCLUDED.offerta_id, componente_id = EXCLUDED.componente_id,
			creata_il = EXCLUDED.creata_il, fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq
		WHERE `+feed.Newer("manifestazione_interesse"))
	if err != nil {
		return 0, nil, fmt.Errorf("upsert interests: %w", err)
	}
	gone, err := feed.Withdraw(ctx, tx, "interesse", stage, "manifestazione_interesse", "t.fonte_chiave = s.chiave")
	if err != nil {
		return 0, nil, err
	}
	return tag.RowsAffected() + gone, append(nobody, noOffer...), nil
}
