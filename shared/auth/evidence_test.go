package auth

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestTrackingEvidence(t *testing.T) {
	t.Parallel()
	const client, audience = "gepi-operatori", "rdc-interop"
	key, ec, other := testKey(t, "rsa-a"), testKey(t, "ec-a"), testKey(t, "rsa-other")
	keys := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: key.Key.Public(), KeyID: key.ID, Algorithm: "RS256", Use: "sig"},
		{Key: ec.Key.Public(), KeyID: ec.ID},
	}}
	now := t0
	claims := func(kv ...any) map[string]any {
		base := map[string]any{"iss": client, "aud": audience, "jti": "e1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"userID": "OPR0001", "userLocation": "ATS-Milano", "LoA": "LoA3", "userRole": "CASE_MANAGER"}
		return with(base, kv...)
	}
	mk := func(k *SigningKey, kid string, c map[string]any) string {
		return rawToken(t, k.Key, jose.SignatureAlgorithm(k.Algorithm), map[string]any{"kid": kid, "typ": "JWT"}, c)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Key.Public())
	chk := EvidenceCheck{ClientID: client, Audience: audience, Keys: keys, Now: func() time.Time { return now }}

	tests := []struct {
		name   string
		raw    string
		reason string
	}{
		{"valid", mk(key, key.ID, claims()), ""},
		{"valid ES256", mk(ec, ec.ID, claims()), ""},
		{"valid without kid", mk(key, "", claims()), ""},
		{"audience in a list", mk(key, key.ID, claims("aud", []string{"x", audience})), ""},

		{"another client's", mk(key, key.ID, claims("iss", "gepi")), "iss must be"},
		{"no iss", mk(key, key.ID, claims("iss", nil)), "iss must be"},
		{"wrong audience", mk(key, key.ID, claims("aud", "someone-else")), "wrong audience"},
		{"expired", mk(key, key.ID, claims("exp", now.Add(-time.Second).Unix())), "expired"},
		{"no exp", mk(key, key.ID, claims("exp", nil)), "no exp"},
		{"lifetime too long", mk(key, key.ID, claims("exp", now.Add(time.Hour).Unix())), "lifetime too long"},
		{"issued in the future", mk(key, key.ID, claims("iat", now.Add(time.Minute).Unix())), "issued in the future"},
		{"not yet valid", mk(key, key.ID, claims("nbf", now.Add(time.Minute).Unix())), "not yet valid"},
		{"no userID", mk(key, key.ID, claims("userID", nil)), "no userID"},
		{"NUL in userID", mk(key, key.ID, claims("userID", "OPR\x000001")), "not printable"},
		{"newline in userLocation", mk(key, key.ID, claims("userLocation", "a\nb")), "not printable"},
		{"huge role", mk(key, key.ID, claims("userRole", strings.Repeat("R", 300))), "too long"},
		{"signed by another key", mk(other, key.ID, claims()), "bad signature"},
		{"unregistered key", mk(other, other.ID, claims()), "bad signature"},
		{"HS256 keyed with the public key", rawToken(t, pubDER, jose.HS256, map[string]any{"kid": key.ID}, claims()), "disallowed algorithm"},
		{"alg none", "eyJhbGciOiJub25lIn0." + strings.Split(mk(key, key.ID, claims()), ".")[1] + ".", "disallowed algorithm"},
		{"garbage", "x.y.z", "malformed"},
		{"huge", strings.Repeat("a", maxTokenLen+1), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := VerifyEvidence(tt.raw, chk)
			if tt.reason == "" {
				if err != nil || ev.UserID != "OPR0001" || ev.UserRole != "CASE_MANAGER" || ev.UserLocation != "ATS-Milano" || ev.LoA != "LoA3" ||
					!ev.Expiry.Equal(now.Add(5*time.Minute)) {
					t.Fatalf("%+v, %v", ev, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidEvidence) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want ErrInvalidEvidence: %s", err, tt.reason)
			}
			if ev.UserID != "" {
				t.Fatal("a refused evidence named an operator")
			}
		})
	}
	if _, err := VerifyEvidence(mk(key, key.ID, claims()), EvidenceCheck{Audience: audience, Keys: keys}); !errors.Is(err, ErrInvalidEvidence) {
		t.Fatalf("a check without client id: %v", err)
	}
}

// FuzzEvidence: whatever the header holds, VerifyEvidence refuses it with
// ErrInvalidEvidence or names an operator; never a panic.
func FuzzEvidence(f *testing.F) {
	key := testKey(f, "rsa-a")
	keys := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Key.Public(), KeyID: key.ID, Algorithm: "RS256"}}}
	now := t0
	valid := rawToken(f, key.Key, jose.RS256, map[string]any{"kid": key.ID}, map[string]any{"iss": "c", "aud": "a",
		"exp": now.Add(time.Minute).Unix(), "userID": "u", "userRole": "CASE_MANAGER"})
	f.Add(valid)
	f.Add("x.y.z")
	f.Add("")
	chk := EvidenceCheck{ClientID: "c", Audience: "a", Keys: keys, Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, raw string) {
		ev, err := VerifyEvidence(raw, chk)
		if err != nil && !errors.Is(err, ErrInvalidEvidence) {
			t.Fatalf("unwrapped error %v", err)
		}
		if err == nil && ev.UserID == "" {
			t.Fatal("accepted without a user")
		}
	})
}
