package idempotency

import (
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/dbtest"
	"github.com/rdc-interop/faas/shared/problem"
)

func TestClaimAndPurge(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	req := Request{Key: "k1", Fingerprint: []byte("body-1")}
	claim := func(r Request, complete string) (string, error) {
		var earlier string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			if earlier, err = Claim(ctx, tx, "gepi", "f", r); err != nil || earlier != "" {
				return err
			}
			b := &pgx.Batch{}
			QueueComplete(b, "gepi", "f", r, complete)
			return tx.SendBatch(ctx, b).Close()
		})
		return earlier, err
	}
	if earlier, err := claim(req, "res-1"); err != nil || earlier != "" {
		t.Fatalf("first claim: %q %v", earlier, err)
	}
	if earlier, err := claim(req, "res-2"); err != nil || earlier != "res-1" {
		t.Fatalf("repeat: %q %v, want res-1", earlier, err)
	}
	if _, err := claim(Request{Key: "k1", Fingerprint: []byte("body-2")}, "x"); problem.Status(err) != http.StatusUnprocessableEntity {
		t.Fatalf("other body: %v", err)
	}
	if earlier, err := claim(Request{Fingerprint: []byte("body-1")}, "x"); err != nil || earlier != "" {
		t.Fatalf("no key: %q %v", earlier, err)
	}
	// A failed first request leaves no key: the next one proceeds.
	failing := Request{Key: "k2", Fingerprint: []byte("b")}
	pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		Claim(ctx, tx, "gepi", "f", failing)
		return problem.New(problem.Conflict, "rolled back")
	})
	if earlier, err := claim(failing, "res-3"); err != nil || earlier != "" {
		t.Fatalf("after a failed first request: %q %v", earlier, err)
	}

	pool.Exec(ctx, `UPDATE idempotenza SET creato_il = now() - interval '49 hours' WHERE chiave = 'k1'`)
	if n, err := Purge(ctx, pool); err != nil || n != 1 {
		t.Fatalf("purged %d, err %v", n, err)
	}
	var left int
	pool.QueryRow(ctx, `SELECT count(*) FROM idempotenza`).Scan(&left)
	if left != 1 {
		t.Fatalf("%d keys left, want the recent one", left)
	}
}
