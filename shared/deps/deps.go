// Package deps holds the dependencies a function process shares: the PostgreSQL
// pool, Redis, the token verifier, the audit writer and the logger.
//
// They are created once per process, on the first request, and shared by every
// function the process serves (one in OpenFaaS, all of them in the local
// gateway), so connections are pooled per process, not per function. Nothing
// here connects eagerly: a process starts while a dependency is down and
// recovers when it comes back.
package deps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/clients"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/logging"
	"github.com/rdc-interop/faas/shared/ratelimit"
	"github.com/rdc-interop/faas/shared/tracking"
)

// Set is the process's dependencies. (Not "platform": in this domain the
// platforms are GePI, ANPAL and SIISL.)
type Set struct {
	Config   config.Config
	DB       *pgxpool.Pool
	Redis    *redis.Client // nil when no Redis is configured: callers degrade
	Verifier *auth.Verifier
	// Tracking verifies the operators' tracking evidences (ModI AUDIT_REST_02).
	Tracking *tracking.Verifier
	Audit    *audit.Writer
	Subjects audit.Subjects
	Log      *slog.Logger
	// Clients are the client registrations each call is checked against
	// (enabled, addresses, branches, limits); Limits keeps the rate limits.
	Clients *clients.Registry
	Limits  *ratelimit.Limiter

	// Life ends when the Set is closed: background work (cache
	// listeners, delivery workers) runs under it and stops with the clients
	// it uses, instead of failing on them.
	Life context.Context
	end  context.CancelFunc
}

// New builds a Set from cfg without connecting to anything.
func New(cfg config.Config, log *slog.Logger) (*Set, error) {
	pool, err := db.Open(cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	p := &Set{Config: cfg, DB: pool, Log: log}
	p.Life, p.end = context.WithCancel(context.Background())
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			pool.Close()
			return nil, errors.New("parse REDIS_URL: not a valid Redis URL")
		}
		// Redis holds rate-limit budgets and locks here: when it is slow or
		// down, fail fast and fall back (per-process budgets, PostgreSQL)
		// rather than wait.
		opts.DialTimeout = 500 * time.Millisecond
		opts.ReadTimeout = 500 * time.Millisecond
		opts.WriteTimeout = 500 * time.Millisecond
		opts.MaxRetries = 0
		p.Redis = redis.NewClient(opts)
	}
	key, err := cfg.Secrets.Get("audit-subject-key", "AUDIT_SUBJECT_KEY")
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("audit subject key: %w", err)
	}
	p.Subjects = audit.NewSubjects([]byte(key))
	p.Audit = audit.NewWriter(pool, cfg.AuditBatch)
	p.Clients = clients.New(p.Life, pool, log)
	p.Limits = ratelimit.New(p.Redis, cfg.RedisPrefix+"rl:", log)
	p.Tracking = tracking.NewVerifier(cfg.OAuthAudience)
	p.Verifier = auth.NewVerifier(auth.VerifierConfig{
		JWKSURL:  cfg.OAuthJWKSURL,
		Issuer:   cfg.OAuthIssuer,
		Audience: cfg.OAuthAudience,
	})
	return p, nil
}

// RedisKey namespaces a Redis key with the configured prefix.
func (p *Set) RedisKey(parts ...string) string {
	k := p.Config.RedisPrefix
	for i, part := range parts {
		if i > 0 {
			k += ":"
		}
		k += part
	}
	return k
}

// Close releases the clients.
func (p *Set) Close() {
	p.end()
	if p.Audit != nil {
		p.Audit.Close()
	}
	if p.Redis != nil {
		_ = p.Redis.Close()
	}
	p.DB.Close()
}

// Ping checks PostgreSQL, the one dependency every function needs.
func (p *Set) Ping(ctx context.Context) error {
	if err := p.DB.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

var (
	mu       sync.Mutex
	current  *Set
	injected *config.Config
)

// Use makes cfg the configuration of the process's Set from now on, instead
// of the environment: the local gateway and the test harness build it and
// pass it in. It closes the Set in use, if any.
func Use(cfg config.Config) {
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		current.Close()
		current = nil
	}
	injected = &cfg
}

// Get returns the process's Set, creating it on the first call from the
// configuration passed to Use or, in a deployed function, from the
// environment and secrets. A configuration error is returned (and retried
// on the next call), never fatal, so the function can report it as a 503.
func Get() (*Set, error) {
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		return current, nil
	}
	var cfg config.Config
	if injected != nil {
		cfg = *injected
	} else {
		var err error
		if cfg, err = config.FromEnvironment(); err != nil {
			return nil, fmt.Errorf("load configuration: %w", err)
		}
	}
	p, err := New(cfg, logging.New(os.Stderr, cfg.LogLevel))
	if err != nil {
		return nil, err
	}
	current = p
	return p, nil
}

// Reset closes and forgets the process's Set (used by the local gateway on
// shutdown and by tests that change the environment).
func Reset() {
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		current.Close()
		current = nil
	}
}

// DocumentKeys reads the keys that sign what a function hands out (download
// receipts, webhook bodies): the document-signing-keys secret, mounted only
// in the functions that sign them. It is not the access-token key
// (oauth-signing-keys, oauth-token's alone), so none of those functions can
// mint a token; oauth-token publishes the public halves (document-verify-keys)
// marked so that no verifier takes them for access-token keys. They are read
// once: a rotation publishes the new key first, so a restart can wait.
func (p *Set) DocumentKeys() (*auth.DocumentKeys, error) {
	pem, err := p.Config.Secrets.File("document-signing-keys", "DOCUMENT_SIGNING_KEYS")
	if err != nil {
		return nil, fmt.Errorf("document signing keys: %w", err)
	}
	keys, err := auth.ParseDocumentKeys(pem)
	if err != nil {
		return nil, fmt.Errorf("document signing keys: %w", err)
	}
	return keys, nil
}

// TreeHeadKeys reads the key that signs the audit log's tree heads (the
// audit-log-signing-keys secret), a key of its own: neither a token nor a
// receipt key can sign a head, nor this key a token or a receipt.
// oauth-token publishes its public half (audit-log-verify-keys).
func (p *Set) TreeHeadKeys() (*auth.TreeHeadKeys, error) {
	pem, err := p.Config.Secrets.File("audit-log-signing-keys", "AUDIT_LOG_SIGNING_KEYS")
	if err != nil {
		return nil, fmt.Errorf("audit log signing keys: %w", err)
	}
	keys, err := auth.ParseTreeHeadKeys(pem)
	if err != nil {
		return nil, fmt.Errorf("audit log signing keys: %w", err)
	}
	return keys, nil
}
