package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// allowedAlgs are the only JWS algorithms accepted, for access tokens and
// client assertions alike: asymmetric ones. "none" would accept anything, and
// HMAC would let anyone holding the public key (everyone) forge tokens.
var allowedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// minRSABits is the smallest RSA modulus signed or trusted (NIST SP 800-131A).
const minRSABits = 2048

// SigningKey is one private key of the issuer.
type SigningKey struct {
	ID        string        // kid: the RFC 7638 thumbprint, so it is derived, never chosen or reused
	Key       crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey (P-256)
	Algorithm string        // RS256 or PS256 for RSA, ES256 for P-256
}

// KeyRing is the issuer's keys in order: the first signs, all are published.
// Publishing the previous keys beside the new one is what makes rotation
// seamless: tokens already issued keep verifying until they expire. A ring
// is immutable, so one can be shared by concurrent requests and swapped
// atomically when the secret changes.
type KeyRing struct{ keys []*SigningKey }

// NewKeyRing returns a ring of keys, the first being the signer. Nil keys
// and repeated kids are dropped.
func NewKeyRing(keys ...*SigningKey) *KeyRing {
	r := &KeyRing{}
	for _, k := range keys {
		r.add(k)
	}
	return r
}

func (r *KeyRing) add(k *SigningKey) {
	if k == nil {
		return
	}
	for _, have := range r.keys {
		if have.ID == k.ID {
			return
		}
	}
	r.keys = append(r.keys, k)
}

// GenerateRSAKey makes a new 2048-bit RS256 key: RS256 because it is what
// every partner's JWT library verifies.
func GenerateRSAKey() (*SigningKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, minRSABits)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	return NewSigningKey(k)
}

// GenerateECKey makes a new P-256 ES256 key, for issuers that want small,
// fast signatures and whose verifiers all support ECDSA.
func GenerateECKey() (*SigningKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate EC key: %w", err)
	}
	return NewSigningKey(k)
}

// NewSigningKey wraps an RSA (at least 2048-bit, RS256) or P-256 (ES256)
// private key and derives its kid. Set Algorithm to PS256 afterwards to sign
// RSA-PSS instead.
func NewSigningKey(k crypto.Signer) (*SigningKey, error) {
	var alg jose.SignatureAlgorithm
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: at least %d are required", k.N.BitLen(), minRSABits)
		}
		alg = jose.RS256
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("EC key not on P-256: only ES256 is supported")
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("unsupported key type %T: want RSA or P-256 EC", k)
	}
	kid, err := thumbprint(k.Public())
	if err != nil {
		return nil, err
	}
	return &SigningKey{ID: kid, Key: k, Algorithm: string(alg)}, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint, base64url: the same key
// always gets the same kid, on every replica and after every restart.
func thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// ParseKeyRing reads PEM private keys (PKCS#8, PKCS#1 RSA or SEC 1 EC); the
// first is the signer. Other PEM blocks (certificates, public keys) are
// skipped, so the secret may be a bundle.
func ParseKeyRing(pemData []byte) (*KeyRing, error) {
	ring := &KeyRing{}
	for n := 1; ; n++ {
		var block *pem.Block
		block, pemData = pem.Decode(pemData)
		if block == nil {
			break
		}
		var k any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d: encrypted private keys are not supported; the secret store protects the file", n)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("PEM block %d: unsupported key type %T", n, k)
		}
		sk, err := NewSigningKey(signer)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		ring.add(sk)
	}
	if len(ring.keys) == 0 {
		return nil, errors.New("parse key ring: no private key in the PEM data")
	}
	return ring, nil
}

// MarshalPEM writes the ring as PKCS#8 PEM blocks, signer first: the inverse
// of ParseKeyRing, for writing the secret after a rotation. (The algorithm
// is not stored: a PS256 key reads back as RS256.)
func (r *KeyRing) MarshalPEM() ([]byte, error) {
	var out []byte
	for _, k := range r.keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Key)
		if err != nil {
			return nil, fmt.Errorf("marshal key %s: %w", k.ID, err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	}
	return out, nil
}

// Rotate returns a new ring in which newKey signs and at most keepOld of the
// previous keys (most recent first) are still published. Keep the old key
// until the last token it signed has expired (one token lifetime plus the
// verifiers' leeway), then rotate again with keepOld 0 to retire it.
// Verifiers learn the new kid on the first token that carries it, but at most
// one JWKS fetch per 30 s: a verifier that fetched just before the rotation
// can refuse the new key's tokens for up to 30 s. A nil newKey changes nothing.
func (r *KeyRing) Rotate(newKey *SigningKey, keepOld int) *KeyRing {
	if newKey == nil {
		return NewKeyRing(r.keys...)
	}
	out := NewKeyRing(newKey)
	for _, k := range r.keys {
		if len(out.keys)-1 >= keepOld {
			break
		}
		out.add(k) // skips newKey if it was already in the ring
	}
	return out
}

// Signer is the key that signs new tokens, nil for an empty ring.
func (r *KeyRing) Signer() *SigningKey {
	if r == nil || len(r.keys) == 0 {
		return nil
	}
	return r.keys[0]
}

// Sign returns the compact JWS of an access token (header typ at+jwt, alg,
// kid). It refuses claims no verifier would accept, so a bug in the token
// endpoint fails there rather than as 401s at every partner; in particular a
// token without exp would never expire.
func (r *KeyRing) Sign(c Claims) (string, error) {
	switch {
	case c.Issuer == "":
		return "", errors.New("sign access token: no issuer")
	case c.Subject == "":
		return "", errors.New("sign access token: no subject")
	case len(c.Audience) == 0:
		return "", errors.New("sign access token: no audience")
	case c.Expiry.IsZero():
		return "", errors.New("sign access token: no expiry")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign access token: encode claims: %w", err)
	}
	return r.sign(payload, "at+jwt")
}

// SignJWS signs any payload as a compact JWS with typ JWT, e.g. a receipt a
// partner can verify with the same JWKS. The typ differs from Sign's so that
// a receipt can never be replayed as an access token.
func (r *KeyRing) SignJWS(payload []byte) (string, error) { return r.sign(payload, "JWT") }

func (r *KeyRing) sign(payload []byte, typ jose.ContentType) (string, error) {
	k := r.Signer()
	if k == nil {
		return "", errors.New("sign: the key ring is empty")
	}
	opts := (&jose.SignerOptions{}).WithType(typ).WithHeader(jose.HeaderKey("kid"), k.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Key}, opts)
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", k.ID, err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", k.ID, err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialize JWS: %w", err)
	}
	return out, nil
}

// PublicJWKS is the public half of every key of the ring, with use "sig" and
// alg set so that verifiers refuse the key for any other algorithm.
func (r *KeyRing) PublicJWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range r.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
	}
	return set
}

// usableKey reports whether a public JWK may verify a signature made with alg:
// only signing keys of the matching type and a safe size, and only for the
// algorithm the JWK names, if it names one (RFC 7517 §4.4), so an RSA key
// published for RS256 cannot be used with PS256 or vice versa.
func usableKey(k *jose.JSONWebKey, alg string) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return (alg == string(jose.RS256) || alg == string(jose.PS256)) && pub.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256) && pub.Curve == elliptic.P256()
	}
	return false
}

// trustableKey reports whether a JWK from a JWKS is worth keeping: a public
// signing key of a supported type, for an allowed algorithm if one is named.
func trustableKey(k *jose.JSONWebKey) bool {
	if k.Algorithm != "" {
		return usableKey(k, k.Algorithm) && isAllowedAlg(k.Algorithm)
	}
	for _, alg := range allowedAlgs {
		if usableKey(k, string(alg)) {
			return true
		}
	}
	return false
}

func isAllowedAlg(alg string) bool {
	for _, a := range allowedAlgs {
		if string(a) == alg {
			return true
		}
	}
	return false
}
