package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rdc-interop/faas/shared/problem"
)

func TestTranslate(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want problem.Kind
	}{
		{"no rows", fmt.Errorf("load: %w", pgx.ErrNoRows), problem.NotFound},
		{"unique violation", &pgconn.PgError{Code: "23505"}, problem.Conflict},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, problem.Unavailable},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, problem.Unavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, problem.Unavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, problem.Unavailable},
		{"refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), problem.Unavailable},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, problem.Unavailable},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), problem.Unavailable},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), problem.Unavailable},
		{"syntax error stays internal", &pgconn.PgError{Code: "42601"}, problem.Internal},
		{"already a problem", problem.New(problem.Forbidden, "x"), problem.Forbidden},
		{"plain", errors.New("boom"), problem.Internal},
	}
	for _, tt := range tests {
		if got := problem.KindOf(Translate(tt.err)); got != tt.want {
			t.Errorf("%s: kind %v, want %v", tt.name, got, tt.want)
		}
	}
	if Translate(nil) != nil {
		t.Error("Translate(nil) != nil")
	}
	// A 503 must say when to come back.
	if pe := Translate(syscall.ECONNREFUSED); problem.Status(pe) != 503 {
		t.Error("refused connection is not a 503")
	}
}

// TestErrorsClassifiedOnTheWayOut: a driver error wrapped with context, never
// translated by its caller, still gets its kind wherever it is looked at.
func TestErrorsClassifiedOnTheWayOut(t *testing.T) {
	t.Parallel()
	lost := fmt.Errorf("record refusal: %w", fmt.Errorf("write: %w", io.ErrUnexpectedEOF))
	if problem.KindOf(lost) != problem.Unavailable || problem.Status(lost) != 503 {
		t.Fatalf("a lost connection wrapped twice: kind %v", problem.KindOf(lost))
	}
	body, header := problem.BodyFor(lost, "r")
	if body.Status != 503 || header.Get("Retry-After") == "" || body.Detail == "" {
		t.Errorf("body %+v, header %v", body, header)
	}
	if problem.KindOf(fmt.Errorf("load: %w", pgx.ErrNoRows)) != problem.NotFound {
		t.Error("no rows is not NotFound")
	}
}

type fakeBeginner struct{ tx pgx.Tx }

func (f fakeBeginner) BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error) { return f.tx, nil }

// fakeTx is just enough of a transaction for TransactWith.
type fakeTx struct {
	pgx.Tx
	commits, rollbacks *int
}

func (f fakeTx) Commit(context.Context) error   { *f.commits++; return nil }
func (f fakeTx) Rollback(context.Context) error { *f.rollbacks++; return nil }

// TestTransactRetriesConflicts: a serialization failure or deadlock runs the
// transaction again, up to its retries; anything else does not.
func TestTransactRetriesConflicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		retries int
		fails   int
		err     error
		calls   int
		ok      bool
	}{
		{"serialization failure retried", 0, 2, &pgconn.PgError{Code: "40001"}, 3, true},
		{"deadlock retried", 0, 1, &pgconn.PgError{Code: "40P01"}, 2, true},
		{"retries run out", 2, 5, &pgconn.PgError{Code: "40001"}, 3, false},
		{"no retries", -1, 1, &pgconn.PgError{Code: "40001"}, 1, false},
		{"other errors not retried", 0, 1, &pgconn.PgError{Code: "23505"}, 1, false},
	} {
		var commits, rollbacks, calls int
		b := fakeBeginner{fakeTx{commits: &commits, rollbacks: &rollbacks}}
		err := TransactWith(context.Background(), b, TxOptions{Retries: tc.retries}, func(pgx.Tx) error {
			calls++
			if calls <= tc.fails {
				return fmt.Errorf("update: %w", tc.err)
			}
			return nil
		})
		if calls != tc.calls || (err == nil) != tc.ok {
			t.Errorf("%s: %d calls, err %v", tc.name, calls, err)
		}
		if tc.ok && commits != 1 || rollbacks != calls-commits {
			t.Errorf("%s: %d commits, %d rollbacks for %d calls", tc.name, commits, rollbacks, calls)
		}
		if pg := (*pgconn.PgError)(nil); !tc.ok && errors.As(tc.err, &pg) && pg.Code == "40001" && problem.KindOf(err) != problem.Unavailable {
			t.Errorf("%s: a conflict left after the retries is kind %v, want Unavailable", tc.name, problem.KindOf(err))
		}
	}
}
