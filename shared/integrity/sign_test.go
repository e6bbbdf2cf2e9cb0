package integrity

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rdc-interop/faas/shared/auth"
)

const issuer = "http://127.0.0.1:8080/function/oauth-token"

func documentKeys(t *testing.T) (*auth.DocumentKeys, *auth.KeyRing) {
	t.Helper()
	doc, err := auth.NewSigningKey(testKey(t, "rsa-doc"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.NewSigningKey(testKey(t, "rsa-token"))
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewDocumentKeys(doc), auth.NewKeyRing(tok)
}

// published is the JWKS as oauth-token serves it: the token keys and the
// document keys' public halves, each marked with its typs.
func published(t *testing.T, docs *auth.DocumentKeys, tokens *auth.KeyRing) []byte {
	t.Helper()
	pemData, err := docs.MarshalPublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := auth.ParseDocumentPublicKeys(pemData)
	if err != nil {
		t.Fatal(err)
	}
	set, err := auth.PublishJWKS(tokens, pub)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignAnswer(t *testing.T) {
	t.Parallel()
	docs, tokens := documentKeys(t)
	s := NewSigner(docs, issuer)
	s.Now = func() time.Time { return t0 }
	reqBody := []byte(`{"codice_fiscale":"` + personCF + `"}`)
	body := []byte(`{"attiva":true}` + "\n")
	h := header("Content-Type", "application/json", "X-Request-Id", "req-1", "X-Ratelimit-Limit", "10")
	jws, err := s.Sign(Exchange{Client: client, Method: http.MethodPost, URI: "/function/did-check",
		RequestDigest: DigestOf(reqBody), RequestID: "j-1", Header: h, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if h.Get(DigestHeader) != DigestOf(body) {
		t.Fatalf("Digest %q", h.Get(DigestHeader))
	}

	// As a partner checks it: the JWKS's key named by kid, marked for JWT.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(published(t, docs, tokens), &set); err != nil {
		t.Fatal(err)
	}
	sig, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	hdr := sig.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); typ != "JWT" || !strings.HasPrefix(hdr.KeyID, "doc-") {
		t.Fatalf("header typ %q kid %q", typ, hdr.KeyID)
	}
	var payload []byte
	for _, raw := range set.Keys {
		var k auth.PublishedKey
		if err := json.Unmarshal(raw, &k); err != nil {
			t.Fatal(err)
		}
		if k.KeyID != hdr.KeyID {
			continue
		}
		if !k.Signs(auth.TypIntegrity) || k.Signs(auth.TypAccessToken) {
			t.Fatalf("the signing key is published with typs %v", k.Typs)
		}
		if payload, err = sig.Verify(k.Key); err != nil {
			t.Fatal(err)
		}
	}
	if payload == nil {
		t.Fatal("the signing key is not in the JWKS")
	}
	var c AnswerClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{{"digest": DigestOf(body)}, {"content-type": "application/json"}, {"x-request-id": "req-1"}}
	if c.Issuer != issuer || c.Audience != client || c.IssuedAt != t0.Unix() || c.NotBefore != t0.Unix() ||
		c.Expiry != t0.Add(DefaultTTL).Unix() || c.ID == "" ||
		!slices.EqualFunc(c.SignedHeaders, want, func(a, b map[string]string) bool { return len(a) == 1 && a[firstKey(b)] == b[firstKey(b)] }) ||
		c.RequestMethod != http.MethodPost || c.RequestURI != "/function/did-check" || c.RequestDigest != DigestOf(reqBody) || c.RequestJTI != "j-1" {
		t.Fatalf("claims %+v", c)
	}
	if strings.Contains(string(payload), personCF) {
		t.Fatal("the signature holds the request's data")
	}
	// Two answers, two jti.
	jws2, _ := s.Sign(Exchange{Client: client, Method: http.MethodPost, URI: "/", RequestDigest: DigestOf(nil), Header: http.Header{}, Body: body})
	if jws2 == jws {
		t.Fatal("two signatures alike")
	}
	// Refusals of the signer's own misuse.
	if _, err := (&Signer{}).Sign(Exchange{}); err == nil {
		t.Fatal("signed with no key")
	}
	if _, err := s.Sign(Exchange{Header: http.Header{}}); err == nil {
		t.Fatal("signed for no client")
	}
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// TestAnswerIsNoAccessToken: an answer's signature, whatever its claims
// (here with the platform's audience and a subject, as a token has), is
// refused by the token verifier, which reads the same JWKS: its typ is not
// at+jwt and its key is not published for at+jwt.
func TestAnswerIsNoAccessToken(t *testing.T) {
	t.Parallel()
	docs, tokens := documentKeys(t)
	body := published(t, docs, tokens)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	v := auth.NewVerifier(auth.VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience})
	now := time.Now()
	tokenLike := map[string]any{"iss": issuer, "aud": audience, "sub": client, "scope": "rdc:did:read",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "x",
		"signed_headers": []map[string]string{{"digest": DigestOf(nil)}}}
	b, _ := json.Marshal(tokenLike)
	answer, err := docs.Integrity().SignJWS(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), answer); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("an answer's signature taken as an access token: %v", err)
	}
	// Even with the typ forged to at+jwt, the key is not a token key.
	doc, _ := auth.NewSigningKey(testKey(t, "rsa-doc"))
	forged := rawToken(t, doc.Key, jose.RS256, map[string]any{"kid": "doc-" + doc.ID, "typ": "at+jwt"}, tokenLike)
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "does not sign access tokens") {
		t.Fatalf("a document key signed an access token: %v", err)
	}
	// And a real token still verifies against the same JWKS.
	tok, err := tokens.Sign(auth.Claims{Issuer: issuer, Subject: client, Audience: []string{audience},
		IssuedAt: now, Expiry: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("a token refused: %v", err)
	}
}
