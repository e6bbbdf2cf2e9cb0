package auth

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
)

func TestSecrets(t *testing.T) {
	t.Parallel() // bcrypt is slow, more so under -race
	s := NewClientSecret()
	if len(s) != 43 || s == NewClientSecret() || strings.ContainsAny(s, "+/=") {
		t.Fatalf("secret %q", s)
	}
	h, err := HashSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost != 10 {
		t.Fatalf("cost %d", cost)
	}
	h2, _ := HashSecret(s)
	if h == h2 {
		t.Fatal("hashes are not salted")
	}
	for name, ok := range map[string]bool{
		"right":        CheckSecret(h, s),
		"wrong":        !CheckSecret(h, s+"x"),
		"empty":        !CheckSecret(h, ""),
		"not a hash":   !CheckSecret("plain", s),
		"plain stored": !CheckSecret(s, s),
	} {
		if !ok {
			t.Errorf("%s", name)
		}
	}
	if strings.Contains(h, s) {
		t.Fatal("the hash holds the secret")
	}
}

func TestClientAssertion(t *testing.T) {
	t.Parallel()
	const (
		tokenURL = "https://issuer.test/function/oauth-token/token"
		client   = "pdnd-client-1"
	)
	key, ec, other := testKey(t, "rsa-a"), testKey(t, "ec-a"), testKey(t, "rsa-other")
	keys := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: key.Key.Public(), KeyID: key.ID, Algorithm: "RS256", Use: "sig"},
		{Key: ec.Key.Public(), KeyID: ec.ID},
	}}
	now := t0
	claims := func(kv ...any) map[string]any {
		base := map[string]any{"iss": client, "sub": client, "aud": tokenURL, "jti": "j1",
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
		return with(base, kv...)
	}
	mk := func(k *SigningKey, kid string, c map[string]any) string {
		return rawToken(t, k.Key, jose.SignatureAlgorithm(k.Algorithm), map[string]any{"kid": kid, "typ": "JWT"}, c)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Key.Public())
	chk := AssertionCheck{ClientID: client, TokenURL: tokenURL, Issuer: testIssuer, Keys: keys, Now: func() time.Time { return now }}

	tests := []struct {
		name   string
		raw    string
		reason string
	}{
		{"valid", mk(key, key.ID, claims()), ""},
		{"valid ES256", mk(ec, ec.ID, claims()), ""},
		{"valid without kid", mk(key, "", claims()), ""},
		{"aud is the issuer", mk(key, key.ID, claims("aud", testIssuer)), ""},
		{"aud list, trailing slash", mk(key, key.ID, claims("aud", []string{"x", tokenURL + "/"})), ""},
		{"no iat", mk(key, key.ID, claims("iat", nil)), ""},
		{"iat slightly ahead", mk(key, key.ID, claims("iat", now.Add(20*time.Second).Unix())), ""},

		{"wrong audience", mk(key, key.ID, claims("aud", "https://other.example/token")), "wrong audience"},
		{"no audience", mk(key, key.ID, claims("aud", nil)), "wrong audience"},
		{"expired", mk(key, key.ID, claims("exp", now.Add(-time.Second).Unix())), "expired"},
		{"no exp", mk(key, key.ID, claims("exp", nil)), "no exp"},
		{"lifetime too long", mk(key, key.ID, claims("exp", now.Add(time.Hour).Unix())), "lifetime too long"},
		{"long without iat", mk(key, key.ID, claims("iat", nil, "exp", now.Add(10*time.Minute).Unix())), "lifetime too long"},
		{"issued in the future", mk(key, key.ID, claims("iat", now.Add(time.Minute).Unix(), "exp", now.Add(2*time.Minute).Unix())), "issued in the future"},
		{"not yet valid", mk(key, key.ID, claims("nbf", now.Add(time.Minute).Unix())), "not yet valid"},
		{"iss is not sub", mk(key, key.ID, claims("iss", "someone")), "iss and sub"},
		{"another client", mk(key, key.ID, claims("iss", "other", "sub", "other")), "iss and sub"},
		{"no jti", mk(key, key.ID, claims("jti", nil)), "no jti"},
		{"huge jti", mk(key, key.ID, claims("jti", strings.Repeat("j", 300))), "jti too long"},
		{"wrong signer", mk(other, key.ID, claims()), "bad signature"},
		{"unregistered key", mk(other, other.ID, claims()), "bad signature"},
		{"PS256 with an RS256 key", rawToken(t, key.Key, jose.PS256, map[string]any{"kid": key.ID}, claims()), "bad signature"},
		{"HS256 keyed with the public key", rawToken(t, pubDER, jose.HS256, map[string]any{"kid": key.ID}, claims()), "disallowed algorithm"},
		{"alg none", "eyJhbGciOiJub25lIn0." + strings.Split(mk(key, key.ID, claims()), ".")[1] + ".", "disallowed algorithm"},
		{"garbage", "x.y.z", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jti, exp, err := VerifyClientAssertion(tt.raw, chk)
			if tt.reason == "" {
				if err != nil || jti != "j1" || exp.IsZero() {
					t.Fatalf("jti %q, exp %v, err %v", jti, exp, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidClient) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want ErrInvalidClient: %s", err, tt.reason)
			}
			if jti != "" {
				t.Fatal("a refused assertion returned its jti")
			}
		})
	}

	jti, exp, err := VerifyClientAssertion(mk(key, key.ID, claims()), chk)
	if err != nil || jti != "j1" || !exp.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("jti %q exp %v err %v", jti, exp, err)
	}
	if _, _, err := VerifyClientAssertion(mk(key, key.ID, claims()), AssertionCheck{TokenURL: tokenURL, Keys: keys}); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("a check without client id: %v", err)
	}
	if sub, err := AssertionSubject(mk(other, "", claims())); err != nil || sub != client {
		t.Fatalf("AssertionSubject = %q, %v", sub, err)
	}
	if _, err := AssertionSubject("x.y.z"); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("AssertionSubject(garbage) = %v", err)
	}
}
