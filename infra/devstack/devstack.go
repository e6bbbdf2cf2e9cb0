// Package devstack puts the function set together on one machine: services,
// a migrated database, secrets, demo clients and data, and the environment the
// functions read. `make up` and `make test` both go through it, so what the
// tests exercise is what a newcomer runs.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/infra/migrations"
)

// DatabaseURL returns adminURL pointing at database name instead.
func DatabaseURL(adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("parse database URL: not a valid URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// CreateDatabase creates database name (from template when not empty) on the
// server of adminURL and returns its URL.
func CreateDatabase(ctx context.Context, adminURL, name, template string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return DatabaseURL(adminURL, name)
}

// EnsureDatabase creates database name unless it exists, and migrates it.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	conn.Close(context.Background())
	if err != nil {
		return "", fmt.Errorf("look for database %s: %w", name, err)
	}
	dbURL, err := DatabaseURL(adminURL, name)
	if err != nil {
		return "", err
	}
	if !exists {
		if dbURL, err = CreateDatabase(ctx, adminURL, name, ""); err != nil {
			return "", err
		}
	}
	if err := migrations.ApplyURL(ctx, dbURL); err != nil {
		return "", err
	}
	return dbURL, nil
}

// DropDatabase drops database name, closing its connections first.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// RunID is a short random name for one run's databases, buckets and keys.
func RunID() string {
	b := make([]byte, 5)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Sanitize makes s usable in a database or bucket name.
func Sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}

// AppRole is the functions' database role (migration 027): all they need,
// and no UPDATE, DELETE or TRUNCATE of the audit trail.
const AppRole = "rdc_app"

// FunctionsURL is dbURL for the functions: the same login, acting as
// AppRole from the start of each session (libpq's options=-c role=…), so
// that the local stack and the tests run them with a deployment's
// privileges, not the owner's. A login that may not take the role (not a
// member, not a superuser) keeps its own, and the second result says so.
func FunctionsURL(ctx context.Context, dbURL string) (string, bool, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", false, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	var may bool
	if err := conn.QueryRow(ctx, `SELECT pg_has_role(current_user, $1, 'MEMBER')`, AppRole).Scan(&may); err != nil {
		return "", false, fmt.Errorf("check role %s: %w", AppRole, err)
	}
	if !may {
		return dbURL, false, nil
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", false, fmt.Errorf("parse database URL: not a valid URL")
	}
	q := u.Query()
	q.Set("options", strings.TrimSpace(q.Get("options")+" -crole="+AppRole))
	// pgx takes a "+" in the query literally: spaces as %20.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), true, nil
}
