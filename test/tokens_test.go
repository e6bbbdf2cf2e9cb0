package test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/auth"
)

// forge signs a token with the issuer's own key (or another ring), to test
// the claims checks a real issuer would never get wrong.
func forge(t *testing.T, ring *auth.KeyRing, mutate func(*auth.Claims)) string {
	t.Helper()
	if ring == nil {
		pem, err := os.ReadFile(filepath.Join(h.SecretsDir, "oauth-signing-keys"))
		if err != nil {
			t.Fatal(err)
		}
		if ring, err = auth.ParseKeyRing(pem); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	c := auth.Claims{
		Issuer: h.Issuer, Subject: "gepi", ClientID: "gepi", Audience: []string{"rdc-interop"},
		IssuedAt: now, Expiry: now.Add(5 * time.Minute), ID: uuid.NewString(),
		Scope: "rdc:did:read rdc:patto:read rdc:transfer:cpi", Org: "GEPI",
	}
	if mutate != nil {
		mutate(&c)
	}
	tok, err := ring.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func otherRing(t *testing.T) *auth.KeyRing {
	t.Helper()
	k, err := auth.GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewKeyRing(k)
}

// tokenCases are the token failures every protected route must refuse with 401.
func tokenCases(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"no token": "",
		"garbage":  "not.a.jwt",
		"expired": forge(t, nil, func(c *auth.Claims) {
			c.IssuedAt = time.Now().Add(-2 * time.Hour)
			c.Expiry = time.Now().Add(-time.Hour)
		}),
		"wrong issuer":   forge(t, nil, func(c *auth.Claims) { c.Issuer = "https://evil.example" }),
		"wrong audience": forge(t, nil, func(c *auth.Claims) { c.Audience = []string{"someone-else"} }),
		"unknown key":    forge(t, otherRing(t), nil),
	}
}
