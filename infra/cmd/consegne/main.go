// Command consegne lets an operator see the transfer notifications that the
// partner platforms have not received, and put the ones set aside (after
// their last attempt) back in line once the partner is fixed:
//
//	consegne list [-stato SCARTATA|IN_ATTESA|CONSEGNATA] [-n 100]
//	consegne requeue [id_trasferimento ...]    (no id: every one set aside)
//
// It connects to -database-url (default $DATABASE_URL). It prints no
// personal data: ids, partner, state, attempts and the last error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/outbox"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "consegne:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("consegne", flag.ContinueOnError)
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "database (default $DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("no database: set -database-url or DATABASE_URL")
	}
	if fs.NArg() == 0 {
		return errors.New("say list or requeue")
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	switch cmd, rest := fs.Arg(0), fs.Args()[1:]; cmd {
	case "list":
		lf := flag.NewFlagSet("list", flag.ContinueOnError)
		state := lf.String("stato", "SCARTATA", "IN_ATTESA, CONSEGNATA or SCARTATA")
		n := lf.Int("n", 100, "at most this many, oldest first")
		if err := lf.Parse(rest); err != nil {
			return err
		}
		items, err := outbox.List(ctx, pool, *state, *n)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDESTINATARIO\tTIPO\tSTATO\tTENTATIVI\tULTIMO_ERRORE\tPROSSIMO_TENTATIVO\tCREATO_IL")
		for _, it := range items {
			last := "-"
			if it.UltimoErrore != nil {
				last = *it.UltimoErrore
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", it.ID, it.Destinatario, it.Tipo, it.Stato, it.Tentativi, last,
				it.ProssimoTentativo.UTC().Format(time.RFC3339), it.CreatoIl.UTC().Format(time.RFC3339))
		}
		tw.Flush()
		fmt.Fprintf(out, "%d notification(s) %s\n", len(items), *state)
		return nil
	case "requeue":
		for _, id := range rest {
			if _, err := uuid.Parse(id); err != nil {
				return fmt.Errorf("%q is not an id_trasferimento (a UUID)", id)
			}
		}
		n, err := outbox.Requeue(ctx, pool, rest)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d notification(s) back in line; the functions deliver them at their next sweep\n", n)
		return nil
	default:
		return fmt.Errorf("unknown command %q: say list or requeue", cmd)
	}
}
