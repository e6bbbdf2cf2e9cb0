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
	"slices"
	"strings"

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
	ID        string        // kid: the RFC 7638 thumbprint (prefixed doc- for DocumentKeys), so it is derived, never chosen or reused
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
	return r.sign(payload, TypAccessToken)
}

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

// PublicJWKS is the public half of every key of the ring, marked as signing
// access tokens only, with use "sig" and alg set so that verifiers refuse
// the key for any other algorithm.
func (r *KeyRing) PublicJWKS() JWKS { return r.public(TypAccessToken) }

func (r *KeyRing) public(typs ...string) JWKS {
	set := JWKS{Keys: []PublishedKey{}}
	for _, k := range r.keys {
		set.Keys = append(set.Keys, PublishedKey{
			JSONWebKey: jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"},
			Typs:       slices.Clone(typs),
		})
	}
	return set
}

// The JWS typ of each kind of document the service signs. An access token
// is at+jwt (RFC 9068), which the Verifier requires; the others name what
// they are, so that none can be taken for another, nor for a token.
// TypIntegrity is the one exception, as AgID ModI fixes it: the
// Agid-JWT-Signature of an answer (INTEGRITY_REST_01, package integrity)
// is a plain "JWT", told apart from the others by that typ and from a
// token by it too (the Verifier wants at+jwt) and by its key (not at+jwt).
const (
	TypAccessToken = "at+jwt"
	TypReceipt     = "rdc-receipt+jws"
	TypWebhook     = "rdc-webhook+jws" //nolint:gosec // G101: a JWS typ header value, not a credential
	TypIntegrity   = "JWT"
)

// DocumentTyps are the typs the document keys sign.
var DocumentTyps = []string{TypReceipt, TypWebhook, TypIntegrity}

// TypsMember is the JWK member listing the JWS typs a published key signs:
// ["at+jwt"] for the access-token keys, DocumentTyps for the document keys.
//
// It is the marker the Verifier trusts, because nothing standard can be:
// RFC 7517 has no member for what a key signs ("use" says signature or
// encryption, "key_ops" sign or verify, both true of either kind), go-jose
// drops key_ops and members it does not know when it parses a JWK, and a
// custom "use" would make partners' libraries (which keep "sig" keys only)
// refuse the receipts. A private member is what RFC 7517 §4 provides for:
// libraries that do not know it ignore it, so partners verify receipts and
// webhooks with any JOSE library, while the Verifier reads it from the raw
// JWKS and takes an access token only from a key it lists at+jwt for. The
// name is prefixed so that no registered member can ever collide with it.
const TypsMember = "rdc_typ"

// PublishedKey is a public JWK of the JWKS with the typs it signs (nil when
// the JWK carries no TypsMember).
type PublishedKey struct {
	jose.JSONWebKey
	Typs []string
}

// MarshalJSON writes the JWK with TypsMember beside go-jose's members.
func (k PublishedKey) MarshalJSON() ([]byte, error) {
	b, err := k.JSONWebKey.MarshalJSON()
	if err != nil || k.Typs == nil {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m[TypsMember], err = json.Marshal(k.Typs); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a JWK and its TypsMember, which go-jose would drop.
func (k *PublishedKey) UnmarshalJSON(b []byte) error {
	if err := k.JSONWebKey.UnmarshalJSON(b); err != nil {
		return err
	}
	var m struct {
		Typs []string `json:"rdc_typ"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	k.Typs = m.Typs
	return nil
}

// Signs reports whether the key is published as signing typ.
func (k *PublishedKey) Signs(typ string) bool {
	for _, t := range k.Typs {
		if strings.EqualFold(t, typ) {
			return true
		}
	}
	return false
}

// JWKS is the published key set, as oauth-token serves it at /jwks.
type JWKS struct {
	Keys []PublishedKey `json:"keys"`
}

// Key returns the keys published under kid.
func (s JWKS) Key(kid string) []PublishedKey {
	var out []PublishedKey
	for _, k := range s.Keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

// PublishJWKS is the token endpoint's JWKS: its access-token keys and the
// document keys' public halves. A document key that is also an access-token
// key (the same key material in both secrets) is refused rather than
// published: whoever holds it could sign access tokens, and the split of the
// secrets would be for nothing.
func PublishJWKS(tokens *KeyRing, documents JWKS) (JWKS, error) {
	set := tokens.PublicJWKS()
	seen := map[string]bool{}
	for _, k := range set.Keys {
		tp, err := thumbprint(k.Key)
		if err != nil {
			return JWKS{}, err
		}
		seen[tp], seen[k.KeyID] = true, true
	}
	for _, k := range documents.Keys {
		tp, err := thumbprint(k.Key)
		if err != nil {
			return JWKS{}, err
		}
		if seen[tp] || seen[k.KeyID] {
			return JWKS{}, fmt.Errorf("document key %s is also an access-token key: give the document signers keys of their own", k.KeyID)
		}
		seen[tp], seen[k.KeyID] = true, true
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// documentKidPrefix sets the document keys' kids apart from the access-token
// keys' (both RFC 7638 thumbprints otherwise), so that logs and partners can
// tell a receipt's key from a token's at a glance. It is not what keeps a
// document key from verifying a token: TypsMember is.
const documentKidPrefix = "doc-"

// DocumentKeys are the keys that sign what the service hands out (download
// receipts, webhook notices, the integrity signatures of answers), never
// access tokens: the first signs, the
// others stay during a rotation. They come from their own secret
// (document-signing-keys), mounted only in the functions that sign
// documents, so that none of those can mint a token: only oauth-token holds
// the access-token keys. oauth-token publishes their public halves
// (ParseDocumentPublicKeys) with TypsMember DocumentTyps, and the Verifier
// refuses any token signed by a key not listed for at+jwt.
type DocumentKeys struct{ ring *KeyRing }

// NewDocumentKeys makes document keys of keys, the first being the signer.
// The keys are copied, with their kids in the document namespace.
func NewDocumentKeys(keys ...*SigningKey) *DocumentKeys {
	ring := &KeyRing{}
	for _, k := range keys {
		if k == nil {
			continue
		}
		doc := *k
		if !strings.HasPrefix(doc.ID, documentKidPrefix) {
			doc.ID = documentKidPrefix + doc.ID
		}
		ring.add(&doc)
	}
	return &DocumentKeys{ring: ring}
}

// ParseDocumentKeys reads the document-signing-keys secret: PEM private
// keys as ParseKeyRing reads them, the first being the signer.
func ParseDocumentKeys(pemData []byte) (*DocumentKeys, error) {
	ring, err := ParseKeyRing(pemData)
	if err != nil {
		return nil, err
	}
	return NewDocumentKeys(ring.keys...), nil
}

// Receipts signs download receipts (typ rdc-receipt+jws).
func (d *DocumentKeys) Receipts() *DocumentSigner {
	return &DocumentSigner{ring: d.ring, typ: TypReceipt}
}

// Webhooks signs webhook bodies (typ rdc-webhook+jws).
func (d *DocumentKeys) Webhooks() *DocumentSigner {
	return &DocumentSigner{ring: d.ring, typ: TypWebhook}
}

// Integrity signs the Agid-JWT-Signature of answers (typ JWT, AgID ModI
// INTEGRITY_REST_01).
func (d *DocumentKeys) Integrity() *DocumentSigner {
	return &DocumentSigner{ring: d.ring, typ: TypIntegrity}
}

// PublicJWKS is the public half of every document key, marked with
// DocumentTyps, as oauth-token publishes them.
func (d *DocumentKeys) PublicJWKS() JWKS { return d.ring.public(DocumentTyps...) }

// MarshalPEM writes the private keys, signer first (the
// document-signing-keys secret).
func (d *DocumentKeys) MarshalPEM() ([]byte, error) { return d.ring.MarshalPEM() }

// MarshalPublicPEM writes the public halves as PKIX PEM blocks, in order:
// the document-verify-keys secret that oauth-token publishes from, and the
// same as `openssl pkey -pubout` of each key.
func (d *DocumentKeys) MarshalPublicPEM() ([]byte, error) {
	var out []byte
	for _, k := range d.ring.keys {
		der, err := x509.MarshalPKIXPublicKey(k.Key.Public())
		if err != nil {
			return nil, fmt.Errorf("marshal public key %s: %w", k.ID, err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return out, nil
}

// DocumentSigner signs one kind of document with the document keys' signer.
type DocumentSigner struct {
	ring *KeyRing
	typ  jose.ContentType
}

// SignJWS signs payload as a compact JWS whose header carries the kind's
// typ and the key's kid, verifiable with the published JWKS.
func (s *DocumentSigner) SignJWS(payload []byte) (string, error) { return s.ring.sign(payload, s.typ) }

// ParseDocumentPublicKeys reads the document-verify-keys secret: the
// document keys' public halves as PEM (PKIX "PUBLIC KEY" or PKCS#1 "RSA
// PUBLIC KEY"; other blocks, such as certificates, are skipped). Their kids
// and algorithms are derived as for the private keys, so they match the
// signatures. A private key is refused: the publisher must not be able to
// sign documents.
func ParseDocumentPublicKeys(pemData []byte) (JWKS, error) {
	set := JWKS{Keys: []PublishedKey{}}
	seen := map[string]bool{}
	for n := 1; ; n++ {
		var block *pem.Block
		block, pemData = pem.Decode(pemData)
		if block == nil {
			break
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return JWKS{}, fmt.Errorf("PEM block %d: a private key where only public keys belong", n)
		default:
			continue
		}
		if err != nil {
			return JWKS{}, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		alg, err := publicAlgorithm(pub)
		if err != nil {
			return JWKS{}, fmt.Errorf("PEM block %d: %w", n, err)
		}
		kid, err := thumbprint(pub)
		if err != nil {
			return JWKS{}, err
		}
		kid = documentKidPrefix + kid
		if seen[kid] {
			continue
		}
		seen[kid] = true
		set.Keys = append(set.Keys, PublishedKey{
			JSONWebKey: jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: "sig"},
			Typs:       slices.Clone(DocumentTyps),
		})
	}
	if len(set.Keys) == 0 {
		return JWKS{}, errors.New("parse document public keys: no public key in the PEM data")
	}
	return set, nil
}

// publicAlgorithm is the algorithm a public key verifies, with the limits
// NewSigningKey puts on private keys.
func publicAlgorithm(pub any) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key of %d bits: at least %d are required", pub.N.BitLen(), minRSABits)
		}
		return string(jose.RS256), nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", errors.New("EC key not on P-256: only ES256 is supported")
		}
		return string(jose.ES256), nil
	}
	return "", fmt.Errorf("unsupported key type %T: want RSA or P-256 EC", pub)
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
