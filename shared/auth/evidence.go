package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ErrInvalidEvidence is wrapped by every refusal of a tracking evidence.
var ErrInvalidEvidence = errors.New("invalid tracking evidence")

// Evidence is what an AgID ModI AUDIT_REST_02 tracking evidence
// (Agid-JWT-TrackingEvidence) says about the person behind a call: the
// partner platform's operator, where they work, how strongly they were
// authenticated, and (this project's claim, seed 002) the role they act in.
type Evidence struct {
	UserID       string    `json:"userID"`
	UserLocation string    `json:"userLocation"`
	LoA          string    `json:"LoA"`
	UserRole     string    `json:"userRole"`
	Expiry       time.Time `json:"-"`
}

// EvidenceCheck is what an evidence must match: it is signed by the calling
// client's registered key and meant for us.
type EvidenceCheck struct {
	ClientID    string             // iss must be this: the client of the access token
	Audience    string             // the expected aud
	Keys        jose.JSONWebKeySet // the client's registered public keys
	Now         func() time.Time   // time.Now when nil
	MaxLifetime time.Duration      // longest accepted exp - iat; 10 minutes when zero
}

// maxEvidenceField bounds each operator field: they are stored with every
// audit record.
const maxEvidenceField = 256

type evidenceClaims struct {
	jwt.Claims
	UserID       string `json:"userID"`
	UserLocation string `json:"userLocation"`
	LoA          string `json:"LoA"`
	UserRole     string `json:"userRole"`
}

// VerifyEvidence checks a tracking evidence against chk. Unlike a client
// assertion it may be presented on many calls until it expires (it names
// a working session, not one request), so there is no jti to remember.
func VerifyEvidence(raw string, chk EvidenceCheck) (Evidence, error) {
	bad := func(reason string) (Evidence, error) {
		return Evidence{}, fmt.Errorf("%w: %s", ErrInvalidEvidence, reason)
	}
	if chk.ClientID == "" || chk.Audience == "" {
		return bad("the check has no client id or audience")
	}
	now := time.Now()
	if chk.Now != nil {
		now = chk.Now()
	}
	if chk.MaxLifetime <= 0 {
		chk.MaxLifetime = 10 * time.Minute
	}
	payload, _, err := VerifyClientJWS(raw, chk.Keys)
	if err != nil {
		return bad(err.Error())
	}
	var c evidenceClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return bad("malformed claims")
	}
	start := now
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time()
	}
	switch {
	case c.Issuer != chk.ClientID:
		return bad("iss must be the calling client's id")
	case !c.Audience.Contains(chk.Audience):
		return bad("wrong audience")
	case c.Expiry == nil:
		return bad("no exp")
	case !now.Before(c.Expiry.Time()):
		return bad("expired")
	case c.IssuedAt != nil && start.After(now.Add(assertionLeeway)):
		return bad("issued in the future")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(assertionLeeway)):
		return bad("not yet valid")
	case c.Expiry.Time().Sub(start) > chk.MaxLifetime || c.Expiry.Time().Sub(now) > chk.MaxLifetime+assertionLeeway:
		return bad("lifetime too long")
	case c.UserID == "":
		return bad("no userID")
	}
	for _, f := range []string{c.UserID, c.UserLocation, c.LoA, c.UserRole} {
		if len(f) > maxEvidenceField || !printable(f) {
			return bad("a claim is too long or not printable")
		}
	}
	return Evidence{UserID: c.UserID, UserLocation: c.UserLocation, LoA: c.LoA, UserRole: c.UserRole, Expiry: c.Expiry.Time().UTC()}, nil
}

// printable refuses control characters (a NUL, a newline) in what the audit
// trail stores.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// VerifyClientJWS checks raw, a compact JWS a client signed (a tracking
// evidence, a ModI Agid-JWT-Signature), with one of keys, the client's
// registered public keys: an allowed algorithm, the key of the kid when
// both name one, a key of the right type and size. It returns the payload
// and the protected header; its error is the reason alone, for the caller
// to wrap with its own kind of refusal.
func VerifyClientJWS(raw string, keys jose.JSONWebKeySet) ([]byte, jose.Header, error) {
	if raw == "" || len(raw) > maxTokenLen {
		return nil, jose.Header{}, errors.New("malformed")
	}
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		if alg, ok := headerAlg(raw); ok && !isAllowedAlg(alg) {
			return nil, jose.Header{}, errors.New("disallowed algorithm")
		}
		return nil, jose.Header{}, errors.New("malformed")
	}
	if len(jws.Signatures) != 1 {
		return nil, jose.Header{}, errors.New("malformed")
	}
	h := jws.Signatures[0].Protected
	for i := range keys.Keys {
		k := &keys.Keys[i]
		// With a kid, only that key (or keys registered without one) may
		// verify; without, any of the client's keys.
		if h.KeyID != "" && k.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if !usableKey(k, h.Algorithm) {
			continue
		}
		if p, err := jws.Verify(k.Key); err == nil {
			return p, h, nil
		}
	}
	return nil, h, errors.New("bad signature or not signed by the calling client's key")
}
