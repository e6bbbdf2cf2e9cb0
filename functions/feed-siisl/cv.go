package function

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

// cvRecord is a citizen's CV (profile) as SIISL sends it; its key is the
// citizen's codice fiscale (one CV per person: a new one replaces it).
type cvRecord struct {
	CodiceFiscale string `json:"codice_fiscale"`
	Testo         string `json:"testo" text:"multiline"`
}

var cvKind = &feed.Kind{
	Name:    "cv",
	Key:     personKey,
	Columns: []feed.Column{{Name: "testo", Type: "text"}},
	Decode:  decodeCV,
	Apply:   applyCV,
}

// maxCV bounds a CV's text: a few pages are tens of kilobytes, and the
// line holding it must stay under feed.MaxLine.
const maxCV = 100_000

func decodeCV(key string, dati []byte) ([]any, error) {
	var d cvRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	if err := samePerson(key, d.CodiceFiscale); err != nil {
		return nil, err
	}
	// Blank is empty: agencies search the text, and a CV of spaces
	// finds nothing. A withdrawal is how a CV goes away.
	if strings.TrimSpace(d.Testo) == "" {
		return nil, feed.Refuse("testo", "required")
	}
	if len(d.Testo) > maxCV {
		return nil, feed.Refuse("testo", "invalid")
	}
	return []any{d.Testo}, nil
}

// applyCV upserts the newer CVs, which the agencies search in full text
// (profilo.tsv follows the text).
func applyCV(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	unknown, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND NOT EXISTS (SELECT 1 FROM componente c WHERE c.cf_canonico = s.chiave)`,
		"dati.codice_fiscale", feed.CodeUnknownPerson)
	if err != nil {
		return 0, nil, err
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO profilo (componente_id, testo, aggiornato_il, fonte_il, fonte_seq)
		SELECT c.id, s.testo, now(), s.il, s.seq
		FROM `+stage+` s JOIN componente c ON c.cf_canonico = s.chiave
		WHERE NOT s.ritirato
		ORDER BY c.id
		ON CONFLICT (componente_id) DO UPDATE SET testo = EXCLUDED.testo, aggiornato_il = now(),
			fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq
		WHERE `+feed.Newer("profilo"))
	if err != nil {
		return 0, nil, fmt.Errorf("upsert CVs: %w", err)
	}
	gone, err := feed.Withdraw(ctx, tx, "cv", stage, "profilo", "t.componente_id = "+personOf)
	if err != nil {
		return 0, nil, err
	}
	return tag.RowsAffected() + gone, unknown, nil
}
