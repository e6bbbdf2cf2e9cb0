package function

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/feed"
)

// padRecord is a Patto di attivazione digitale as SIISL sends it; its key
// is the citizen's codice fiscale (one PAD per person: a new one replaces it).
type padRecord struct {
	CodiceFiscale  string   `json:"codice_fiscale"`
	SottoscrittoIl string   `json:"sottoscritto_il"`
	Scelte         []scelta `json:"scelte"`
}

// scelta is an agency chosen in the PAD and the branch picked for it.
type scelta struct {
	Apl     string `json:"apl"`
	Filiale string `json:"filiale"`
}

var padKind = &feed.Kind{
	Name: "pad",
	Key:  personKey,
	Columns: []feed.Column{
		{Name: "sottoscritto_il", Type: "timestamptz"},
		// The choices, as two arrays of one length: scelta i is (apl[i], filiale[i]).
		{Name: "apl", Type: "text[]"}, {Name: "filiale", Type: "text[]"},
	},
	Decode: decodePAD,
	Apply:  applyPAD,
}

// maxChoices bounds a PAD's agencies: the citizen picks at least three,
// SIISL lets no one pick dozens.
const maxChoices = 10

func decodePAD(key string, dati []byte) ([]any, error) {
	var d padRecord
	if err := feed.RefuseDecode(dati, &d); err != nil {
		return nil, err
	}
	if err := samePerson(key, d.CodiceFiscale); err != nil {
		return nil, err
	}
	signed, err := instant("sottoscritto_il", d.SottoscrittoIl)
	if err != nil {
		return nil, err
	}
	// Present, even if empty: a PAD whose choices were left out is not
	// a PAD that chose none.
	if d.Scelte == nil {
		return nil, feed.Refuse("scelte", "required")
	}
	if len(d.Scelte) > maxChoices {
		return nil, feed.Refuse("scelte", "invalid")
	}
	apl := make([]string, 0, len(d.Scelte))
	branches := make([]string, 0, len(d.Scelte))
	for i, s := range d.Scelte {
		field := fmt.Sprintf("scelte[%d]", i)
		if err := feed.Pattern(field+".apl", s.Apl, code); err != nil {
			return nil, err
		}
		if err := feed.Pattern(field+".filiale", s.Filiale, code); err != nil {
			return nil, err
		}
		if slices.Contains(apl, s.Apl) {
			return nil, feed.Refuse(field+".apl", "invalid") // an agency is chosen once (scelta_apl's key)
		}
		apl = append(apl, s.Apl)
		branches = append(branches, s.Filiale)
	}
	return []any{signed, apl, branches}, nil
}

// CodeNotSelectable refuses a PAD that picks a branch its agency does not
// offer in the PAD (docs/feeds.md): the branch exists and is enabled, but
// citizens may not choose it.
const CodeNotSelectable = "not_selectable"

// applyPAD upserts the newer PADs and, for those alone, replaces the
// person's chosen agencies: the agencies that may search and contact them
// (apl-citizens) are the latest PAD's. A branch must be its agency's,
// enabled and offered in the PAD, as SIISL offers no other to pick.
func applyPAD(ctx context.Context, tx pgx.Tx, stage string) (int64, []feed.Reject, error) {
	unknown, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND NOT EXISTS (SELECT 1 FROM componente c WHERE c.cf_canonico = s.chiave)`,
		"dati.codice_fiscale", feed.CodeUnknownPerson)
	if err != nil {
		return 0, nil, err
	}
	badChoice, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND EXISTS (
		SELECT 1 FROM unnest(s.apl, s.filiale) AS x (apl, filiale)
		WHERE NOT EXISTS (SELECT 1 FROM apl_filiale f WHERE f.codice = x.filiale AND f.apl_id = x.apl AND f.abilitata))`,
		"dati.scelte", feed.CodeUnknownReference)
	if err != nil {
		return 0, nil, err
	}
	// The agency's super chooses which of its branches citizens may pick
	// (apl-users, apl_filiale.selezionabile_pad): a choice of another is
	// refused, unless the citizen had it already (a PAD renewed keeps what
	// was picked before the branch was withdrawn from the choice).
	notSelectable, err := feed.RefuseWhere(ctx, tx, stage, `NOT s.ritirato AND EXISTS (
		SELECT 1 FROM unnest(s.apl, s.filiale) AS x (apl, filiale)
		JOIN apl_filiale f ON f.codice = x.filiale AND f.apl_id = x.apl
		WHERE NOT f.selezionabile_pad
		  AND NOT EXISTS (SELECT 1 FROM scelta_apl t JOIN componente c ON c.id = t.componente_id
		                  WHERE c.cf_canonico = s.chiave AND t.apl_id = x.apl AND t.filiale = x.filiale))`,
		"dati.scelte", CodeNotSelectable)
	if err != nil {
		return 0, nil, err
	}
	// One statement: the PADs the upsert returns (inserted, or updated
	// because newer) are the only ones whose choices change. Choices that
	// stay are updated in place and only the others deleted, so that the
	// delete and the upsert never touch one row (their order within a
	// statement is not defined).
	var applied int64
	err = tx.QueryRow(ctx, `
		WITH up AS (
			INSERT INTO pad (componente_id, sottoscritto_il, fonte_il, fonte_seq)
			SELECT c.id, s.sottoscritto_il, s.il, s.seq
			FROM `+stage+` s JOIN componente c ON c.cf_canonico = s.chiave
			WHERE NOT s.ritirato
			ORDER BY c.id
			ON CONFLICT (componente_id) DO UPDATE SET sottoscritto_il = EXCLUDED.sottoscritto_il,
				fonte_il = EXCLUDED.fonte_il, fonte_seq = EXCLUDED.fonte_seq
			WHERE `+feed.Newer("pad")+`
			RETURNING componente_id, sottoscritto_il
		), chosen AS (
			SELECT up.componente_id, x.apl, x.filiale, up.sottoscritto_il
			FROM up
			JOIN componente c ON c.id = up.componente_id
			JOIN `+stage+` s ON s.chiave = c.cf_canonico
			CROSS JOIN LATERAL unnest(s.apl, s.filiale) AS x (apl, filiale)
		), dropped AS (
			DELETE FROM scelta_apl t USING up
			WHERE t.componente_id = up.componente_id
			  AND NOT EXISTS (SELECT 1 FROM chosen w WHERE w.componente_id = t.componente_id AND w.apl = t.apl_id)
		), kept AS (
			INSERT INTO scelta_apl (componente_id, apl_id, filiale, scelta_il)
			SELECT w.componente_id, w.apl, w.filiale, w.sottoscritto_il FROM chosen w
			ORDER BY w.componente_id, w.apl
			ON CONFLICT (componente_id, apl_id) DO UPDATE SET filiale = EXCLUDED.filiale, scelta_il = EXCLUDED.scelta_il
		)
		SELECT count(*) FROM up`).Scan(&applied)
	if err != nil {
		return 0, nil, fmt.Errorf("upsert PADs: %w", err)
	}
	// A withdrawn PAD takes the person's choices with it, unless a newer
	// PAD is stored (a person without a PAD row, as the generator leaves
	// them, has choices older than any withdrawal); feed.Withdraw then
	// deletes the PAD itself, with the same version check.
	if _, err := tx.Exec(ctx, `
		DELETE FROM scelta_apl x USING `+stage+` s JOIN componente c ON c.cf_canonico = s.chiave
		WHERE s.ritirato AND x.componente_id = c.id
		  AND NOT EXISTS (SELECT 1 FROM pad t WHERE t.componente_id = c.id
		                  AND t.fonte_il IS NOT NULL AND (t.fonte_il, t.fonte_seq) >= (s.il, s.seq))`); err != nil {
		return 0, nil, fmt.Errorf("withdraw the choices of PADs: %w", err)
	}
	gone, err := feed.Withdraw(ctx, tx, "pad", stage, "pad", "t.componente_id = "+personOf)
	if err != nil {
		return 0, nil, err
	}
	return applied + gone, slices.Concat(unknown, badChoice, notSelectable), nil
}
