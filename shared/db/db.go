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
type DBTX interface { //nolint:revive // exported: DBTX is the name pgx and sqlc code knows this interface by
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
type Beginner = TxBeginner

// Transact runs fn in a transaction, committing if it returns nil and rolling
// back on error or panic.
func Transact(ctx context.Context, b Beginner, fn func(tx pgx.Tx) error) error {
	return TransactWith(ctx, b, TxOptions{}, fn)
}

// TxOptions are a transaction's isolation and access mode, and how many
// times a serialization failure or deadlock runs it again.
type TxOptions struct {
	Iso      pgx.TxIsoLevel // "" is the server's default (read committed)
	ReadOnly bool
	// Retries after a serialization failure or deadlock (40001, 40P01):
	// DefaultRetries when zero, none when negative.
	Retries int
	// RetryUnique retries a unique violation (23505) too: right for a
	// set-wise upsert that raced another transaction on a unique key its
	// ON CONFLICT does not name, which the next attempt sees committed.
	RetryUnique bool
}

// DefaultRetries is how often a transaction that lost a serialization
// conflict or a deadlock runs again: such a loss says nothing about the
// request, and the next attempt nearly always wins.
const DefaultRetries = 3

// TransactWith is Transact with options; fn must be safe to run again.
func TransactWith(ctx context.Context, b TxBeginner, o TxOptions, fn func(tx pgx.Tx) error) error {
	retries := o.Retries
	if retries == 0 {
		retries = DefaultRetries
	}
	mode := pgx.ReadWrite
	if o.ReadOnly {
		mode = pgx.ReadOnly
	}
	for attempt := 0; ; attempt++ {
		err := once(ctx, b, pgx.TxOptions{IsoLevel: o.Iso, AccessMode: mode}, fn)
		again := retryable(err) || (o.RetryUnique && uniqueViolation(err))
		if err == nil || !again || attempt >= retries || ctx.Err() != nil {
			return err
		}
	}
}

// TxBeginner starts transactions with options; *pgxpool.Pool is one.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

func once(ctx context.Context, b TxBeginner, opts pgx.TxOptions, fn func(tx pgx.Tx) error) (err error) {
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
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
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func init() { problem.Classify(classify) }

// classify gives a driver error its problem kind: no rows → NotFound, a
// unique violation → Conflict, a lost or refused connection, a shutdown or
// a serialization failure left after Transact's retries → Unavailable
// (503). Other driver errors have no kind and end as a generic 500. It is
// registered with package problem, so callers wrap driver errors with
// context (fmt.Errorf with %w) and never translate them themselves.
func classify(err error) *problem.Error {
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.Wrap(problem.NotFound, err, "not found")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return problem.Wrap(problem.Conflict, err, "already exists")
		case retryable(err):
			return problem.Down("the database", err)
		case len(pgErr.Code) == 2+3 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "57" || pgErr.Code[:2] == "53"):
			// connection exception, operator intervention (shutdown), insufficient resources
			return problem.Down("the database", err)
		}
		return nil
	}
	if IsConnectionError(err) {
		return problem.Down("the database", err)
	}
	return nil
}

// Translate returns err as the problem it is (see classify), or err. The
// mapping happens on the way out anyway; Translate is for code that must
// hold the *problem.Error itself.
func Translate(err error) error {
	if pe := problem.As(err); pe != nil && err != nil {
		var own *problem.Error
		if errors.As(err, &own) {
			return err
		}
		return pe
	}
	return err
}

// NoRows reports whether err is a query's "no rows": callers ask this
// instead of knowing the driver's error values.
func NoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// retryable reports a serialization failure or a deadlock: the whole
// transaction may simply be run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func uniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
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
