package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			env:  map[string]string{"DATABASE_URL": "postgres://x/db"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.DBMaxConns != 16 || c.AuditBatch != 256 || c.RedisPrefix != "rdc:" {
					t.Errorf("defaults not applied: %+v", c)
				}
				if c.OAuthJWKSURL != "http://127.0.0.1:8080/function/oauth-token/jwks" {
					t.Errorf("jwks url derived from issuer: got %q", c.OAuthJWKSURL)
				}
			},
		},
		{
			name: "jwks follows issuer",
			env:  map[string]string{"DATABASE_URL": "postgres://x/db", "OAUTH_ISSUER": "https://idp.example/realm/"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				if c.OAuthJWKSURL != "https://idp.example/realm/jwks" {
					t.Errorf("got %q", c.OAuthJWKSURL)
				}
			},
		},
		{name: "database required", env: map[string]string{}, wantErr: "DATABASE_URL"},
		{name: "bad bool", env: map[string]string{"DATABASE_URL": "x", "S3_USE_SSL": "maybe"}, wantErr: "S3_USE_SSL"},
		{name: "bad conns", env: map[string]string{"DATABASE_URL": "x", "DB_MAX_CONNS": "0"}, wantErr: "DB_MAX_CONNS"},
		{name: "bad batch", env: map[string]string{"DATABASE_URL": "x", "AUDIT_BATCH": "lots"}, wantErr: "AUDIT_BATCH"},
		{name: "bad hops", env: map[string]string{"DATABASE_URL": "x", "TRUSTED_PROXY_HOPS": "-1"}, wantErr: "TRUSTED_PROXY_HOPS"},
		{name: "bad limit", env: map[string]string{"DATABASE_URL": "x", "RATE_LIMIT_CLIENT": "fast"}, wantErr: "RATE_LIMIT_CLIENT"},
		{name: "bad log level", env: map[string]string{"DATABASE_URL": "x", "LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
		{name: "bad ttl", env: map[string]string{"DATABASE_URL": "x", "ACCESS_TOKEN_TTL": "soon"}, wantErr: "ACCESS_TOKEN_TTL"},
		{name: "bad delivery", env: map[string]string{"DATABASE_URL": "x", "DELIVERY_MAX_ATTEMPTS": "0"}, wantErr: "DELIVERY_MAX_ATTEMPTS"},
		{name: "bad export jobs", env: map[string]string{"DATABASE_URL": "x", "EXPORT_MAX_JOBS": "two"}, wantErr: "EXPORT_MAX_JOBS"},
		{name: "partner without secret", env: map[string]string{"DATABASE_URL": "x", "ANPAL_NOTIFY_URL": "https://anpal/n", "ANPAL_TOKEN_URL": "https://anpal/t", "ANPAL_CLIENT_ID": "rdc"}, wantErr: "anpal-client-secret"},
		{name: "partner without token url", env: map[string]string{"DATABASE_URL": "x", "INPS_REFUSAL_URL": "https://inps/r", "INPS_CLIENT_SECRET": "s"}, wantErr: "INPS_TOKEN_URL"},
		{
			name: "every setting typed",
			env: map[string]string{"DATABASE_URL": "x", "ANPAL_NOTIFY_URL": "https://anpal/n", "ANPAL_TOKEN_URL": "https://anpal/t",
				"ANPAL_CLIENT_ID": "rdc", "ANPAL_SCOPE": "a b", "ANPAL_CLIENT_SECRET": "s", "DELIVERY_TIMEOUT": "3s", "EXPORT_MAX_JOBS": "4",
				"TRUSTED_PROXY_HOPS": "1", "RATE_LIMIT_CLIENT": "5/m:7", "OAUTH_KEYS_RELOAD": "1s"},
			check: func(t *testing.T, c Config) {
				t.Helper()
				a := c.Partners["ANPAL"]
				if a.NotifyURL != "https://anpal/n" || a.ClientSecret != "s" || len(a.Scopes) != 2 || c.Partners["GEPI"].NotifyURL != "" {
					t.Errorf("partners %+v", c.Partners)
				}
				if c.Delivery.Timeout.Seconds() != 3 || c.Delivery.MaxAttempts != 12 || c.ExportMaxJobs != 4 || c.TrustedProxyHops != 1 ||
					c.RateLimitClient.Burst != 7 || c.OAuthKeysReload.Seconds() != 1 || c.AccessTokenTTL.Minutes() != 15 || c.LogLevel != "info" {
					t.Errorf("settings %+v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(envOf(tt.env), Secrets{Getenv: envOf(tt.env)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error naming %s, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestSecretsOrder(t *testing.T) {
	openfaas, local := t.TempDir(), t.TempDir()
	env := envOf(map[string]string{"S3_SECRET_KEY": "from-env"})
	s := Secrets{Dirs: []string{openfaas, local}, Getenv: env}

	if v, _ := s.Get("s3-secret-key", "S3_SECRET_KEY"); v != "from-env" {
		t.Fatalf("env fallback: got %q", v)
	}
	if err := os.WriteFile(filepath.Join(local, "s3-secret-key"), []byte("from-local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("s3-secret-key", "S3_SECRET_KEY"); v != "from-local" {
		t.Fatalf("local folder before env: got %q", v)
	}
	if err := os.WriteFile(filepath.Join(openfaas, "s3-secret-key"), []byte("from-openfaas"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("s3-secret-key", "S3_SECRET_KEY"); v != "from-openfaas" {
		t.Fatalf("openfaas mount first: got %q", v)
	}
	if _, err := s.Get("missing", "MISSING"); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("missing secret: got %v", err)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	c, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://u:hunter2@h/db", "S3_SECRET_KEY": "s3cr3t"}),
		Secrets{Getenv: envOf(map[string]string{"DATABASE_URL": "postgres://u:hunter2@h/db", "S3_SECRET_KEY": "s3cr3t"})})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "s3cr3t") {
		t.Fatalf("secret in JSON form: %s", b)
	}
}

func TestCount(t *testing.T) {
	cases := []struct {
		v       string
		want    int
		wantErr bool
	}{
		{"", 7, false}, {" 3 ", 3, false}, {"1", 1, false},
		{"0", 0, true}, {"-2", 0, true}, {"two", 0, true}, {"2.5", 0, true},
	}
	for _, c := range cases {
		got, err := Count(func(string) string { return c.v }, "N", 7)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("Count(%q) = %d, %v; want %d, error %v", c.v, got, err, c.want, c.wantErr)
		}
	}
}
