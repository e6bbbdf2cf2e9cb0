// Package auth is the token core of the function set: the issuer side signs
// RFC 9068 access tokens (typ at+jwt) with a rotatable key ring and publishes
// the public keys; the verifier side checks tokens against a JWKS fetched
// over HTTP, so any standard issuer (Keycloak, PDND, an API gateway) can take
// the place of oauth-token. JOSE is go-jose's, never hand-rolled.
package auth

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// Claims of an access token: RFC 9068's plus the entity claims of this system.
type Claims struct {
	Issuer   string
	Subject  string // the client id
	Audience []string
	Expiry   time.Time
	IssuedAt time.Time
	ID       string
	ClientID string
	Scope    string   // space-separated
	Org      string   // GEPI, ANPAL, MLPS, REGIONE:<code>, APL:<id>
	AplRuolo string   // master, super, operatore (APL clients)
	Filiali  []string // branches an APL client acts for
}

type wireClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   int64           `json:"exp"`
	IssuedAt int64           `json:"iat"`
	ID       string          `json:"jti"`
	ClientID string          `json:"client_id,omitempty"`
	Scope    string          `json:"scope,omitempty"`
	Org      string          `json:"org,omitempty"`
	AplRuolo string          `json:"apl_ruolo,omitempty"`
	Filiali  []string        `json:"filiali,omitempty"`
}

// MarshalJSON writes the JWT claim set; one audience is written as a string.
func (c Claims) MarshalJSON() ([]byte, error) {
	var aud any = c.Audience
	if len(c.Audience) == 1 {
		aud = c.Audience[0]
	}
	ab, err := json.Marshal(aud)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireClaims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: ab, Expiry: c.Expiry.Unix(), IssuedAt: c.IssuedAt.Unix(),
		ID: c.ID, ClientID: c.ClientID, Scope: c.Scope, Org: c.Org, AplRuolo: c.AplRuolo, Filiali: c.Filiali,
	})
}

// UnmarshalJSON reads a claim set; aud may be a string or a list.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var w wireClaims
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var aud []string
	if len(w.Audience) > 0 && w.Audience[0] == '"' {
		var one string
		if err := json.Unmarshal(w.Audience, &one); err != nil {
			return err
		}
		aud = []string{one}
	} else if len(w.Audience) > 0 && string(w.Audience) != "null" {
		if err := json.Unmarshal(w.Audience, &aud); err != nil {
			return errors.New("aud: want a string or a list of strings")
		}
	}
	*c = Claims{
		Issuer: w.Issuer, Subject: w.Subject, Audience: aud, Expiry: time.Unix(w.Expiry, 0).UTC(),
		IssuedAt: time.Unix(w.IssuedAt, 0).UTC(), ID: w.ID, ClientID: w.ClientID, Scope: w.Scope,
		Org: w.Org, AplRuolo: w.AplRuolo, Filiali: w.Filiali,
	}
	return nil
}

// Scopes lists the token's scopes.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasScope reports whether the token carries scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes(), s) }
