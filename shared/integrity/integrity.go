// Package integrity is AgID ModI INTEGRITY_REST_01: the integrity of a
// message's body, and so the non-repudiation of what was asked and answered.
//
// A message carries its body's Digest (RFC 3230, "SHA-256=<base64>") and an
// Agid-JWT-Signature: a JWT signed by the sender over the Digest and the
// other headers it names in signed_headers, meant for the receiver (aud)
// and short-lived (iat, nbf, exp).
//
// Requests: a partner's client signs with its own key, the one registered
// as its JWKS (oauth_client.jwks, which also verifies its private_key_jwt
// assertions and its operators' tracking evidences); VerifyRequest checks
// the JWT and the headers it signs, and the caller checks the body against
// the Digest (Digest.Matches, or Digest.Reader for a file).
//
// Answers: the platform signs with its document keys (the
// document-signing-keys secret, never the access-token keys), whose public
// halves oauth-token's JWKS publishes marked with auth.TypIntegrity, so a
// partner verifies an answer with any JOSE library and the JWKS, as it
// verifies a receipt; the token verifier never takes a document key for an
// access-token key (auth.TypsMember). An answer's JWT also names the
// request it answers: its method, path and Digest, computed over the body
// received whether or not the client sent one, and the jti of the client's
// own signature when it sent one.
//
// Nothing here logs, and no error holds a header's value or a body: only
// the reason.
package integrity

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rdc-interop/faas/shared/auth"
)

// SignatureHeader carries the JWT (ModI INTEGRITY_REST_01).
const SignatureHeader = "Agid-JWT-Signature"

// ErrInvalid is wrapped by every refusal of a request's Agid-JWT-Signature
// itself (malformed, not signed by the client's key, not meant for us,
// expired): the caller answers 401.
var ErrInvalid = errors.New("invalid Agid-JWT-Signature")

// ErrHeaders is wrapped when the signature is good but the request is not
// what it signs: a signed header that differs, a Digest that is not the
// one signed, a header that must be signed and is not. The caller answers 400.
var ErrHeaders = errors.New("the request is not the one its Agid-JWT-Signature signs")

const (
	// leeway is the clock skew tolerated for iat and nbf (exp gets none).
	leeway = 30 * time.Second
	// DefaultMaxLifetime is the longest exp - iat a request's JWT may have.
	DefaultMaxLifetime = 5 * time.Minute
	// maxSignedHeaders bounds signed_headers.
	maxSignedHeaders = 32
	// maxClaim bounds jti and each signed header's value.
	maxClaim = 4 << 10
)

// RequestCheck is what a request's signature must match.
type RequestCheck struct {
	ClientID string // iss must be this: the client of the access token
	// Audiences are the values of aud accepted (any one); a trailing slash
	// is ignored.
	Audiences []string
	Keys      jose.JSONWebKeySet // the client's registered public keys
	Header    http.Header        // the request's headers
	Now       func() time.Time   // time.Now when nil
	// MaxLifetime is the longest exp - iat accepted; DefaultMaxLifetime when zero.
	MaxLifetime time.Duration
}

// Request is a verified request signature.
type Request struct {
	ID     string // jti, "" when the client sent none
	Digest Digest // the Digest header, the one signed: check the body against it
	Expiry time.Time
}

type requestClaims struct {
	jwt.Claims
	SignedHeaders []json.RawMessage `json:"signed_headers"`
}

// mustSign are the headers that, when the request has them, its
// signed_headers must name: the Digest always (checked apart), and what
// says how to read the body (ModI: Content-Type, Content-Encoding).
var mustSign = []string{"Content-Type", "Content-Encoding"}

// VerifyRequest checks raw, a request's Agid-JWT-Signature, against chk:
// signed by one of the client's keys with an allowed algorithm, issued by
// the client, meant for one of the audiences, fresh, and naming in
// signed_headers the request's Digest (which must be present and
// well-formed), its Content-Type and Content-Encoding when it has them,
// and only headers whose values are the request's. The body is the
// caller's to check against the returned Digest.
func VerifyRequest(raw string, chk RequestCheck) (*Request, error) {
	bad := func(reason string) (*Request, error) { return nil, fmt.Errorf("%w: %s", ErrInvalid, reason) }
	differs := func(reason string) (*Request, error) { return nil, fmt.Errorf("%w: %s", ErrHeaders, reason) }
	if chk.ClientID == "" || len(chk.Audiences) == 0 {
		return bad("the check has no client id or audience")
	}
	now := time.Now()
	if chk.Now != nil {
		now = chk.Now()
	}
	if chk.MaxLifetime <= 0 {
		chk.MaxLifetime = DefaultMaxLifetime
	}
	payload, err := verifyJWS(raw, chk.Keys)
	if err != nil {
		return nil, err
	}
	var c requestClaims
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
	case !audienceOK(c.Audience, chk.Audiences):
		return bad("wrong audience")
	case c.Expiry == nil:
		return bad("no exp")
	case !now.Before(c.Expiry.Time()):
		return bad("expired")
	case c.IssuedAt == nil:
		return bad("no iat")
	case start.After(now.Add(leeway)):
		return bad("issued in the future")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(leeway)):
		return bad("not yet valid")
	case c.Expiry.Time().Sub(start) > chk.MaxLifetime || c.Expiry.Time().Sub(now) > chk.MaxLifetime+leeway:
		return bad("lifetime too long")
	case len(c.ID) > maxClaim || !printable(c.ID):
		return bad("jti too long or not printable")
	}
	signed, err := ParseSignedHeaders(c.SignedHeaders)
	if err != nil {
		return bad(err.Error())
	}
	sent := strings.TrimSpace(strings.Join(chk.Header.Values(DigestHeader), ", "))
	if sent == "" {
		return differs("no Digest header")
	}
	value, ok := signed["digest"]
	if !ok {
		return differs("signed_headers does not name the Digest")
	}
	for _, name := range slices.Sorted(maps.Keys(signed)) {
		if value := signed[name]; strings.TrimSpace(strings.Join(chk.Header.Values(name), ", ")) != value {
			return differs(nameOf(name) + " is not the request's")
		}
	}
	for _, name := range mustSign {
		if len(chk.Header.Values(name)) > 0 {
			if _, ok := signed[strings.ToLower(name)]; !ok {
				return differs("signed_headers does not name the " + name)
			}
		}
	}
	d, err := ParseDigest(value)
	if err != nil {
		return differs("the Digest header: " + strings.TrimPrefix(err.Error(), ErrDigest.Error()+": "))
	}
	return &Request{ID: c.ID, Digest: d, Expiry: c.Expiry.Time().UTC()}, nil
}

// ParseSignedHeaders reads a signed_headers claim: an array of objects of
// one member each, a header's name and its value as a string. Names are
// case-insensitive (returned lower-case) and appear once; values are
// returned trimmed.
func ParseSignedHeaders(items []json.RawMessage) (map[string]string, error) {
	if len(items) == 0 {
		return nil, errors.New("no signed_headers")
	}
	if len(items) > maxSignedHeaders {
		return nil, errors.New("too many signed_headers")
	}
	out := make(map[string]string, len(items))
	for _, item := range items {
		var m map[string]json.RawMessage
		if json.Unmarshal(item, &m) != nil || len(m) != 1 {
			return nil, errors.New("signed_headers must be objects of one member each")
		}
		for name, raw := range m {
			var value string
			if json.Unmarshal(raw, &value) != nil {
				return nil, errors.New("a signed header's value is not a string")
			}
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || !token(name) || len(value) > maxClaim || !printable(value) {
				return nil, errors.New("a signed header's name or value is not one a header can have")
			}
			if _, dup := out[name]; dup {
				return nil, errors.New("a header named twice in signed_headers")
			}
			out[name] = strings.TrimSpace(value)
		}
	}
	return out, nil
}

// verifyJWS checks raw's signature with one of the client's keys (package
// auth's rule, as for tracking evidences) and that it is a JWT; it returns
// the payload.
func verifyJWS(raw string, keys jose.JSONWebKeySet) ([]byte, error) {
	payload, h, err := auth.VerifyClientJWS(raw, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, err.Error())
	}
	if typ, ok := h.ExtraHeaders[jose.HeaderType].(string); ok && !strings.EqualFold(typ, "JWT") && !strings.EqualFold(typ, "application/jwt") {
		return nil, fmt.Errorf("%w: typ is not JWT", ErrInvalid)
	}
	return payload, nil
}

func audienceOK(aud jwt.Audience, want []string) bool {
	norm := func(s string) string { return strings.TrimSuffix(s, "/") }
	for _, a := range aud {
		if a == "" {
			continue
		}
		for _, w := range want {
			if w != "" && norm(a) == norm(w) {
				return true
			}
		}
	}
	return false
}

// known are the headers a refusal names; any other is "a signed header",
// as a name the client chose could hold anything, a person's code too.
var known = map[string]bool{
	"digest": true, "content-type": true, "content-encoding": true, "content-length": true,
	"idempotency-key": true, "x-request-id": true, "agid-jwt-trackingevidence": true,
}

func nameOf(header string) string {
	if known[header] {
		return "the signed header " + header
	}
	return "a signed header"
}

// printable refuses control characters in what ends up in headers or logs.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}
