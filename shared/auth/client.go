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
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"
)

// ErrInvalidClient is wrapped by every refusal of a client's credentials: the
// token endpoint answers 401 invalid_client, whatever the reason, so as not
// to tell an attacker which part was wrong (the reason is for the log).
var ErrInvalidClient = errors.New("invalid client")

// secretCost is bcrypt's work factor for client secrets. The secrets are
// 256-bit random, so the hash guards a leaked table, not guessable
// passwords; cost 10 keeps a token request near 50 ms of CPU.
const secretCost = 10

// assertionLeeway is the clock skew tolerated between a client and us for
// iat, nbf and the lifetime cap. exp gets none: an expired assertion is
// refused, which is what lets the caller forget a jti after its exp.
const assertionLeeway = 30 * time.Second

// maxJTILen bounds the jti the caller will store for replay detection.
const maxJTILen = 256

// NewClientSecret returns a new secret: 32 random bytes, base64url, so it
// needs no escaping in Basic auth or a form.
func NewClientSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it aborts the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret hashes a client secret for storage, salted, with bcrypt.
func HashSecret(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), secretCost)
	if err != nil {
		return "", fmt.Errorf("hash client secret: %w", err)
	}
	return string(h), nil
}

// CheckSecret reports whether secret matches hash. bcrypt compares in
// constant time; to hide which client ids exist, call it with a dummy hash
// when the client is unknown, so both paths cost the same.
func CheckSecret(hash, secret string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}

// AssertionCheck is what a private_key_jwt client assertion (RFC 7523 §3,
// as PDND vouchers use it) must match.
type AssertionCheck struct {
	ClientID    string             // iss and sub must both be this
	TokenURL    string             // the expected aud
	Issuer      string             // also accepted as aud (RFC 7523 §3 allows the issuer identifier); optional
	Keys        jose.JSONWebKeySet // the client's registered public keys
	Now         func() time.Time   // time.Now when nil
	MaxLifetime time.Duration      // longest accepted exp - iat; 5 minutes when zero
}

// AssertionSubject reads the client id an assertion claims to come from,
// without verifying it: only to find whose keys must verify it.
func AssertionSubject(raw string) (string, error) {
	if len(raw) > maxTokenLen {
		return "", fmt.Errorf("%w: client assertion: malformed", ErrInvalidClient)
	}
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		return "", fmt.Errorf("%w: client assertion: malformed or disallowed algorithm", ErrInvalidClient)
	}
	var c jwt.Claims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil || c.Subject == "" {
		return "", fmt.Errorf("%w: client assertion: no subject", ErrInvalidClient)
	}
	return c.Subject, nil
}

// VerifyClientAssertion checks a private_key_jwt assertion and returns its
// jti and expiry. It cannot detect a replay by itself: the caller must record
// the jti until exp and refuse one seen before.
func VerifyClientAssertion(raw string, chk AssertionCheck) (jti string, exp time.Time, err error) {
	bad := func(reason string) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("%w: client assertion: %s", ErrInvalidClient, reason)
	}
	if chk.ClientID == "" || (chk.TokenURL == "" && chk.Issuer == "") {
		return bad("the check has no client id or audience")
	}
	now := time.Now()
	if chk.Now != nil {
		now = chk.Now()
	}
	if chk.MaxLifetime <= 0 {
		chk.MaxLifetime = 5 * time.Minute
	}
	if len(raw) > maxTokenLen {
		return bad("malformed")
	}
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		if alg, ok := headerAlg(raw); ok && !isAllowedAlg(alg) {
			return bad("disallowed algorithm")
		}
		return bad("malformed")
	}
	if len(jws.Signatures) != 1 {
		return bad("malformed")
	}
	h := jws.Signatures[0].Protected
	var payload []byte
	for i := range chk.Keys.Keys {
		k := &chk.Keys.Keys[i]
		// With a kid, only that key (or keys registered without one) may
		// verify; without, any of the client's keys.
		if h.KeyID != "" && k.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if !usableKey(k, h.Algorithm) {
			continue
		}
		if p, err := jws.Verify(k.Key); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return bad("bad signature or unknown key")
	}
	var c jwt.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return bad("malformed claims")
	}
	expiry := c.Expiry.Time()
	start := now
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time()
	}
	switch {
	case c.Issuer != chk.ClientID || c.Subject != chk.ClientID:
		return bad("iss and sub must both be the client id")
	case !assertionAudienceOK(c.Audience, chk):
		return bad("wrong audience")
	case c.Expiry == nil:
		return bad("no exp")
	case !now.Before(expiry):
		return bad("expired")
	case c.IssuedAt != nil && start.After(now.Add(assertionLeeway)):
		return bad("issued in the future")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(assertionLeeway)):
		return bad("not yet valid")
	case expiry.Sub(start) > chk.MaxLifetime || expiry.Sub(now) > chk.MaxLifetime+assertionLeeway:
		return bad("lifetime too long")
	case c.ID == "":
		return bad("no jti")
	case len(c.ID) > maxJTILen:
		return bad("jti too long")
	}
	return c.ID, expiry.UTC(), nil
}

// assertionAudienceOK ignores a trailing slash, which clients add or drop
// when they copy the token endpoint's URL.
func assertionAudienceOK(aud jwt.Audience, chk AssertionCheck) bool {
	norm := func(s string) string { return strings.TrimSuffix(s, "/") }
	for _, a := range aud {
		if a == "" {
			continue
		}
		if (chk.TokenURL != "" && norm(a) == norm(chk.TokenURL)) || (chk.Issuer != "" && norm(a) == norm(chk.Issuer)) {
			return true
		}
	}
	return false
}
