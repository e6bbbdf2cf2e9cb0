// Command synth loads a synthetic population of RdC households into an empty
// database (see package synth) and prints what it wrote.
//
//	synth -persons 1000000 -seed 1 -database-url postgres://... -fixtures fixtures.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/infra/migrations"
	"github.com/rdc-interop/faas/infra/synth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	persons := fs.Int("persons", 10000, "number of persons (household members) to generate")
	seed := fs.Int64("seed", 1, "random seed: the same seed and day give the same data")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "database to fill (default $DATABASE_URL)")
	migrate := fs.Bool("migrate", true, "apply the migrations first")
	fixtures := fs.String("fixtures", "", "write the sample codici fiscali per situation to this JSON file")
	today := fs.String("today", "", "reference day YYYY-MM-DD (default today in Europe/Rome)")
	workers := fs.Int("workers", 2, "parallel COPY streams")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("no database: set -database-url or DATABASE_URL")
	}
	o := synth.Options{Persons: *persons, Seed: *seed, Workers: *workers}
	if *today != "" {
		t, err := time.Parse(time.DateOnly, *today)
		if err != nil {
			return fmt.Errorf("-today: want YYYY-MM-DD")
		}
		o.Today = t
	}
	if *migrate {
		if err := migrations.ApplyURL(ctx, *dbURL); err != nil {
			return err
		}
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()

	fx, st, err := synth.Load(ctx, pool, o)
	if err != nil {
		return err
	}
	if *fixtures != "" {
		b, err := json.MarshalIndent(fx, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*fixtures, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write fixtures: %w", err)
		}
	}
	var comuni, beneficiari int64
	if err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM comune), (SELECT count(*) FROM patto_inclusione_componente)").Scan(&comuni, &beneficiari); err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	for _, r := range []struct {
		table string
		rows  int64
	}{
		{"comune", comuni},
		{"nucleo", st.Households},
		{"componente", st.Persons},
		{"did", st.DIDs},
		{"sap_politica", st.Politiche},
		{"patto_inclusione", st.PattiInclusione},
		{"patto_inclusione_componente", beneficiari},
	} {
		fmt.Fprintf(out, "%-28s %10d rows\n", r.table, r.rows)
	}
	fmt.Fprintf(out, "%-28s %10.1f s\n", "elapsed", st.Elapsed.Seconds())
	fmt.Fprintf(out, "%-28s %10.0f\n", "persons/s", float64(st.Persons)/st.Elapsed.Seconds())
	return nil
}
