package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
)

// ErrInvalidClient is wrapped by every refusal of a client's credentials.
var ErrInvalidClient = errors.New("invalid client")

// secretCost is bcrypt's work factor for client secrets: secrets are 256-bit
// random, so the hash guards a leaked table, not weak passwords; 10 keeps a
// token request near 50 ms.
const secretCost = 10

// NewClientSecret returns 32 random bytes, base64url.
func NewClientSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret hashes a client secret for storage.
func HashSecret(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), secretCost)
	if err != nil {
		return "", fmt.Errorf("hash secret: %w", err)
	}
	return string(h), nil
}

// CheckSecret compares a secret with its hash in constant time.
func CheckSecret(hash, secret string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}

// AssertionCheck is what a client assertion (RFC 7523 §3) must match.
type AssertionCheck struct {
	ClientID    string
	TokenURL    string // the expected audience
	Keys        jose.JSONWebKeySet
	Now         func() time.Time
	MaxLifetime time.Duration // 5 minutes when zero
}

type assertionClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   int64           `json:"exp"`
	IssuedAt int64           `json:"iat"`
	ID       string          `json:"jti"`
}

// AssertionSubject reads the client id an assertion claims to come from,
// without verifying it: only to find which client's keys verify it.
func AssertionSubject(raw string) (string, error) {
	jws, err := jose.ParseSigned(raw, Algorithms)
	if err != nil {
		return "", fmt.Errorf("%w: malformed assertion", ErrInvalidClient)
	}
	var c assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil || c.Subject == "" {
		return "", fmt.Errorf("%w: malformed assertion", ErrInvalidClient)
	}
	return c.Subject, nil
}

// VerifyClientAssertion checks a private_key_jwt assertion and returns its jti
// and expiry, which the caller records to refuse a replay.
func VerifyClientAssertion(raw string, chk AssertionCheck) (jti string, exp time.Time, err error) {
	bad := func(reason string) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("%w: %s", ErrInvalidClient, reason)
	}
	now := time.Now()
	if chk.Now != nil {
		now = chk.Now()
	}
	if chk.MaxLifetime == 0 {
		chk.MaxLifetime = 5 * time.Minute
	}
	jws, err := jose.ParseSigned(raw, Algorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return bad("malformed assertion")
	}
	var payload []byte
	verified := false
	kid := jws.Signatures[0].Protected.KeyID
	for _, k := range chk.Keys.Keys {
		if kid != "" && k.KeyID != "" && k.KeyID != kid {
			continue
		}
		if p, err := jws.Verify(k.Key); err == nil {
			payload, verified = p, true
			break
		}
	}
	if !verified {
		return bad("bad signature")
	}
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return bad("malformed claims")
	}
	var aud []string
	if err := json.Unmarshal(c.Audience, &aud); err != nil {
		var one string
		if json.Unmarshal(c.Audience, &one) != nil {
			return bad("malformed audience")
		}
		aud = []string{one}
	}
	audOK := false
	for _, a := range aud {
		if strings.TrimSuffix(a, "/") == strings.TrimSuffix(chk.TokenURL, "/") {
			audOK = true
		}
	}
	expiry := time.Unix(c.Expiry, 0)
	start := now
	if c.IssuedAt > 0 {
		start = time.Unix(c.IssuedAt, 0)
	}
	switch {
	case c.Issuer != chk.ClientID || c.Subject != chk.ClientID:
		return bad("iss and sub must be the client id")
	case !audOK:
		return bad("wrong audience")
	case c.Expiry == 0 || !now.Before(expiry):
		return bad("expired")
	case expiry.Sub(start) > chk.MaxLifetime || expiry.Sub(now) > chk.MaxLifetime:
		return bad("lifetime too long")
	case c.ID == "":
		return bad("no jti")
	}
	return c.ID, expiry, nil
}
