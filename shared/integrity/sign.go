package integrity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/auth"
)

// DefaultTTL is how long an answer's signature is fresh (exp - iat). A
// partner keeping it as evidence checks the signature, not the freshness.
const DefaultTTL = 5 * time.Minute

// AnswerHeaders are the answer's headers its signature names, in this
// order, when the answer has them: the Digest (always), how to read the
// body, and the request id the audit trail keeps the call under.
var AnswerHeaders = []string{DigestHeader, "Content-Type", "Content-Encoding", "X-Request-Id"}

// Signer signs answers with the platform's document keys.
type Signer struct {
	// Issuer is iss: the platform's OAuth issuer, whose JWKS
	// (<issuer>/jwks, or the metadata's jwks_uri) publishes the keys.
	Issuer string
	TTL    time.Duration    // DefaultTTL when zero
	Now    func() time.Time // time.Now when nil
	jws    *auth.DocumentSigner
}

// NewSigner signs with keys' signer (auth.TypIntegrity) as issuer.
func NewSigner(keys *auth.DocumentKeys, issuer string) *Signer {
	return &Signer{Issuer: issuer, jws: keys.Integrity()}
}

// Exchange is one request and its answer, as an answer's signature names them.
type Exchange struct {
	Client        string      // aud: the calling client's id
	Method        string      // the request's method
	URI           string      // the request's path, e.g. /function/did-check
	RequestDigest string      // the Digest of the request's body, as we computed it
	RequestID     string      // jti of the client's own signature; "" when it sent none
	Header        http.Header // the answer's headers; Digest is set here
	Body          []byte      // the answer's body
}

// AnswerClaims are the claims of an answer's Agid-JWT-Signature.
type AnswerClaims struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	ID        string `json:"jti"`
	// SignedHeaders are one-member objects, {"digest": "SHA-256=…"} first.
	SignedHeaders []map[string]string `json:"signed_headers"`
	// The request answered: what was asked, bound to what was answered.
	RequestMethod string `json:"request_method"`
	RequestURI    string `json:"request_uri"`
	RequestDigest string `json:"request_digest"`
	RequestJTI    string `json:"request_jti,omitempty"`
}

// Sign sets the answer's Digest in x.Header and returns its
// Agid-JWT-Signature, which the caller sets beside it.
func (s *Signer) Sign(x Exchange) (string, error) {
	if s == nil || s.jws == nil {
		return "", errors.New("sign answer: no signer")
	}
	if s.Issuer == "" || x.Client == "" || x.RequestDigest == "" {
		return "", errors.New("sign answer: no issuer, client or request digest")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	x.Header.Set(DigestHeader, DigestOf(x.Body))
	t := now().Unix()
	c := AnswerClaims{
		Issuer: s.Issuer, Audience: x.Client, IssuedAt: t, NotBefore: t, Expiry: t + int64(ttl/time.Second),
		ID:            uuid.NewString(),
		RequestMethod: x.Method, RequestURI: x.URI, RequestDigest: x.RequestDigest, RequestJTI: x.RequestID,
	}
	for _, name := range AnswerHeaders {
		if vs := x.Header.Values(name); len(vs) > 0 {
			c.SignedHeaders = append(c.SignedHeaders, map[string]string{strings.ToLower(name): strings.Join(vs, ", ")})
		}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign answer: %w", err)
	}
	return s.jws.SignJWS(payload)
}
