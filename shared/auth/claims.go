// Package auth is the token core shared by the issuer (the oauth-token
// function) and every function that checks its tokens.
//
// It lives in one place because both sides must agree byte for byte on what an
// access token is: an RFC 9068 JWT (header typ at+jwt) signed with an
// asymmetric key, carrying the entity claims (org, apl_ruolo, filiali) that
// GePI, ANPAL, MLPS, the Regions and the employment agencies are authorised
// by. The issuer holds a rotatable key ring and publishes only public keys;
// verifiers need nothing but the issuer's JWKS URL, so any standard issuer
// (PDND, Keycloak, a gateway) can replace oauth-token without code changes.
//
// Verification runs on every request of a high-throughput API, so the
// verifier caches both the JWKS and the tokens it has already verified: a
// token presented again costs a SHA-256 and a map look-up instead of an RSA
// verification, and an unreachable issuer only matters for keys never seen.
//
// JOSE is go-jose's, never hand-rolled: the parsing and signature code of a
// JWS library is where token forgeries come from, and go-jose is audited.
package auth

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims of an access token (RFC 9068) plus the entity claims of this system.
//
// The JSON form is written by MarshalJSON, not by the tags, because exp and
// iat are NumericDates and a single audience is written as a plain string
// (what most resource servers expect); the tags document the claim names.
type Claims struct {
	Issuer   string    `json:"iss"`
	Subject  string    `json:"sub"` // client id
	Audience []string  `json:"aud"` // one value is written as a string; both forms are read
	Expiry   time.Time // exp (NumericDate)
	IssuedAt time.Time // iat (NumericDate)
	ID       string    `json:"jti"`
	ClientID string    `json:"client_id"`
	Scope    string    `json:"scope"`               // space-separated
	Org      string    `json:"org"`                 // GEPI, ANPAL, MLPS, REGIONE:<code>, APL:<id>
	AplRuolo string    `json:"apl_ruolo,omitempty"` // master|super|operatore
	Filiali  []string  `json:"filiali,omitempty"`   // branches the APL client acts for
}

// wireClaims is the JSON form. NotBefore is read (a foreign issuer may set
// it, and a token must not be honoured before it) but never written.
type wireClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud,omitempty"`
	Expiry    *jwt.NumericDate `json:"exp,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	ID        string           `json:"jti"`
	ClientID  string           `json:"client_id"`
	Scope     string           `json:"scope"`
	Org       string           `json:"org"`
	AplRuolo  string           `json:"apl_ruolo,omitempty"`
	Filiali   []string         `json:"filiali,omitempty"`
}

// MarshalJSON writes the JWT claim set. Zero times are left out rather than
// written as year 1, which no verifier would accept anyway.
func (c Claims) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireClaims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: jwt.Audience(c.Audience),
		Expiry: jwt.NewNumericDate(c.Expiry), IssuedAt: jwt.NewNumericDate(c.IssuedAt),
		ID: c.ID, ClientID: c.ClientID, Scope: c.Scope, Org: c.Org, AplRuolo: c.AplRuolo, Filiali: c.Filiali,
	})
}

// UnmarshalJSON reads a claim set; aud may be a string or a list, and
// NumericDates may carry fractions, as RFC 7519 allows.
func (c *Claims) UnmarshalJSON(b []byte) error {
	_, err := c.decode(b)
	return err
}

// decode reads a claim set and also returns nbf, which Claims does not carry.
func (c *Claims) decode(b []byte) (notBefore time.Time, err error) {
	var w wireClaims
	if err := json.Unmarshal(b, &w); err != nil {
		return time.Time{}, fmt.Errorf("decode claims: %w", err)
	}
	*c = Claims{
		Issuer: w.Issuer, Subject: w.Subject, Audience: []string(w.Audience),
		Expiry: numericTime(w.Expiry), IssuedAt: numericTime(w.IssuedAt),
		ID: w.ID, ClientID: w.ClientID, Scope: w.Scope, Org: w.Org, AplRuolo: w.AplRuolo, Filiali: w.Filiali,
	}
	return numericTime(w.NotBefore), nil
}

// numericTime keeps an absent date as the zero time, so "no exp" can be told
// apart from "exp in 1970".
func numericTime(n *jwt.NumericDate) time.Time {
	if n == nil {
		return time.Time{}
	}
	return n.Time().UTC()
}

// Scopes lists the token's scopes (RFC 6749 §3.3: space-separated).
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasScope reports whether the token carries scope s. It walks the string
// without splitting it, since it runs on every authorised request.
func (c *Claims) HasScope(s string) bool {
	for f := range strings.FieldsSeq(c.Scope) {
		if f == s {
			return true
		}
	}
	return false
}

// clone returns a copy whose slices cannot be appended into the original's
// backing arrays, so a handler that extends its copy cannot alter the cached one.
func (c *Claims) clone() *Claims {
	out := *c
	out.Audience = slices.Clip(out.Audience)
	out.Filiali = slices.Clip(out.Filiali)
	return &out
}
