package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/infra/devstack"
	"github.com/rdc-interop/faas/infra/gateway"
	"github.com/rdc-interop/faas/infra/registry"
	"github.com/rdc-interop/faas/infra/services"
	"github.com/rdc-interop/faas/infra/stackfile"
	"github.com/rdc-interop/faas/infra/synth"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/deps"
)

type upOptions struct {
	addr    string
	persons int
	fresh   bool
}

const demoDatabase = "rdc"

func up(ctx context.Context, o upOptions, log *slog.Logger) error {
	start := time.Now()
	stack, err := stackfile.Read("stack.yml")
	if err != nil {
		return fmt.Errorf("run make up from the repository root: %w", err)
	}
	fns, err := gateway.FromStack(stack, registry.Handlers())
	if err != nil {
		return err
	}
	// Take the port first: a busy port should fail before minutes of set-up.
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.addr)
	if err != nil {
		return fmt.Errorf("gateway address %s: %w (set GATEWAY_ADDR or -addr)", o.addr, err)
	}
	defer ln.Close()

	local, _ := filepath.Abs(".local")
	svc, err := services.Start(ctx, services.Options{Dir: filepath.Join(local, "stack"), Log: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			log.Error("stop services", "err", err)
		}
	}()
	ep := svc.Endpoints()

	if o.fresh {
		if err := devstack.DropDatabase(ctx, ep.DatabaseURL, demoDatabase); err != nil {
			return err
		}
	}
	dbURL, err := devstack.EnsureDatabase(ctx, ep.DatabaseURL, demoDatabase)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// For psql and the README's checks of the audit trail: local only, as clients.json.
	if err := os.WriteFile(filepath.Join(local, "database-url"), []byte(dbURL+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the database URL: %w", err)
	}

	fixturesPath := filepath.Join(local, "fixtures.json")
	if err := loadDemo(ctx, pool, o.persons, fixturesPath, log); err != nil {
		return err
	}
	secretsDir, _ := filepath.Abs(".secrets")
	if err := demo.EnsureSecrets(secretsDir); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	issuer := "http://" + ln.Addr().String() + "/function/oauth-token"
	clients, err := demo.Provision(ctx, pool, demo.Clients())
	if err != nil {
		return err
	}
	if err := demo.WriteJSON(filepath.Join(local, "clients.json"), demo.ClientsFile{TokenURL: issuer, Audience: "rdc-interop", Clients: clients}); err != nil {
		return err
	}

	// The functions act as the application's role, as deployed: no UPDATE
	// or DELETE of the audit trail (docs/audit-log.md#roles).
	fnURL, asApp, err := devstack.FunctionsURL(ctx, dbURL)
	if err != nil {
		return err
	}
	if !asApp {
		log.Warn("the database login may not act as " + devstack.AppRole + ": the functions run with the owner's privileges")
	}
	env := map[string]string{
		"DATABASE_URL": fnURL, "REDIS_URL": ep.RedisURL, "SECRETS_DIR": secretsDir,
		"S3_ENDPOINT": ep.S3Endpoint, "S3_ACCESS_KEY": ep.S3AccessKey, "S3_SECRET_KEY": ep.S3SecretKey,
		"OAUTH_ISSUER": issuer, "OAUTH_AUDIENCE": "rdc-interop",
		// The local gateway appends the caller's address to X-Forwarded-For.
		"TRUSTED_PROXY_HOPS": "1",
	}
	env["OAUTH_JWKS_URL"] = "" // derived from the issuer
	getenv := config.Overlay(env)
	cfg, err := config.Load(getenv, config.SecretsIn(secretsDir, getenv))
	if err != nil {
		return fmt.Errorf("configure the functions: %w", err)
	}
	deps.Use(cfg)
	defer deps.Reset()

	gw := gateway.New(fns, log)
	log.Info("function set ready", "url", "http://"+ln.Addr().String()+"/function/<name>",
		"functions", len(fns), "clients", filepath.Join(local, "clients.json"), "fixtures", fixturesPath,
		"startup_s", time.Since(start).Round(100*time.Millisecond).Seconds())
	for name, sched := range gw.Schedules() {
		log.Info("scheduled", "function", name, "cron", sched)
	}
	go feedDemo(ctx, pool, "http://"+ln.Addr().String(), clients, filepath.Join(local, "fed.json"), log)
	err = gw.Serve(ctx, ln, 10*time.Second)
	log.Info("stopping")
	return err
}

// loadDemo loads the demo data set once; it is kept between runs of make up
// (with the fixtures that describe it) unless -fresh is given.
func loadDemo(ctx context.Context, pool *pgxpool.Pool, persons int, fixturesPath string, log *slog.Logger) error {
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM componente").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		if _, err := os.Stat(fixturesPath); err != nil {
			return fmt.Errorf("the demo database holds data but %s cannot be read (%w): run make up ARGS=-fresh", fixturesPath, err)
		}
		log.Info("demo data already loaded", "persons", n)
		return nil
	}
	fx, stats, err := synth.Load(ctx, pool, synth.Options{Persons: persons, Seed: 1})
	if err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}
	log.Info("demo data loaded", "persons", stats.Persons, "households", stats.Households, "s", stats.Elapsed.Seconds())
	return demo.WriteJSON(fixturesPath, fx)
}

// feedDemo puts part of the demo's data in through the feeds, as the
// sources would (demo.Feed), once the gateway serves: the first time, and
// again whenever .local/fed.json is missing (the same records again are
// stale and change nothing).
func feedDemo(ctx context.Context, pool *pgxpool.Pool, base string, clients []demo.Client, path string, log *slog.Logger) {
	if _, err := os.Stat(path); err == nil {
		return
	}
	start := time.Now()
	fed, err := demo.Feed(ctx, base, clients, 300, 1)
	if err != nil {
		log.Error("demo feeds", "err", err)
		return
	}
	if err := demo.WriteJSON(path, fed); err != nil {
		log.Error("demo feeds", "err", err)
		return
	}
	var batches int64
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM feed_batch`).Scan(&batches)
	log.Info("demo data fed through the feeds", "records", fed.Records, "persons", len(fed.Codes), "batches", batches,
		"codes", path, "s", time.Since(start).Round(100*time.Millisecond).Seconds())
}
