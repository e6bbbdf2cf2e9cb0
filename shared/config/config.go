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

	// LogLevel is debug, info, warn or error.
	LogLevel string

	// AccessTokenTTL is how long an access token lives; OAuthKeysReload how
	// soon a rotated signing key is used (oauth-token).
	AccessTokenTTL  time.Duration
	OAuthKeysReload time.Duration

	// ExportMaxJobs is how many export jobs one replica runs at once.
	ExportMaxJobs int

	// Delivery is how the outbox retries; zero values keep its defaults.
	Delivery Delivery

	// Partners are the platforms the function set notifies, by name
	// (ANPAL, GEPI, INPS): where and how to reach each.
	Partners map[string]Partner

	Secrets Secrets `json:"-"`
}

// Delivery holds the outbox's retry settings (DELIVERY_*).
type Delivery struct {
	MaxAttempts int
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Poll        time.Duration
	Timeout     time.Duration
}

// Partner is one partner platform's notification settings
// (<NAME>_NOTIFY_URL, _REFUSAL_URL, _TOKEN_URL, _CLIENT_ID, _SCOPE, and the
// secret <name>-client-secret). An empty URL leaves that kind of
// notification waiting in the outbox.
type Partner struct {
	NotifyURL    string // transfers
	RefusalURL   string // refusals of offers
	TokenURL     string
	ClientID     string
	Scopes       []string
	ClientSecret string `json:"-"`
}

// PartnerNames are the partners whose settings are read.
var PartnerNames = []string{"ANPAL", "GEPI", "INPS"}

// Getenv reads one environment variable; os.Getenv in production, a map in tests.
type Getenv func(string) string

// FromEnvironment is the configuration of a deployed process: its
// environment (stack.yml) and its secrets (DefaultSecrets). It is the one
// place the process's environment is read.
func FromEnvironment() (Config, error) { return Load(os.Getenv, DefaultSecrets()) }

// Overlay is the process's environment with settings laid over it (a
// setting given as "" is empty, not the environment's): how the local
// gateway and the test harness configure the functions they run in their
// own process, without writing to the environment.
func Overlay(settings map[string]string) Getenv {
	return func(name string) string {
		if v, ok := settings[name]; ok {
			return v
		}
		return os.Getenv(name)
	}
}

// SecretsIn searches the OpenFaaS mount, then dir, then getenv.
func SecretsIn(dir string, getenv Getenv) Secrets {
	return Secrets{Dirs: []string{"/var/openfaas/secrets", dir}, Getenv: getenv}
}

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
	maxConns, err := strconv.ParseInt(get("DB_MAX_CONNS", "16"), 10, 32)
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
	c.LogLevel = get("LOG_LEVEL", "info")
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, errors.New("LOG_LEVEL: want debug, info, warn or error"))
	}
	durations := []struct {
		name string
		def  time.Duration
		into *time.Duration
	}{
		{"ACCESS_TOKEN_TTL", 15 * time.Minute, &c.AccessTokenTTL},
		{"OAUTH_KEYS_RELOAD", 30 * time.Second, &c.OAuthKeysReload},
		{"DELIVERY_BACKOFF_BASE", 0, &c.Delivery.BackoffBase},
		{"DELIVERY_BACKOFF_MAX", 0, &c.Delivery.BackoffMax},
		{"DELIVERY_POLL", 0, &c.Delivery.Poll},
		{"DELIVERY_TIMEOUT", 0, &c.Delivery.Timeout},
	}
	for _, d := range durations {
		if *d.into, err = Duration(getenv, d.name, d.def); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ExportMaxJobs, err = Count(getenv, "EXPORT_MAX_JOBS", 2); err != nil {
		errs = append(errs, err)
	}
	if c.Delivery.MaxAttempts, err = Count(getenv, "DELIVERY_MAX_ATTEMPTS", 12); err != nil {
		errs = append(errs, err)
	}
	c.Partners = map[string]Partner{}
	for _, name := range PartnerNames {
		pt, err := loadPartner(name, get, secrets)
		if err != nil {
			errs = append(errs, err)
		}
		c.Partners[name] = pt
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (or secret database-url) is required"))
	}
	return c, errors.Join(errs...)
}

func loadPartner(name string, get func(string, string) string, secrets Secrets) (Partner, error) {
	pt := Partner{
		NotifyURL: get(name+"_NOTIFY_URL", ""), RefusalURL: get(name+"_REFUSAL_URL", ""),
		TokenURL: get(name+"_TOKEN_URL", ""), ClientID: get(name+"_CLIENT_ID", ""),
		Scopes: strings.Fields(get(name+"_SCOPE", "")),
	}
	if pt.NotifyURL == "" && pt.RefusalURL == "" {
		return pt, nil
	}
	secret, err := secrets.Get(strings.ToLower(name)+"-client-secret", name+"_CLIENT_SECRET")
	if err != nil {
		return pt, fmt.Errorf("%s notifications: %w", name, err)
	}
	pt.ClientSecret = secret
	if pt.TokenURL == "" || pt.ClientID == "" {
		return pt, fmt.Errorf("%s notifications: %s_TOKEN_URL and %s_CLIENT_ID are required with a notification URL", name, name, name)
	}
	return pt, nil
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
		b, err := os.ReadFile(filepath.Join(dir, name)) //nolint:gosec // G304: the secrets' folders, and names the code gives
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
		b, err := os.ReadFile(filepath.Join(dir, name)) //nolint:gosec // G304: the secrets' folders, and names the code gives
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
