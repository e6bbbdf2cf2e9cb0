package auth

import (
	"crypto"
	"crypto/ecdsa"
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

// SigningKey is one private key of the issuer.
type SigningKey struct {
	ID        string // RFC 7638 thumbprint
	Key       crypto.Signer
	Algorithm jose.SignatureAlgorithm
}

// KeyRing is the issuer's keys in order: the first signs, all are published,
// so that after a rotation tokens signed by the previous key still verify
// until they expire.
type KeyRing struct{ keys []*SigningKey }

// NewKeyRing returns a ring of keys, the first being the signer.
func NewKeyRing(keys ...*SigningKey) *KeyRing { return &KeyRing{keys: keys} }

// GenerateRSAKey makes a new 2048-bit RS256 key.
func GenerateRSAKey() (*SigningKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return newSigningKey(k)
}

func newSigningKey(k crypto.Signer) (*SigningKey, error) {
	var alg jose.SignatureAlgorithm
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("RSA keys must have at least 2048 bits")
		}
		alg = jose.RS256
	case *ecdsa.PrivateKey:
		if k.Curve.Params().BitSize != 256 {
			return nil, errors.New("EC keys must be P-256")
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key thumbprint: %w", err)
	}
	return &SigningKey{ID: base64.RawURLEncoding.EncodeToString(tp), Key: k, Algorithm: alg}, nil
}

// ParseKeyRing reads PEM private keys (PKCS#8, PKCS#1 RSA or SEC 1 EC); the
// first is the signer.
func ParseKeyRing(data []byte) (*KeyRing, error) {
	var ring KeyRing
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
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
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
		sk, err := newSigningKey(signer)
		if err != nil {
			return nil, err
		}
		ring.keys = append(ring.keys, sk)
	}
	if len(ring.keys) == 0 {
		return nil, errors.New("no private key in the PEM data")
	}
	return &ring, nil
}

// MarshalPEM writes the ring as PKCS#8 PEM blocks, signer first.
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

// Rotate returns a ring with newKey signing and at most keepOld previous keys kept.
func (r *KeyRing) Rotate(newKey *SigningKey, keepOld int) *KeyRing {
	keys := []*SigningKey{newKey}
	for i, k := range r.keys {
		if i >= keepOld {
			break
		}
		keys = append(keys, k)
	}
	return &KeyRing{keys: keys}
}

// Signer is the key that signs new tokens.
func (r *KeyRing) Signer() *SigningKey { return r.keys[0] }

// Sign returns the compact JWS of an access token (header typ at+jwt).
func (r *KeyRing) Sign(c Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	return r.sign(payload, "at+jwt")
}

// SignJWS signs any payload (typ JWT), e.g. a download receipt.
func (r *KeyRing) SignJWS(payload []byte) (string, error) { return r.sign(payload, "JWT") }

func (r *KeyRing) sign(payload []byte, typ jose.ContentType) (string, error) {
	k := r.Signer()
	opts := (&jose.SignerOptions{}).WithType(typ).WithHeader(jose.HeaderKey("kid"), k.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Algorithm, Key: k.Key}, opts)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}

// PublicJWKS is the public half of every key of the ring.
func (r *KeyRing) PublicJWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range r.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.ID, Algorithm: string(k.Algorithm), Use: "sig"})
	}
	return set
}
