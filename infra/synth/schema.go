package synth

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Loading into tables without their foreign keys and secondary indexes, then
// putting them back, is how pg_restore loads a dump, and for the same reason:
// a foreign key is checked by a trigger per inserted row, and an index built
// once from sorted data costs a fraction of a million random insertions.
// Re-adding a foreign key validates every row in one join, so integrity is
// still proven. The definitions are read from the catalog, so whatever the
// migrations say comes back exactly.

// deferredDDL is a constraint or index taken off for the load.
type deferredDDL struct {
	table, name string
	def         string // pg_get_constraintdef / pg_get_indexdef
	index       bool
}

func (d deferredDDL) dropSQL() string {
	if d.index {
		return "DROP INDEX " + d.name
	}
	return "ALTER TABLE " + d.table + " DROP CONSTRAINT " + pgx.Identifier{d.name}.Sanitize()
}

func (d deferredDDL) createSQL() string {
	if d.index {
		return d.def
	}
	return "ALTER TABLE " + d.table + " ADD CONSTRAINT " + pgx.Identifier{d.name}.Sanitize() + " " + d.def
}

// loadedTables are the tables Load fills (comune aside), parents first.
var loadedTables = []string{tNucleo, tComponente, tPatto, tDID, tSAP, tPIC, tPrest}

// captureDeferred reads the foreign keys of the loaded tables and their indexes
// that back no constraint.
func captureDeferred(ctx context.Context, q *pgxpool.Pool) (fks, idx []deferredDDL, err error) {
	rows, err := q.Query(ctx, `
		SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c
		WHERE c.contype = 'f' AND c.conrelid = ANY($1::regclass[])
		ORDER BY array_position($1::regclass[], c.conrelid), c.conname`, loadedTables)
	if err != nil {
		return nil, nil, fmt.Errorf("read foreign keys: %w", err)
	}
	for rows.Next() {
		var d deferredDDL
		if err := rows.Scan(&d.table, &d.name, &d.def); err != nil {
			return nil, nil, fmt.Errorf("read foreign keys: %w", err)
		}
		fks = append(fks, d)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read foreign keys: %w", err)
	}
	rows, err = q.Query(ctx, `
		SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = ANY($1::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
		                  WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
		                  WHERE c.conindid = i.indexrelid AND c.contype = 'f'
		                    AND NOT (c.conrelid = ANY($1::regclass[])))
		ORDER BY array_position($1::regclass[], i.indrelid), 2`, loadedTables)
	if err != nil {
		return nil, nil, fmt.Errorf("read indexes: %w", err)
	}
	for rows.Next() {
		d := deferredDDL{index: true}
		if err := rows.Scan(&d.table, &d.name, &d.def); err != nil {
			return nil, nil, fmt.Errorf("read indexes: %w", err)
		}
		idx = append(idx, d)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read indexes: %w", err)
	}
	return fks, idx, nil
}

// dropDeferred takes the foreign keys and then the indexes off, in one transaction.
func dropDeferred(ctx context.Context, pool *pgxpool.Pool, fks, idx []deferredDDL) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, d := range append(append([]deferredDDL(nil), fks...), idx...) {
			if _, err := tx.Exec(ctx, d.dropSQL()); err != nil {
				return fmt.Errorf("%s: %w", d.dropSQL(), err)
			}
		}
		return nil
	})
}

// restoreDeferred builds the indexes again, in parallel on conns, then adds the
// foreign keys back, which validates them.
// What already exists (a restore that failed half-way) is left alone.
func restoreDeferred(ctx context.Context, conns []*pgx.Conn, fks, idx []deferredDDL) error {
	fks, err := missing(ctx, conns[0], fks)
	if err != nil {
		return err
	}
	if idx, err = missing(ctx, conns[0], idx); err != nil {
		return err
	}
	if err := runParallel(ctx, conns, idx, func(d deferredDDL) string { return d.createSQL() }); err != nil {
		return err
	}
	// ADD FOREIGN KEY locks both tables in SHARE ROW EXCLUSIVE mode, which
	// conflicts with itself: keys sharing a table would only queue up.
	for _, d := range fks {
		if _, err := conns[0].Exec(ctx, d.createSQL()); err != nil {
			return fmt.Errorf("%s: %w", d.createSQL(), err)
		}
	}
	return nil
}

// missing keeps the constraints and indexes that do not exist.
func missing(ctx context.Context, conn *pgx.Conn, ds []deferredDDL) ([]deferredDDL, error) {
	var out []deferredDDL
	for _, d := range ds {
		var exists bool
		var row pgx.Row
		if d.index {
			row = conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", d.name)
		} else {
			row = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2)", d.table, d.name)
		}
		if err := row.Scan(&exists); err != nil {
			return nil, fmt.Errorf("look for %s: %w", d.name, err)
		}
		if !exists {
			out = append(out, d)
		}
	}
	return out, nil
}

// runParallel runs one statement per item, spread over conns.
func runParallel[T any](ctx context.Context, conns []*pgx.Conn, items []T, stmt func(T) string) error {
	work := make(chan T)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if _, err := c.Exec(ctx, stmt(it)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", stmt(it), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	return firstErr
}

// checkEmpty fails unless every table Load fills is empty.
func checkEmpty(ctx context.Context, pool *pgxpool.Pool) error {
	var parts []string
	for _, t := range loadedTables {
		parts = append(parts, "EXISTS (SELECT 1 FROM "+pgx.Identifier{t}.Sanitize()+")")
	}
	var full bool
	if err := pool.QueryRow(ctx, "SELECT "+strings.Join(parts, " OR ")).Scan(&full); err != nil {
		return fmt.Errorf("check the tables are empty: %w", err)
	}
	if full {
		return fmt.Errorf("synth: the database already holds households: Load needs an empty migrated database")
	}
	return nil
}
