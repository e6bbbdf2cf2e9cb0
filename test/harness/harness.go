// Package harness starts the function set for black-box tests and benchmarks:
// a fresh database with synthetic data, demo clients and secrets, and the real
// local gateway on a free port, with PostgreSQL and Redis reached through
// proxies a test can cut. Tests then talk HTTP only.
package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/infra/devstack"
	"github.com/rdc-interop/faas/infra/gateway"
	"github.com/rdc-interop/faas/infra/registry"
	"github.com/rdc-interop/faas/infra/stackfile"
	"github.com/rdc-interop/faas/infra/synth"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/logging"
)

// Options of a harness.
type Options struct {
	Persons int   // synthetic persons to load (default 10,000)
	Seed    int64 // data set seed (default 1)
	// Settings are laid over the harness's own (config.Load's names):
	// partners' URLs, retry timings, export slots.
	Settings map[string]string
	// Direct connects the functions to PostgreSQL, Redis and MinIO without
	// the proxies a test cuts: a benchmark cuts nothing, and the proxies'
	// copying, which no deployment has, would be measured with the rest.
	Direct bool
}

// Harness is a running function set.
type Harness struct {
	BaseURL  string // http://127.0.0.1:port
	Issuer   string
	Fixtures synth.Fixtures
	// Fed are the demo's households put in through the feeds (demo.Feed).
	Fed        demo.Fed
	Clients    map[string]demo.Client
	DB         *pgxpool.Pool // direct access, for checks the API cannot make
	DBURL      string
	Postgres   *Proxy // nil with Options.Direct
	Redis      *Proxy // nil with Options.Direct or without Redis
	MinIO      *Proxy // nil with Options.Direct or without MinIO
	SecretsDir string
	Gateway    *gateway.Gateway
	// Config is what the functions were configured with.
	Config config.Config

	// Mail is the SMTP server the functions send their e-mails to.
	Mail *MailServer

	stop func()
}

// Start brings the function set up. Call Close when done.
func Start(ctx context.Context, o Options) (*Harness, error) {
	if o.Persons == 0 {
		o.Persons = 10000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	admin, template := os.Getenv("RDC_TEST_ADMIN_URL"), os.Getenv("RDC_TEST_TEMPLATE")
	if admin == "" || template == "" {
		return nil, errors.New("no test services: run through `make test` or `make bench`")
	}
	h := &Harness{Clients: map[string]demo.Client{}}
	var cleanups []func()
	h.stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	fail := func(err error) (*Harness, error) { h.stop(); return nil, err }

	name := "rdc_bb_" + devstack.RunID()
	dbURL, err := devstack.CreateDatabase(ctx, admin, name, template)
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() {
		// Best effort, as the other cleanups: the services go with the run.
		_ = devstack.DropDatabase(context.Background(), admin, name)
	})
	// The tests' own queries count days as the functions do: in Rome.
	h.DB, err = db.Open(dbURL, 8)
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, h.DB.Close)
	if h.Fixtures, _, err = synth.Load(ctx, h.DB, synth.Options{Persons: o.Persons, Seed: o.Seed}); err != nil {
		return fail(fmt.Errorf("load synthetic data: %w", err))
	}

	// PostgreSQL and Redis (and MinIO, below) through proxies the tests can cut.
	h.DBURL = dbURL
	redisURL, s3 := os.Getenv("REDIS_URL"), os.Getenv("S3_ENDPOINT")
	u, _ := url.Parse(dbURL)
	if !o.Direct {
		if h.Postgres, err = NewProxy(u.Host); err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, h.Postgres.Close)
		u.Host = h.Postgres.Addr()
		h.DBURL = u.String()
	}
	if redisURL != "" && !o.Direct {
		ru, err := url.Parse(redisURL)
		if err != nil {
			return fail(err)
		}
		if h.Redis, err = NewProxy(ru.Host); err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, h.Redis.Close)
		ru.Host = h.Redis.Addr()
		redisURL = ru.String()
	}

	if s3 != "" && !o.Direct {
		if h.MinIO, err = NewProxy(s3); err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, h.MinIO.Close)
		s3 = h.MinIO.Addr()
	}

	if h.SecretsDir, err = os.MkdirTemp("", "rdc-secrets-"); err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { os.RemoveAll(h.SecretsDir) })
	if err := demo.EnsureSecrets(h.SecretsDir); err != nil {
		return fail(err)
	}
	clients, err := demo.Provision(ctx, h.DB, demo.Clients())
	if err != nil {
		return fail(err)
	}
	for _, c := range clients {
		h.Clients[c.ClientID] = c
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	h.BaseURL = "http://" + ln.Addr().String()
	h.Issuer = h.BaseURL + "/function/oauth-token"
	// The functions act as the application's role, as deployed (migration
	// 027): the tests then show they need no more than it has.
	fnURL, asApp, err := devstack.FunctionsURL(ctx, h.DBURL)
	if err != nil {
		return fail(err)
	}
	if !asApp {
		return fail(fmt.Errorf("the test database's login may not act as %s", devstack.AppRole))
	}
	env := map[string]string{
		"DATABASE_URL": fnURL, "REDIS_URL": redisURL, "S3_ENDPOINT": s3, "SECRETS_DIR": h.SecretsDir,
		"OAUTH_ISSUER": h.Issuer, "OAUTH_AUDIENCE": "rdc-interop", "OAUTH_JWKS_URL": "",
		"OAUTH_KEYS_RELOAD": "1s",
		// The local gateway appends the caller's address to X-Forwarded-For.
		"TRUSTED_PROXY_HOPS": "1",
		// Tests call fast and from one address: the limits they test are
		// set per client in its registration; the failed-login ones are
		// the deployment's defaults.
		"RATE_LIMIT_CLIENT": "100000/s:200000", "RATE_LIMIT_ADDRESS": "100000/s:200000",
		// Failed logins: the deployment's budgets, but per hour, so that a
		// slow machine (the race detector slows bcrypt tenfold) refills
		// nothing while a test spends them.
		"RATE_LIMIT_LOGIN_CLIENT": "10/h:10", "RATE_LIMIT_LOGIN_ADDRESS": "60/h:60",
		"LOG_LEVEL": envOr("LOG_LEVEL", "warn"),
	}
	if h.Mail, err = StartMailServer(); err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, h.Mail.Close)
	maps.Copy(env, h.Mail.Env())
	maps.Copy(env, o.Settings)
	getenv := config.Overlay(env)
	if h.Config, err = config.Load(getenv, config.SecretsIn(h.SecretsDir, getenv)); err != nil {
		return fail(fmt.Errorf("configure the functions: %w", err))
	}
	deps.Use(h.Config)
	cleanups = append(cleanups, deps.Reset)

	stack, err := stackfile.Read(filepath.Join(repoRoot(), "stack.yml"))
	if err != nil {
		return fail(err)
	}
	fns, err := gateway.FromStack(stack, registry.Handlers())
	if err != nil {
		return fail(err)
	}
	log := logging.New(os.Stderr, env["LOG_LEVEL"])
	slog.SetDefault(log)
	h.Gateway = gateway.New(fns, log)
	gctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		// Its error can only come after the tests, at the cleanup's
		// cancel; a gateway that stops early fails them on its own.
		_ = h.Gateway.Serve(gctx, ln, 5*time.Second)
		close(done)
	}()
	cleanups = append(cleanups, func() { cancel(); <-done })
	// Part of the data comes in through the feeds, as in make up.
	if h.Fed, err = demo.Feed(ctx, h.BaseURL, clients, 50, 1); err != nil {
		return fail(err)
	}
	return h, nil
}

// Close stops everything Start started.
func (h *Harness) Close() { h.stop() }

// URL is the address of a function's path.
func (h *Harness) URL(function, path string) string {
	return h.BaseURL + "/function/" + function + path
}

// TokenSource returns the client-credentials configuration of a demo client.
func (h *Harness) TokenSource(clientID string, scopes ...string) *clientcredentials.Config {
	c := h.Clients[clientID]
	return &clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: h.Issuer, Scopes: scopes}
}

// Token gets an access token for a demo client.
func (h *Harness) Token(ctx context.Context, clientID string, scopes ...string) (string, error) {
	tok, err := h.TokenSource(clientID, scopes...).Token(ctx)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// repoRoot finds the checkout's root (where stack.yml is) from the test's folder.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "stack.yml")); err == nil {
			return d
		}
	}
	return dir
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Evidence is a tracking evidence of client's operator op (the client must
// be one registered with Tracking), as its platform would send it.
func (h *Harness) Evidence(client string, op demo.Operator) (string, error) {
	c, ok := h.Clients[client]
	if !ok {
		return "", fmt.Errorf("no client %s", client)
	}
	return demo.Evidence(c, h.Config.OAuthAudience, op)
}
