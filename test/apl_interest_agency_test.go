package test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestInterestCarriesItsOffersAgency checks what the interests' list relies
// on (migration 030): each interest's agency and branch are its offer's,
// whoever writes them, and an offer cannot move. The writes are made in
// transactions that are rolled back, so other tests see nothing.
func TestInterestCarriesItsOffersAgency(t *testing.T) {
	ctx := context.Background()
	var wrong int
	if err := h.DB.QueryRow(ctx, `
		SELECT count(*) FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id
		WHERE mi.apl_id <> o.apl_id OR mi.filiale <> o.filiale`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong > 0 {
		t.Fatalf("%d interests name another agency or branch than their offer's", wrong)
	}

	t.Run("a writer's agency is overwritten with the offer's", func(t *testing.T) {
		tx, err := h.DB.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }() // nothing of this test is kept
		var gotAPL, gotBranch, wantAPL, wantBranch string
		err = tx.QueryRow(ctx, `
			UPDATE manifestazione_interesse SET apl_id = 'another agency', filiale = 'another branch'
			WHERE id = (SELECT min(id) FROM manifestazione_interesse)
			RETURNING apl_id, filiale, (SELECT apl_id FROM offerta WHERE id = offerta_id), (SELECT filiale FROM offerta WHERE id = offerta_id)`).
			Scan(&gotAPL, &gotBranch, &wantAPL, &wantBranch)
		if err != nil {
			t.Fatal(err)
		}
		if gotAPL != wantAPL || gotBranch != wantBranch {
			t.Fatalf("the interest now names agency %q, branch %q; its offer's are %q, %q", gotAPL, gotBranch, wantAPL, wantBranch)
		}
	})

	for _, tt := range []struct{ name, set string }{
		{"an offer cannot move to another branch", `filiale = (SELECT f.codice FROM apl_filiale f WHERE f.apl_id = o.apl_id AND f.codice <> o.filiale LIMIT 1)`},
		{"an offer cannot move to another agency", `apl_id = (SELECT a.id FROM apl a WHERE a.id <> o.apl_id LIMIT 1)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := h.DB.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			_, err = tx.Exec(ctx, `UPDATE offerta o SET `+tt.set+` WHERE o.id = (SELECT offerta_id FROM manifestazione_interesse ORDER BY id LIMIT 1)`)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "23514" {
				t.Fatalf("moving the offer: %v; want a check violation", err)
			}
		})
	}
}
