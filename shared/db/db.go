// Package db is the one place that knows pgx: it opens the pool, runs
// transactions, and translates driver errors into problem kinds, so nothing
// above it imports pgx error types.
//
// A pool is created without connecting: a function starts while PostgreSQL is
// down, answers 503 meanwhile, and recovers by itself once it is back, because
// the pool dials anew on each acquire.
package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/problem"
)

// DBTX is what queries need: satisfied by the pool and by a transaction, so the
// same query code runs inside or outside one.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// BusinessZone is the session time zone of every connection.
const BusinessZone = "Europe/Rome"

// Open returns a pool for url that has not connected yet.
func Open(url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL may hold a password: say which setting, not its value.
		return nil, errors.New("parse DATABASE_URL: not a valid PostgreSQL URL")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// A dead server must not hold a request for the whole function timeout.
	cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	cfg.HealthCheckPeriod = 5 * time.Second
	cfg.MaxConnIdleTime = 5 * time.Minute
	// A day in business terms is a day in Rome: current_date, a date
	// compared with a timestamptz, or a timestamptz cast to a date must
	// follow Rome's midnight, not the server's. Instants travel in binary
	// and are unaffected.
	cfg.ConnConfig.RuntimeParams["timezone"] = BusinessZone
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return pool, nil
}

// Beginner starts transactions; *pgxpool.Pool is one.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Transact runs fn in a transaction, committing if it returns nil and rolling
// back on error or panic.
func Transact(ctx context.Context, b Beginner, fn func(tx pgx.Tx) error) (err error) {
	tx, err := b.Begin(ctx)
	if err != nil {
		return Translate(fmt.Errorf("begin: %w", err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.Background())
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.Background())
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return Translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// Translate maps a driver error to a problem kind: no rows → NotFound, a unique
// violation → Conflict, a lost or refused connection → Unavailable (503). Other
// errors pass through and end as a generic 500. Errors already carrying a kind
// are returned unchanged.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var pe *problem.Error
	if errors.As(err, &pe) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.Wrap(problem.NotFound, err, "not found")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return problem.Wrap(problem.Conflict, err, "already exists")
		case pgErr.Code == "40001" || pgErr.Code == "40P01":
			// Serialization failure or deadlock: the caller may retry.
			return problem.Down("the database", err)
		case len(pgErr.Code) == 2+3 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "57" || pgErr.Code[:2] == "53"):
			// connection exception, operator intervention (shutdown), insufficient resources
			return problem.Down("the database", err)
		}
		return err
	}
	if IsConnectionError(err) {
		return problem.Down("the database", err)
	}
	return err
}

// IsConnectionError reports whether err means the server could not be reached
// or the connection was lost.
func IsConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case pgconn.SafeToRetry(err), pgconn.Timeout(err):
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return false
	}
	// pgx reports a connection closed mid-query as a plain error wrapping io errors.
	return errors.Is(err, net.ErrClosed) || isUnexpectedEOF(err)
}

func isUnexpectedEOF(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	// pgx wraps a broken connection as "conn closed" without a typed cause.
	return strings.Contains(err.Error(), "conn closed")
}
