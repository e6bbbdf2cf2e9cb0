package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	issuer   = "https://issuer.test/function/oauth-token"
	audience = "rdc-interop"
)

type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	set  jose.JSONWebKeySet
	hits atomic.Int64
	down atomic.Bool
}

func newJWKSServer(t *testing.T, ring *KeyRing) *jwksServer {
	s := &jwksServer{set: ring.PublicJWKS()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		json.NewEncoder(w).Encode(s.set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(ring *KeyRing) {
	s.mu.Lock()
	s.set = ring.PublicJWKS()
	s.mu.Unlock()
}

func newRing(t testing.TB) *KeyRing {
	k, err := GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	return NewKeyRing(k)
}

func claims(mut func(*Claims)) Claims {
	now := time.Now()
	c := Claims{Issuer: issuer, Subject: "gepi", Audience: []string{audience}, IssuedAt: now, Expiry: now.Add(10 * time.Minute),
		ID: "jti-1", Scope: "rdc:did:read rdc:patto:read", Org: "GEPI"}
	if mut != nil {
		mut(&c)
	}
	return c
}

func sign(t testing.TB, r *KeyRing, c Claims) string {
	tok, err := r.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	ring := newRing(t)
	srv := newJWKSServer(t, ring)
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience})
	good := sign(t, ring, claims(nil))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+issuer+`","sub":"admin","aud":"rdc-interop","exp":9999999999,"iat":1}`)) + "." + parts[2]
	noneTok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
	plainJWT, _ := ring.SignJWS([]byte(`{"iss":"` + issuer + `"}`))

	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"valid", good, true},
		{"expired", sign(t, ring, claims(func(c *Claims) { c.Expiry = time.Now().Add(-time.Hour) })), false},
		{"wrong issuer", sign(t, ring, claims(func(c *Claims) { c.Issuer = "https://evil" })), false},
		{"wrong audience", sign(t, ring, claims(func(c *Claims) { c.Audience = []string{"other"} })), false},
		{"no subject", sign(t, ring, claims(func(c *Claims) { c.Subject = "" })), false},
		{"issued in the future", sign(t, ring, claims(func(c *Claims) { c.IssuedAt = time.Now().Add(time.Hour); c.Expiry = time.Now().Add(2 * time.Hour) })), false},
		{"unknown key", sign(t, newRing(t), claims(nil)), false},
		{"tampered", tampered, false},
		{"alg none", noneTok, false},
		{"typ JWT", plainJWT, false},
		{"garbage", "a.b.c", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.tok)
			if tt.ok {
				if err != nil || c.Subject != "gepi" || !c.HasScope("rdc:did:read") || c.HasScope("rdc:export") || c.Org != "GEPI" {
					t.Fatalf("got %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("got %v, want ErrInvalidToken", err)
			}
			if tt.tok != "" && strings.Contains(err.Error(), tt.tok) {
				t.Fatal("the error holds the token")
			}
		})
	}
}

func TestVerifyCachesAndRotates(t *testing.T) {
	a := newRing(t)
	srv := newJWKSServer(t, a)
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience})
	tokA := sign(t, a, claims(nil))
	for range 50 {
		if _, err := v.Verify(context.Background(), tokA); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for one key, want 1", n)
	}
	// Rotation: the issuer now publishes B then A; a token by B triggers one refetch.
	k, _ := GenerateRSAKey()
	rotated := a.Rotate(k, 1)
	srv.serve(rotated)
	v.keysMu.Lock()
	v.fetchedAt = time.Now().Add(-time.Minute) // past the refetch spacing
	v.keysMu.Unlock()
	tokB := sign(t, rotated, claims(nil))
	if _, err := v.Verify(context.Background(), tokB); err != nil {
		t.Fatalf("new key's token: %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, a, claims(func(c *Claims) { c.ID = "other" }))); err != nil {
		t.Fatalf("old key's token after rotation: %v", err)
	}
	if len(rotated.PublicJWKS().Keys) != 2 {
		t.Fatal("the rotated ring does not publish both keys")
	}
}

func TestIssuerDown(t *testing.T) {
	ring := newRing(t)
	srv := newJWKSServer(t, ring)
	srv.down.Store(true)
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience})
	if _, err := v.Verify(context.Background(), sign(t, ring, claims(nil))); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("issuer down, no keys: got %v, want ErrKeysUnavailable", err)
	}
	srv.down.Store(false)
	if _, err := v.Verify(context.Background(), sign(t, ring, claims(nil))); err != nil {
		t.Fatalf("issuer back: %v", err)
	}
	srv.down.Store(true)
	if _, err := v.Verify(context.Background(), sign(t, ring, claims(func(c *Claims) { c.ID = "x" }))); err != nil {
		t.Fatalf("issuer down, keys cached: %v", err)
	}
}

func TestConcurrentVerify(t *testing.T) {
	ring := newRing(t)
	srv := newJWKSServer(t, ring)
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience, MaxCacheEntries: 16})
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := sign(t, ring, claims(func(c *Claims) { c.ID = string(rune('a' + i%40)) }))
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(v.cache) > 16 {
		t.Errorf("cache grew to %d entries past its bound", len(v.cache))
	}
}

func TestKeyRingPEM(t *testing.T) {
	a := newRing(t)
	k, _ := GenerateRSAKey()
	r := a.Rotate(k, 1)
	pem, err := r.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyRing(pem)
	if err != nil {
		t.Fatal(err)
	}
	if back.Signer().ID != k.ID || len(back.PublicJWKS().Keys) != 2 {
		t.Fatal("PEM round trip lost the order or a key")
	}
	if _, err := ParseKeyRing([]byte("nothing")); err == nil {
		t.Fatal("no key accepted")
	}
}

func TestSecrets(t *testing.T) {
	s := NewClientSecret()
	h, err := HashSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckSecret(h, s) || CheckSecret(h, s+"x") || strings.Contains(h, s) {
		t.Fatal("secret hashing")
	}
}

func TestClientAssertion(t *testing.T) {
	key := newRing(t).Signer()
	other := newRing(t).Signer()
	keys := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Key.Public(), KeyID: key.ID, Algorithm: "RS256"}}}
	const tokenURL = "https://issuer.test/function/oauth-token"
	mk := func(k *SigningKey, mut func(*jwt.Claims)) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.Key}, (&jose.SignerOptions{}).WithType("JWT"))
		now := time.Now()
		c := jwt.Claims{Issuer: "pdnd", Subject: "pdnd", Audience: jwt.Audience{tokenURL}, ID: "j1",
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
		if mut != nil {
			mut(&c)
		}
		out, _ := jwt.Signed(s).Claims(c).Serialize()
		return out
	}
	chk := AssertionCheck{ClientID: "pdnd", TokenURL: tokenURL, Keys: keys}
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"valid", mk(key, nil), true},
		{"wrong audience", mk(key, func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://other"} }), false},
		{"expired", mk(key, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(-time.Second)) }), false},
		{"too long", mk(key, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(time.Hour)) }), false},
		{"iss is not sub", mk(key, func(c *jwt.Claims) { c.Issuer = "someone" }), false},
		{"no jti", mk(key, func(c *jwt.Claims) { c.ID = "" }), false},
		{"other signer", mk(other, nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jti, _, err := VerifyClientAssertion(tt.raw, chk)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidClient) {
				t.Fatalf("err %v does not wrap ErrInvalidClient", err)
			}
			if tt.ok && jti != "j1" {
				t.Fatalf("jti %q", jti)
			}
		})
	}
	if sub, err := AssertionSubject(mk(key, nil)); err != nil || sub != "pdnd" {
		t.Fatalf("AssertionSubject = %q, %v", sub, err)
	}
}

func FuzzVerify(f *testing.F) {
	ring := newRing(f)
	f.Add(sign(f, ring, claims(nil)))
	f.Add("a.b.c")
	f.Add("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(ring.PublicJWKS()) }))
	defer srv.Close()
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience})
	good := sign(f, ring, claims(nil))
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err == nil && raw != good {
			// Only tokens the ring really signed may pass.
			if _, err2 := jose.ParseSigned(raw, Algorithms); err2 != nil || c == nil {
				t.Fatalf("accepted %q", raw)
			}
		}
	})
}

func BenchmarkVerifyCached(b *testing.B) {
	ring := newRing(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(ring.PublicJWKS()) }))
	defer srv.Close()
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience})
	tok := sign(b, ring, claims(nil))
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUncached(b *testing.B) {
	ring := newRing(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(ring.PublicJWKS()) }))
	defer srv.Close()
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: issuer, Audience: audience, MaxCacheEntries: 1})
	tok := sign(b, ring, claims(nil))
	for b.Loop() {
		v.cacheMu.Lock()
		clear(v.cache)
		v.cacheMu.Unlock()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
