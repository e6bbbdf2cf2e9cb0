// Package config reads a function's settings once, into a typed struct.
//
// Plain settings come from the environment (stack.yml `environment`); secrets
// come from /var/openfaas/secrets/<name> (OpenFaaS), else .secrets/<name> (as
// `faas-cli local-run` mounts them), else the environment. A bad value fails
// loudly at start-up with the name of the setting, never its value.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rdc-interop/faas/shared/ratelimit"
)

// Config is what every function needs from its surroundings.
type Config struct {
	DatabaseURL string `json:"-"` // may hold a password: a secret
	RedisURL    string `json:"-"`
	// RedisPrefix namespaces every key, so test runs and deployments sharing a
	// Redis never see each other's keys.
	RedisPrefix string

	S3Endpoint     string
	S3AccessKey    string `json:"-"`
	S3SecretKey    string `json:"-"`
	S3UseSSL       bool
	S3BucketPrefix string

	// Token verification: the issuer and audience expected in access tokens and
	// where the issuer publishes its keys. Any RFC 9068 issuer can be configured.
	OAuthIssuer   string
	OAuthAudience string
	OAuthJWKSURL  string

	// DBMaxConns bounds each process's connections to PostgreSQL.
	DBMaxConns int32
	// AuditBatch is the largest number of audit records written in one commit.
	AuditBatch int

	// TrustedProxyHops is how many proxies in front of the function write
	// X-Forwarded-For and can be trusted to (see web.ClientIP).
	TrustedProxyHops int
	// Rate limits (ratelimit.Parse form): per client and function unless its
	// registration says otherwise; per source address and function for
	// calls without a token; failed logins at the token endpoint per client
	// id and per source address.
	RateLimitClient       ratelimit.Limit
	RateLimitAddress      ratelimit.Limit
	RateLimitLoginClient  ratelimit.Limit
	RateLimitLoginAddress ratelimit.Limit

	Secrets Secrets `json:"-"`
}

// Getenv reads one environment variable; os.Getenv in production, a map in tests.
type Getenv func(string) string

// Load parses the configuration from getenv and secrets.
func Load(getenv Getenv, secrets Secrets) (Config, error) {
	var errs []error
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	secret := func(name, env string) string {
		v, err := secrets.Get(name, env)
		if err != nil && !errors.Is(err, ErrNoSecret) {
			errs = append(errs, err)
		}
		return v
	}
	c := Config{
		DatabaseURL:    secret("database-url", "DATABASE_URL"),
		RedisURL:       secret("redis-url", "REDIS_URL"),
		RedisPrefix:    get("REDIS_PREFIX", "rdc:"),
		S3Endpoint:     get("S3_ENDPOINT", ""),
		S3AccessKey:    secret("s3-access-key", "S3_ACCESS_KEY"),
		S3SecretKey:    secret("s3-secret-key", "S3_SECRET_KEY"),
		S3BucketPrefix: get("S3_BUCKET_PREFIX", "rdc-"),
		OAuthIssuer:    get("OAUTH_ISSUER", "http://127.0.0.1:8080/function/oauth-token"),
		OAuthAudience:  get("OAUTH_AUDIENCE", "rdc-interop"),
		Secrets:        secrets,
	}
	c.OAuthJWKSURL = get("OAUTH_JWKS_URL", strings.TrimSuffix(c.OAuthIssuer, "/")+"/jwks")
	var err error
	if c.S3UseSSL, err = parseBool(get("S3_USE_SSL", "false")); err != nil {
		errs = append(errs, fmt.Errorf("S3_USE_SSL: %w", err))
	}
	maxConns, err := strconv.Atoi(get("DB_MAX_CONNS", "16"))
	if err != nil || maxConns < 1 {
		errs = append(errs, errors.New("DB_MAX_CONNS: want a positive integer"))
	}
	c.DBMaxConns = int32(maxConns)
	if c.AuditBatch, err = strconv.Atoi(get("AUDIT_BATCH", "256")); err != nil || c.AuditBatch < 1 {
		errs = append(errs, errors.New("AUDIT_BATCH: want a positive integer"))
	}
	if c.TrustedProxyHops, err = strconv.Atoi(get("TRUSTED_PROXY_HOPS", "0")); err != nil || c.TrustedProxyHops < 0 || c.TrustedProxyHops > 10 {
		errs = append(errs, errors.New("TRUSTED_PROXY_HOPS: want a whole number from 0 to 10"))
	}
	for _, l := range []struct {
		name, def string
		into      *ratelimit.Limit
	}{
		{"RATE_LIMIT_CLIENT", "50/s:100", &c.RateLimitClient},
		{"RATE_LIMIT_ADDRESS", "100/s:200", &c.RateLimitAddress},
		{"RATE_LIMIT_LOGIN_CLIENT", "10/m:10", &c.RateLimitLoginClient},
		{"RATE_LIMIT_LOGIN_ADDRESS", "60/m:60", &c.RateLimitLoginAddress},
	} {
		if *l.into, err = ratelimit.Parse(get(l.name, l.def)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
		}
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (or secret database-url) is required"))
	}
	return c, errors.Join(errs...)
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}

// Duration reads a Go duration from getenv, with a default.
func Duration(getenv Getenv, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: want a duration such as 30s", name)
	}
	return d, nil
}

// Count reads a positive whole number from getenv, with a default.
func Count(getenv Getenv, name string, def int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: want a positive whole number", name)
	}
	return n, nil
}

// ErrNoSecret means a secret is set nowhere.
var ErrNoSecret = errors.New("secret not set")

// Secrets finds secrets in the OpenFaaS mount, then the local folder, then the environment.
type Secrets struct {
	Dirs   []string // searched in order
	Getenv Getenv
}

// DefaultSecrets searches /var/openfaas/secrets, then $SECRETS_DIR or ./.secrets.
func DefaultSecrets() Secrets {
	local := os.Getenv("SECRETS_DIR")
	if local == "" {
		local = ".secrets"
	}
	return Secrets{Dirs: []string{"/var/openfaas/secrets", local}, Getenv: os.Getenv}
}

// Get returns the secret called name (a file name), or the environment variable env.
func (s Secrets) Get(name, env string) (string, error) {
	for _, dir := range s.Dirs {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			return strings.TrimSpace(string(b)), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("read secret %s: %w", name, err)
		}
	}
	if env != "" && s.Getenv != nil {
		if v := s.Getenv(env); v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, ErrNoSecret)
}

// File returns the raw bytes of a secret file (keys, PEM bundles), searching the
// same folders; env names a variable holding the same content.
func (s Secrets) File(name, env string) ([]byte, error) {
	for _, dir := range s.Dirs {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read secret %s: %w", name, err)
		}
	}
	if env != "" && s.Getenv != nil {
		if v := s.Getenv(env); v != "" {
			return []byte(v), nil
		}
	}
	return nil, fmt.Errorf("%s: %w", name, ErrNoSecret)
}
