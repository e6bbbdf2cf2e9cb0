package idempotency

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/dbtest"
	"github.com/rdc-interop/faas/shared/problem"
)

var here = Scope{Client: "gepi", Function: "f", Method: http.MethodPost, Path: "/"}

// claimer runs Claim in a transaction of its own and, for a first request,
// records complete as what it created.
func claimer(pool *pgxpool.Pool) func(r Key, complete string) (string, error) {
	ctx := context.Background()
	return func(r Key, complete string) (string, error) {
		var earlier string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			if earlier, err = r.Claim(ctx, tx); err != nil || earlier != "" {
				return err
			}
			b := &pgx.Batch{}
			r.Complete(b, complete)
			return tx.SendBatch(ctx, b).Close()
		})
		return earlier, err
	}
}

func TestClaimAndPurge(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	claim := claimer(pool)
	req := Key{Scope: here, Value: "k1", Fingerprint: []byte("body-1")}
	if earlier, err := claim(req, "res-1"); err != nil || earlier != "" {
		t.Fatalf("first claim: %q %v", earlier, err)
	}
	if earlier, err := claim(req, "res-2"); err != nil || earlier != "res-1" {
		t.Fatalf("repeat: %q %v, want res-1", earlier, err)
	}
	if _, err := claim(Key{Scope: here, Value: "k1", Fingerprint: []byte("body-2")}, "x"); problem.Status(err) != http.StatusUnprocessableEntity {
		t.Fatalf("other body: %v", err)
	}
	if earlier, err := claim(Key{Scope: here, Fingerprint: []byte("body-1")}, "x"); err != nil || earlier != "" {
		t.Fatalf("no key: %q %v", earlier, err)
	}
	// A failed first request leaves no key: the next one proceeds.
	failing := Key{Scope: here, Value: "k2", Fingerprint: []byte("b")}
	rolledBack := problem.New(problem.Conflict, "rolled back")
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := failing.Claim(ctx, tx); err != nil {
			return err
		}
		return rolledBack
	}); !errors.Is(err, rolledBack) {
		t.Fatalf("the failed first request: %v", err)
	}
	if earlier, err := claim(failing, "res-3"); err != nil || earlier != "" {
		t.Fatalf("after a failed first request: %q %v", earlier, err)
	}

	if _, err := pool.Exec(ctx, `UPDATE idempotenza SET creato_il = now() - interval '49 hours' WHERE chiave = 'k1'`); err != nil {
		t.Fatal(err)
	}
	if n, err := Purge(ctx, pool); err != nil || n != 1 {
		t.Fatalf("purged %d, err %v", n, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM idempotenza`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 1 {
		t.Fatalf("%d keys left, want the recent one", left)
	}
}

// TestClaimIsScoped: one key and body used by another client, in another
// function, with another method or on another resource is a new request,
// and each scope replays its own resource.
func TestClaimIsScoped(t *testing.T) {
	claim := claimer(dbtest.Pool(t))
	scopes := map[string]Scope{
		"first":           here,
		"another client":  {Client: "anpal", Function: here.Function, Method: here.Method, Path: here.Path},
		"another func":    {Client: here.Client, Function: "g", Method: here.Method, Path: here.Path},
		"another method":  {Client: here.Client, Function: here.Function, Method: http.MethodPut, Path: here.Path},
		"another path":    {Client: here.Client, Function: here.Function, Method: here.Method, Path: "/2/rifiuti"},
		"a path's prefix": {Client: here.Client, Function: here.Function, Method: here.Method, Path: "/2/rifiut"},
	}
	for name, s := range scopes {
		if earlier, err := claim(Key{Scope: s, Value: "k", Fingerprint: []byte("same body")}, "res:"+name); err != nil || earlier != "" {
			t.Errorf("%s: %q %v, want a first request", name, earlier, err)
		}
	}
	for name, s := range scopes {
		if earlier, err := claim(Key{Scope: s, Value: "k", Fingerprint: []byte("same body")}, "x"); err != nil || earlier != "res:"+name {
			t.Errorf("%s: replayed %q %v, want res:%s", name, earlier, err, name)
		}
		if _, err := claim(Key{Scope: s, Value: "k", Fingerprint: []byte("other body")}, "x"); problem.Status(err) != http.StatusUnprocessableEntity {
			t.Errorf("%s with another body: %v, want 422", name, err)
		}
	}
}

// TestClaimConcurrent: a duplicate sent while the first request's
// transaction is open waits for it, then replays what it created; had the
// first failed, the duplicate would proceed as the first.
func TestClaimConcurrent(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	for _, commit := range []bool{true, false} {
		req := Key{Scope: here, Value: "conc-" + map[bool]string{true: "commit", false: "rollback"}[commit], Fingerprint: []byte("b")}
		first, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if earlier, err := req.Claim(ctx, first); err != nil || earlier != "" {
			t.Fatalf("first: %q %v", earlier, err)
		}
		type outcome struct {
			earlier string
			err     error
		}
		done := make(chan outcome, 1)
		go func() {
			var o outcome
			o.err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				var err error
				o.earlier, err = req.Claim(ctx, tx)
				if err == nil && o.earlier == "" {
					b := &pgx.Batch{}
					req.Complete(b, "second")
					err = tx.SendBatch(ctx, b).Close()
				}
				return err
			})
			done <- o
		}()
		// The duplicate is waiting on the first one's row lock.
		deadline := time.Now().Add(10 * time.Second)
		for waiting := 0; waiting == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the duplicate never waited on the first request")
			}
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO idempotenza%'`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			select {
			case o := <-done:
				t.Fatalf("the duplicate did not wait: %+v", o)
			default:
			}
		}
		want := "second"
		if commit {
			b := &pgx.Batch{}
			req.Complete(b, "first")
			if err := first.SendBatch(ctx, b).Close(); err != nil {
				t.Fatal(err)
			}
			if err := first.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			want = "first"
		} else if err := first.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		o := <-done
		if commit && (o.err != nil || o.earlier != want) {
			t.Errorf("after a commit: %q %v, want a replay of %q", o.earlier, o.err, want)
		}
		if !commit && (o.err != nil || o.earlier != "") {
			t.Errorf("after a rollback: %q %v, want a first request", o.earlier, o.err)
		}
		var resource string
		if err := pool.QueryRow(ctx, `SELECT risorsa FROM idempotenza WHERE chiave = $1`, req.Value).Scan(&resource); err != nil || resource != want {
			t.Errorf("stored %q %v, want %q", resource, err, want)
		}
	}
}

func TestClaimRefusesAnOverlongPath(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	s := here
	s.Path = "/" + strings.Repeat("x", maxPathLen)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := Key{Scope: s, Value: "k", Fingerprint: []byte("b")}.Claim(ctx, tx)
		return err
	})
	var pe *problem.Error
	if !errors.As(err, &pe) || problem.Status(err) != http.StatusBadRequest {
		t.Fatalf("overlong path: %v, want a 400", err)
	}
}

// TestClaimPurgesExpiredKeys: a claim deletes up to purgeBatch of its
// function's expired keys, the next claim goes on while some are left, and
// once none are the process waits purgeEvery before it looks again. Other
// functions' keys and keys still in retention are left alone.
func TestClaimPurgesExpiredKeys(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	const fn = "purged-f"
	purges.again(fn)
	t.Cleanup(func() { purges.again(fn) })
	expire := func(function string, n int) {
		t.Helper()
		if _, err := pool.Exec(ctx, `
			INSERT INTO idempotenza (client_id, funzione, metodo, percorso, chiave, impronta, risorsa, creato_il)
			SELECT 'gepi', $1, 'POST', '/', 'old-' || gen_random_uuid(), '\x00', 'r', now() - interval '49 hours'
			FROM generate_series(1, $2::int)`, function, n); err != nil {
			t.Fatal(err)
		}
	}
	expired := func(function string) (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM idempotenza WHERE funzione = $1 AND creato_il < now() - interval '48 hours'`, function).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	claim := claimer(pool)
	scope := Scope{Client: "gepi", Function: fn, Method: http.MethodPost, Path: "/"}
	expire(fn, purgeBatch+6)
	expire("other-f", 3)
	for i, left := range []int{6, 0} {
		if _, err := claim(Key{Scope: scope, Value: fmt.Sprintf("new-%d", i), Fingerprint: []byte("b")}, "r"); err != nil {
			t.Fatal(err)
		}
		if n := expired(fn); n != left {
			t.Fatalf("after claim %d: %d expired keys left, want %d", i+1, n, left)
		}
	}
	expire(fn, 5)
	if _, err := claim(Key{Scope: scope, Value: "new-2", Fingerprint: []byte("b")}, "r"); err != nil {
		t.Fatal(err)
	}
	if n := expired(fn); n != 5 {
		t.Fatalf("a claim within purgeEvery of a purge that found the last keys purged again: %d left, want 5", n)
	}
	var kept int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM idempotenza WHERE funzione = $1 AND chiave LIKE 'new-%'`, fn).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != 3 || expired("other-f") != 3 {
		t.Fatalf("%d new keys kept (want 3), %d of another function's expired keys (want 3)", kept, expired("other-f"))
	}
}
