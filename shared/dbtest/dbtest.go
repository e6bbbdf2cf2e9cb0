// Package dbtest gives a test its own migrated PostgreSQL database.
//
// `make test` (devstack test) prepares one migrated template database per run
// and exports RDC_TEST_ADMIN_URL and RDC_TEST_TEMPLATE; New clones the
// template (a file copy on the server, milliseconds) and drops the clone when
// the test ends, so tests never see each other's rows.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// URL creates a fresh migrated database and returns its URL.
func URL(tb testing.TB) string {
	tb.Helper()
	admin, template := os.Getenv("RDC_TEST_ADMIN_URL"), os.Getenv("RDC_TEST_TEMPLATE")
	if admin == "" || template == "" {
		tb.Fatal("no test database: run the tests through `make test` (it sets RDC_TEST_ADMIN_URL and RDC_TEST_TEMPLATE)")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	name := "rdc_t_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			tb.Logf("drop test database: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Pool creates a fresh migrated database and returns a pool on it.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}
