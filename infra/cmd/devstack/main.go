// Command devstack runs the function set on one machine.
//
//	devstack up                 services, migrated database, demo clients and data, gateway on 127.0.0.1:8080
//	devstack test -- CMD ARGS   services and a migrated template database for one test run, then CMD
//	devstack migrate            apply the migrations to $DATABASE_URL
//	devstack evidence -role R   a tracking evidence of a demo client's operator (for curl)
//
// Services given by DATABASE_URL, REDIS_URL and S3_ENDPOINT are used as they
// are; the others are started from the machine's binaries and stopped on exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rdc-interop/faas/infra/migrations"
	"github.com/rdc-interop/faas/shared/logging"
)

func main() { os.Exit(runMain()) }

// runMain is main but for the exit status, which it returns so that its
// deferred calls run before the process exits.
func runMain() int {
	log := logging.New(os.Stderr, os.Getenv("LOG_LEVEL"))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			return int(exit)
		}
		fmt.Fprintln(os.Stderr, "devstack:", err)
		return 1
	}
	return 0
}

// exitError carries the exit status of the command run by `devstack test`.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return errors.New("usage: devstack up | test -- CMD | migrate | evidence")
	}
	switch args[0] {
	case "up":
		fs := flag.NewFlagSet("up", flag.ContinueOnError)
		addr := fs.String("addr", envOr("GATEWAY_ADDR", "127.0.0.1:8080"), "gateway listen address")
		persons := fs.Int("persons", 10000, "persons in the demo data set")
		fresh := fs.Bool("fresh", false, "drop the demo database and load it again")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return up(ctx, upOptions{addr: *addr, persons: *persons, fresh: *fresh}, log)
	case "test":
		cmd := args[1:]
		if len(cmd) > 0 && cmd[0] == "--" {
			cmd = cmd[1:]
		}
		if len(cmd) == 0 {
			return errors.New("usage: devstack test -- CMD ARGS")
		}
		return test(ctx, cmd, log)
	case "evidence":
		return evidence(args[1:], os.Stdout)
	case "migrate":
		url := os.Getenv("DATABASE_URL")
		if url == "" {
			return errors.New("migrate: set DATABASE_URL (make up migrates its own database)")
		}
		if err := migrations.ApplyURL(ctx, url); err != nil {
			return err
		}
		log.Info("migrations applied")
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
