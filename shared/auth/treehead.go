package auth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// TypTreeHead is the JWS typ of a signed tree head of the audit log
// (package auditlog).
const TypTreeHead = "rdc-tree-head+jws"

// treeHeadKidPrefix sets the log's keys apart from the document keys', as
// documentKidPrefix does those from the access-token keys'.
const treeHeadKidPrefix = "log-"

// TreeHeadKeys sign the audit log's tree heads and nothing else. They are
// a key of their own (secret audit-log-signing-keys, mounted only where
// heads are signed), so that a head cannot be forged with a key that signs
// receipts or tokens, and a verifier can pin it; oauth-token publishes the
// public halves (audit-log-verify-keys) marked with TypTreeHead only.
type TreeHeadKeys struct{ ring *KeyRing }

// ParseTreeHeadKeys reads the audit-log-signing-keys secret: PEM private
// keys as ParseKeyRing reads them, the first being the signer.
func ParseTreeHeadKeys(pemData []byte) (*TreeHeadKeys, error) {
	ring, err := ParseKeyRing(pemData)
	if err != nil {
		return nil, err
	}
	return NewTreeHeadKeys(ring.keys...), nil
}

// NewTreeHeadKeys makes tree-head keys of keys, the first being the
// signer, with their kids in the log's namespace.
func NewTreeHeadKeys(keys ...*SigningKey) *TreeHeadKeys {
	ring := &KeyRing{}
	for _, k := range keys {
		if k == nil {
			continue
		}
		head := *k
		head.ID = treeHeadKidPrefix + strings.TrimPrefix(k.ID, documentKidPrefix)
		ring.add(&head)
	}
	return &TreeHeadKeys{ring: ring}
}

// SignJWS signs a tree head's payload as a compact JWS of typ TypTreeHead.
func (t *TreeHeadKeys) SignJWS(payload []byte) (string, error) {
	return t.ring.sign(payload, TypTreeHead)
}

// PublicJWKS is the public half of every key, marked as signing tree heads.
func (t *TreeHeadKeys) PublicJWKS() JWKS { return t.ring.public(TypTreeHead) }

// MarshalPEM writes the private keys, signer first.
func (t *TreeHeadKeys) MarshalPEM() ([]byte, error) { return t.ring.MarshalPEM() }

// MarshalPublicPEM writes the public halves, as the audit-log-verify-keys
// secret holds them.
func (t *TreeHeadKeys) MarshalPublicPEM() ([]byte, error) {
	return (&DocumentKeys{ring: t.ring}).MarshalPublicPEM()
}

// ParseTreeHeadPublicKeys reads the audit-log-verify-keys secret (public
// keys as PEM, as ParseDocumentPublicKeys reads them) into JWKS entries
// that sign tree heads only.
func ParseTreeHeadPublicKeys(pemData []byte) (JWKS, error) {
	set, err := ParseDocumentPublicKeys(pemData)
	if err != nil {
		return JWKS{}, err
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		k.KeyID = treeHeadKidPrefix + strings.TrimPrefix(k.KeyID, documentKidPrefix)
		k.Typs = []string{TypTreeHead}
	}
	return set, nil
}

// VerifyJWS checks a compact JWS of typ against set: its kid must name a
// key published as signing typ, with the key's own algorithm (no "none", no
// HMAC). It returns the payload. It is how a partner, or the audit-verify
// command, checks a tree head with nothing but the published JWKS.
func VerifyJWS(set JWKS, typ, compact string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(compact, allowedAlgs)
	if err != nil {
		return nil, fmt.Errorf("parse JWS: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("JWS: want exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(got, typ) {
		return nil, fmt.Errorf("JWS: typ %q, want %q", got, typ)
	}
	for _, k := range set.Key(h.KeyID) {
		if !k.Signs(typ) || k.Algorithm != h.Algorithm {
			continue
		}
		payload, err := jws.Verify(k.Key)
		if err == nil {
			return payload, nil
		}
	}
	return nil, fmt.Errorf("JWS: no key %q published for %s verifies it", h.KeyID, typ)
}
