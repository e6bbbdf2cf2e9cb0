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
