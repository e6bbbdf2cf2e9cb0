package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The example of RFC 7638 §3.1: the kid must be the standard thumbprint, so
// that any JOSE library computes the same one.
func TestThumbprintRFC7638(t *testing.T) {
	t.Parallel()
	const jwk = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	var k jose.JSONWebKey
	if err := json.Unmarshal([]byte(jwk), &k); err != nil {
		t.Fatal(err)
	}
	got, err := thumbprint(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
}

func TestNewSigningKey(t *testing.T) {
	t.Parallel()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, k := range map[string]crypto.Signer{"RSA 1024": small, "P-384": p384} {
		if _, err := NewSigningKey(k); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	rs, ec := testKey(t, "rsa-a"), testKey(t, "ec-a")
	if rs.Algorithm != "RS256" || ec.Algorithm != "ES256" || rs.ID == "" || rs.ID == ec.ID {
		t.Fatalf("rsa %s %s, ec %s %s", rs.Algorithm, rs.ID, ec.Algorithm, ec.ID)
	}
	if rs.Key.(*rsa.PrivateKey).N.BitLen() != 2048 {
		t.Fatal("GenerateRSAKey is not 2048-bit")
	}
}

func TestKeyRingPEM(t *testing.T) {
	t.Parallel()
	rs, ec, old := testKey(t, "rsa-a"), testKey(t, "ec-a"), testKey(t, "rsa-b")
	ring := NewKeyRing(rs, ec, old)
	data, err := ring.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyRing(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kids(back), kids(ring); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("round trip: %v, want %v", got, want)
	}
	again, err := back.MarshalPEM()
	if err != nil || string(again) != string(data) {
		t.Fatal("MarshalPEM(ParseKeyRing(x)) != x")
	}

	// The legacy encodings OpenSSL still writes, mixed with blocks to skip.
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rs.Key.(*rsa.PrivateKey))})
	sec1DER, _ := x509.MarshalECPrivateKey(ec.Key.(*ecdsa.PrivateKey))
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})
	pubDER, _ := x509.MarshalPKIXPublicKey(rs.Key.Public())
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	mixed, err := ParseKeyRing([]byte("comment\n" + string(pub) + string(sec1) + string(pkcs1) + string(sec1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(mixed); len(got) != 2 || got[0] != ec.ID || got[1] != rs.ID {
		t.Fatalf("mixed PEM: %v, want [%s %s] (signer first, duplicates dropped)", got, ec.ID, rs.ID)
	}

	for name, in := range map[string]string{
		"empty":       "",
		"no key":      string(pub),
		"encrypted":   "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
		"corrupt key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := ParseKeyRing([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func kids(r *KeyRing) []string {
	var out []string
	for _, k := range r.PublicJWKS().Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestRotate(t *testing.T) {
	t.Parallel()
	a, b, c, d := testKey(t, "rsa-a"), testKey(t, "rsa-b"), testKey(t, "ec-a"), testKey(t, "rsa-other")
	ring := NewKeyRing(a, b)
	tests := []struct {
		name string
		got  *KeyRing
		want []*SigningKey
	}{
		{"keep one", ring.Rotate(c, 1), []*SigningKey{c, a}},
		{"keep all", ring.Rotate(c, 5), []*SigningKey{c, a, b}},
		{"keep none", ring.Rotate(c, 0), []*SigningKey{c}},
		{"negative", ring.Rotate(c, -1), []*SigningKey{c}},
		{"twice", ring.Rotate(c, 1).Rotate(d, 1), []*SigningKey{d, c}},
		{"key already in the ring", ring.Rotate(b, 1), []*SigningKey{b, a}},
		{"nil key", ring.Rotate(nil, 0), []*SigningKey{a, b}},
	}
	for _, tt := range tests {
		var want []string
		for _, k := range tt.want {
			want = append(want, k.ID)
		}
		if got := kids(tt.got); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", tt.name, got, want)
		}
	}
	if got := kids(ring); len(got) != 2 || got[0] != a.ID {
		t.Fatal("Rotate changed the original ring")
	}
}

func TestPublicJWKS(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a", "ec-a")
	set := ring.PublicJWKS()
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`} {
		if strings.Contains(string(b), private+":") {
			t.Fatalf("the JWKS holds private parameter %s: %s", private, b)
		}
	}
	for i, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.KeyID != ring.keys[i].ID || k.Algorithm != ring.keys[i].Algorithm {
			t.Errorf("key %d: %+v", i, k)
		}
		if !slices.Equal(k.Typs, []string{"at+jwt"}) {
			t.Errorf("key %d signs %v, want at+jwt only", i, k.Typs)
		}
	}
	if n := strings.Count(string(b), `"rdc_typ":["at+jwt"]`); n != 2 {
		t.Errorf("%d keys marked at+jwt in %s", n, b)
	}
	if b, _ := json.Marshal(NewKeyRing().PublicJWKS()); string(b) != `{"keys":[]}` {
		t.Errorf("empty ring: %s", b)
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	tok := mustSign(t, ring, claimsAt(t0, nil))
	jws, err := jose.ParseSignedCompact(tok, allowedAlgs)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Protected
	if h.Algorithm != "RS256" || h.KeyID != ring.Signer().ID || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Fatalf("header %+v", h)
	}
	var payload map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &payload); err != nil {
		t.Fatal(err)
	}
	if payload["aud"] != testAudience || payload["exp"] != float64(t0.Add(10*time.Minute).Unix()) || payload["client_id"] != "gepi" {
		t.Fatalf("payload %v", payload)
	}

	for name, c := range map[string]Claims{
		"no issuer":   claimsAt(t0, func(c *Claims) { c.Issuer = "" }),
		"no subject":  claimsAt(t0, func(c *Claims) { c.Subject = "" }),
		"no audience": claimsAt(t0, func(c *Claims) { c.Audience = nil }),
		"no expiry":   claimsAt(t0, func(c *Claims) { c.Expiry = time.Time{} }),
	} {
		if _, err := ring.Sign(c); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if _, err := NewKeyRing().Sign(claimsAt(t0, nil)); err == nil {
		t.Error("an empty ring signed")
	}
}

func TestDocumentKeys(t *testing.T) {
	t.Parallel()
	a, b := testKey(t, "ec-a"), testKey(t, "rsa-b")
	docs := NewDocumentKeys(a, b)
	if a.ID == "" || strings.HasPrefix(a.ID, "doc-") {
		t.Fatal("NewDocumentKeys changed the caller's key")
	}
	pemData, err := docs.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseDocumentKeys(pemData)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := docs.MarshalPublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(pubPEM), "PRIVATE") {
		t.Fatalf("public PEM holds a private key: %s", pubPEM)
	}
	fromPublic, err := ParseDocumentPublicKeys(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	published := back.PublicJWKS()
	if len(published.Keys) != 2 || len(fromPublic.Keys) != 2 {
		t.Fatalf("%d keys from the private PEM, %d from the public PEM, want 2", len(published.Keys), len(fromPublic.Keys))
	}
	for i, want := range []*SigningKey{a, b} {
		for _, k := range []PublishedKey{published.Keys[i], fromPublic.Keys[i]} {
			if k.KeyID != "doc-"+want.ID || k.Algorithm != want.Algorithm || k.Use != "sig" || !k.IsPublic() {
				t.Errorf("key %d published as %s %s %s, want doc-%s %s sig", i, k.KeyID, k.Algorithm, k.Use, want.ID, want.Algorithm)
			}
			if !slices.Equal(k.Typs, DocumentTyps) || k.Signs(TypAccessToken) {
				t.Errorf("key %d signs %v, want %v", i, k.Typs, DocumentTyps)
			}
		}
	}

	payload := []byte(`{"file":"x.csv","sha256":"00"}`)
	for typ, signer := range map[string]*DocumentSigner{TypReceipt: back.Receipts(), TypWebhook: back.Webhooks()} {
		compact, err := signer.SignJWS(payload)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSignedCompact(compact, allowedAlgs)
		if err != nil {
			t.Fatal(err)
		}
		h := jws.Signatures[0].Protected
		if h.ExtraHeaders[jose.HeaderType] != typ || h.KeyID != "doc-"+a.ID {
			t.Fatalf("%s: header typ %v kid %s", typ, h.ExtraHeaders[jose.HeaderType], h.KeyID)
		}
		keys := fromPublic.Key(h.KeyID)
		if len(keys) != 1 || !keys[0].Signs(typ) {
			t.Fatalf("%s: the public PEM publishes %d keys for its kid", typ, len(keys))
		}
		if p, err := jws.Verify(keys[0].JSONWebKey); err != nil || string(p) != string(payload) {
			t.Fatalf("%s does not verify with the published key: %v", typ, err)
		}
	}
}

func TestParseDocumentPublicKeys(t *testing.T) {
	t.Parallel()
	priv, _ := NewKeyRing(testKey(t, "rsa-a")).MarshalPEM()
	pubDER, _ := x509.MarshalPKIXPublicKey(testKey(t, "rsa-a").Key.Public())
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	for name, in := range map[string][]byte{
		"a private key":       priv,
		"a private key after": append(append([]byte{}, pub...), priv...),
		"nothing":             []byte("no PEM here"),
		"a small RSA key":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}),
		"garbage":             pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")}),
	} {
		if _, err := ParseDocumentPublicKeys(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(testKey(t, "rsa-a").Key.Public().(*rsa.PublicKey))})
	set, err := ParseDocumentPublicKeys(append(append([]byte("comment\n"), pub...), pkcs1...))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0].KeyID != "doc-"+testKey(t, "rsa-a").ID {
		t.Fatalf("%d keys, want the one key once", len(set.Keys))
	}
}

func TestPublishJWKS(t *testing.T) {
	t.Parallel()
	tokens := testRing(t, "rsa-a", "ec-a")
	docs := NewDocumentKeys(testKey(t, "rsa-b"))
	set, err := PublishJWKS(tokens, docs.PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	// As a partner's library reads it: go-jose keeps every key, ignoring the marker.
	var plain jose.JSONWebKeySet
	if err := json.Unmarshal(b, &plain); err != nil || len(plain.Keys) != 3 {
		t.Fatalf("go-jose reads %d keys (%v) of %s", len(plain.Keys), err, b)
	}
	var back JWKS
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		tokens.keys[0].ID:               {TypAccessToken},
		tokens.keys[1].ID:               {TypAccessToken},
		"doc-" + testKey(t, "rsa-b").ID: DocumentTyps,
	}
	for _, k := range back.Keys {
		if !slices.Equal(k.Typs, want[k.KeyID]) {
			t.Errorf("%s signs %v, want %v", k.KeyID, k.Typs, want[k.KeyID])
		}
		delete(want, k.KeyID)
	}
	if len(want) != 0 {
		t.Errorf("not published: %v", want)
	}

	// The access-token key reused as a document key is refused, not published.
	if _, err := PublishJWKS(tokens, NewDocumentKeys(testKey(t, "ec-a")).PublicJWKS()); err == nil {
		t.Fatal("a document key that is also an access-token key was published")
	}
}
