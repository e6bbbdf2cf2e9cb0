// Package migrations holds the versioned database schema and applies it.
//
// The SQL files are the schema's only source: `make migrate`, `make up` and the
// test runs all apply them through Apply, so a database is never shaped by hand.
// Each file is one version, in tern's format (create above, drop below).
package migrations

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed *.sql
var files embed.FS

// versionTable records the applied version; tern takes an advisory lock on it,
// so two replicas starting at once apply each version once.
const versionTable = "schema_version"

// Apply brings the database on conn to the latest version.
func Apply(ctx context.Context, conn *pgx.Conn) error {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return fmt.Errorf("prepare migrator: %w", err)
	}
	if err := m.LoadMigrations(files); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// ApplyURL connects to databaseURL and applies the migrations.
func ApplyURL(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect for migrations: %w", err)
	}
	defer conn.Close(context.Background())
	return Apply(ctx, conn)
}
