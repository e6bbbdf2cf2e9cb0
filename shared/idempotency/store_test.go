package idempotency

import (
	"context"
	"errors"
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
func claimer(pool *pgxpool.Pool) func(r Request, complete string) (string, error) {
	ctx := context.Background()
	return func(r Request, complete string) (string, error) {
		var earlier string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			if earlier, err = Claim(ctx, tx, r); err != nil || earlier != "" {
				return err
			}
			b := &pgx.Batch{}
			QueueComplete(b, r, complete)
			return tx.SendBatch(ctx, b).Close()
		})
		return earlier, err
	}
}

func TestClaimAndPurge(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	claim := claimer(pool)
	req := Request{Scope: here, Key: "k1", Fingerprint: []byte("body-1")}
	if earlier, err := claim(req, "res-1"); err != nil || earlier != "" {
		t.Fatalf("first claim: %q %v", earlier, err)
	}
	if earlier, err := claim(req, "res-2"); err != nil || earlier != "res-1" {
		t.Fatalf("repeat: %q %v, want res-1", earlier, err)
	}
	if _, err := claim(Request{Scope: here, Key: "k1", Fingerprint: []byte("body-2")}, "x"); problem.Status(err) != http.StatusUnprocessableEntity {
		t.Fatalf("other body: %v", err)
	}
	if earlier, err := claim(Request{Scope: here, Fingerprint: []byte("body-1")}, "x"); err != nil || earlier != "" {
		t.Fatalf("no key: %q %v", earlier, err)
	}
	// A failed first request leaves no key: the next one proceeds.
	failing := Request{Scope: here, Key: "k2", Fingerprint: []byte("b")}
	pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		Claim(ctx, tx, failing)
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
		if earlier, err := claim(Request{Scope: s, Key: "k", Fingerprint: []byte("same body")}, "res:"+name); err != nil || earlier != "" {
			t.Errorf("%s: %q %v, want a first request", name, earlier, err)
		}
	}
	for name, s := range scopes {
		if earlier, err := claim(Request{Scope: s, Key: "k", Fingerprint: []byte("same body")}, "x"); err != nil || earlier != "res:"+name {
			t.Errorf("%s: replayed %q %v, want res:%s", name, earlier, err, name)
		}
		if _, err := claim(Request{Scope: s, Key: "k", Fingerprint: []byte("other body")}, "x"); problem.Status(err) != http.StatusUnprocessableEntity {
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
		req := Request{Scope: here, Key: "conc-" + map[bool]string{true: "commit", false: "rollback"}[commit], Fingerprint: []byte("b")}
		first, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if earlier, err := Claim(ctx, first, req); err != nil || earlier != "" {
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
				o.earlier, err = Claim(ctx, tx, req)
				if err == nil && o.earlier == "" {
					b := &pgx.Batch{}
					QueueComplete(b, req, "second")
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
			QueueComplete(b, req, "first")
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
		if err := pool.QueryRow(ctx, `SELECT risorsa FROM idempotenza WHERE chiave = $1`, req.Key).Scan(&resource); err != nil || resource != want {
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
		_, err := Claim(ctx, tx, Request{Scope: s, Key: "k", Fingerprint: []byte("b")})
		return err
	})
	var pe *problem.Error
	if !errors.As(err, &pe) || problem.Status(err) != http.StatusBadRequest {
		t.Fatalf("overlong path: %v, want a 400", err)
	}
}
