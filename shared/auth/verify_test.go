package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	key := ring.Signer()
	ec := testKey(t, "ec-a")
	srv := newJWKSServer(t, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	now := clk.Now()

	good := mustSign(t, ring, claimsAt(now, nil))
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	hdr := func(typ string) map[string]any { return map[string]any{"kid": key.ID, "typ": typ} }
	atHdr := hdr("at+jwt")
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Key.Public())
	jsonForm := func() string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.Key},
			(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", key.ID))
		jws, _ := s.Sign([]byte(parts[1]))
		return jws.FullSerialize()
	}()

	tests := []struct {
		name   string
		tok    string
		reason string // empty: the token is valid
	}{
		{"valid", good, ""},
		{"several audiences", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.Audience = []string{"other", testAudience} })), ""},
		{"typ application/at+jwt", rawToken(t, key.Key, jose.RS256, hdr("application/at+jwt"), wireMap(now)), ""},
		{"typ in capitals", rawToken(t, key.Key, jose.RS256, hdr("AT+JWT"), wireMap(now)), ""},
		{"fractional exp", rawToken(t, key.Key, jose.RS256, atHdr, with(wireMap(now), "exp", float64(now.Unix())+600.5)), ""},
		{"expired within leeway", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.Expiry = now.Add(-10 * time.Second) })), ""},
		{"iat within leeway", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.IssuedAt = now.Add(10 * time.Second) })), ""},

		{"expired", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.IssuedAt, c.Expiry = now.Add(-2*time.Hour), now.Add(-time.Hour) })), "expired"},
		{"expired past leeway", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.Expiry = now.Add(-31 * time.Second) })), "expired"},
		{"no exp", rawToken(t, key.Key, jose.RS256, atHdr, with(wireMap(now), "exp", nil)), "no expiry"},
		{"wrong issuer", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.Issuer = "https://evil.example" })), "wrong issuer"},
		{"wrong audience", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.Audience = []string{"someone-else"} })), "wrong audience"},
		{"no audience", rawToken(t, key.Key, jose.RS256, atHdr, with(wireMap(now), "aud", nil)), "wrong audience"},
		{"no subject", rawToken(t, key.Key, jose.RS256, atHdr, with(wireMap(now), "sub", "")), "no subject"},
		{"issued in the future", mustSign(t, ring, claimsAt(now, func(c *Claims) { c.IssuedAt, c.Expiry = now.Add(time.Hour), now.Add(2*time.Hour) })), "issued in the future"},
		{"not yet valid", rawToken(t, key.Key, jose.RS256, atHdr, with(wireMap(now), "nbf", now.Add(time.Hour).Unix())), "not yet valid"},
		{"aud of the wrong type", rawToken(t, key.Key, jose.RS256, atHdr, with(wireMap(now), "aud", 42)), "malformed claims"},
		{"payload not JSON", rawToken(t, key.Key, jose.RS256, atHdr, []byte("hello")), "malformed claims"},

		{"unknown key", mustSign(t, testRing(t, "rsa-other"), claimsAt(now, nil)), "unknown key"},
		{"our kid, another key", rawToken(t, testKey(t, "rsa-other").Key, jose.RS256, atHdr, wireMap(now)), "bad signature"},
		{"tampered payload", parts[0] + "." + b64(mustJSON(t, with(wireMap(now), "sub", "admin"))) + "." + parts[2], "bad signature"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + b64([]byte(strings.Repeat("x", 256))), "bad signature"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "bad signature"},
		{"alg none", b64([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+key.ID+`"}`)) + "." + parts[1] + ".", "disallowed algorithm"},
		{"HS256 keyed with the public key", rawToken(t, pubDER, jose.HS256, atHdr, wireMap(now)), "disallowed algorithm"},
		{"ES256 with an RSA key's kid", rawToken(t, ec.Key, jose.ES256, atHdr, wireMap(now)), "key not usable"},
		{"typ JWT", rawToken(t, key.Key, jose.RS256, hdr("JWT"), wireMap(now)), "typ"},
		{"typ of a receipt", rawToken(t, key.Key, jose.RS256, hdr(TypReceipt), wireMap(now)), "typ"},
		{"typ of a webhook", rawToken(t, key.Key, jose.RS256, hdr(TypWebhook), wireMap(now)), "typ"},
		{"no typ", rawToken(t, key.Key, jose.RS256, map[string]any{"kid": key.ID}, wireMap(now)), "typ"},
		{"no kid", rawToken(t, key.Key, jose.RS256, map[string]any{"typ": "at+jwt"}, wireMap(now)), "no key id"},
		{"JSON serialization", jsonForm, "malformed"},
		{"garbage", "a.b.c", "malformed"},
		{"one part", "abc", "malformed"},
		{"empty", "", "malformed"},
		{"huge", strings.Repeat("a", maxTokenLen+1), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := v.Verify(context.Background(), tt.tok)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				if c.Subject != "gepi" || c.Org != "GEPI" || !c.HasScope("rdc:did:read") {
					t.Fatalf("claims %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %q, want the reason %q", err, tt.reason)
			}
			if len(tt.tok) > 3 && strings.Contains(err.Error(), tt.tok) {
				t.Error("the error holds the token")
			}
		})
	}
	// The subtests run in parallel once this function returns: count after them.
	t.Cleanup(func() {
		if n := srv.hits.Load(); n != 1 {
			t.Errorf("%d JWKS fetches, want 1 (unknown kids are rate limited)", n)
		}
	})
}

func TestVerifyAlgorithms(t *testing.T) {
	t.Parallel()
	ps := *testKey(t, "rsa-ps")
	ps.Algorithm = string(jose.PS256)
	rs, ec := testKey(t, "rsa-a"), testKey(t, "ec-a")
	srv := newJWKSServer(t, NewKeyRing(rs, ec, &ps))
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	for _, k := range []*SigningKey{rs, ec, &ps} {
		t.Run(k.Algorithm, func(t *testing.T) {
			t.Parallel()
			tok := mustSign(t, NewKeyRing(k), claimsAt(clk.Now(), nil))
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The JWKS says RS256 for rs: an RSA-PSS signature by the same key is refused.
	psByRS := rawToken(t, rs.Key, jose.PS256, map[string]any{"kid": rs.ID, "typ": "at+jwt"}, wireMap(clk.Now()))
	if _, err := v.Verify(context.Background(), psByRS); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("PS256 with an RS256 key: %v", err)
	}
}

func TestVerifyReturnsACopy(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	srv := newJWKSServer(t, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	tok := mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.Filiali = []string{"F1", "F2"} }))
	c1, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	c1.Scope = "rdc:export"
	c1.Filiali = append(c1.Filiali, "F3")
	c2, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c2.HasScope("rdc:export") || len(c2.Filiali) != 2 {
		t.Fatalf("a caller's change reached the cache: %+v", c2)
	}
}

func TestVerifyCache(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	srv := newJWKSServer(t, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	ctx := context.Background()
	tok := mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.Expiry = clk.Now().Add(2 * time.Minute) }))
	for range 50 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}
	if n := v.cache.len(); n != 1 {
		t.Fatalf("cache holds %d tokens, want 1", n)
	}

	// A cached token still dies at exp (+ leeway).
	clk.Advance(2*time.Minute + 31*time.Second)
	if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("cached token after exp: %v", err)
	}

	// A long-lived token is re-checked after 5 minutes.
	long := mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.Expiry = clk.Now().Add(time.Hour) }))
	if _, err := v.Verify(ctx, long); err != nil {
		t.Fatal(err)
	}
	sum := sumOf(long)
	if v.cache.get(&sum, clk.Now().Add(4*time.Minute)) == nil {
		t.Fatal("not cached for 4 minutes")
	}
	if v.cache.get(&sum, clk.Now().Add(5*time.Minute)) != nil {
		t.Fatal("cached past 5 minutes")
	}

	// Refusals are not cached.
	bad := mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.Issuer = "https://evil" }))
	before := v.cache.len()
	_, _ = v.Verify(ctx, bad) // refused: what counts is the cache
	if v.cache.len() != before {
		t.Fatal("a refused token was cached")
	}
}

func TestCacheEviction(t *testing.T) {
	t.Parallel()
	for _, max := range []int{1, 16, 100, 10000} {
		c := newTokenCache(max)
		claims := &Claims{Subject: "x"}
		for i := range 3 * max {
			var sum [32]byte
			sum[0], sum[1], sum[2], sum[8] = byte(i), byte(i>>8), byte(i>>16), byte(i*7)
			c.put(&sum, claims, t0.Add(time.Hour), t0)
			if c.len() > max {
				t.Fatalf("max %d: %d entries", max, c.len())
			}
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	a := testRing(t, "rsa-a")
	srv := newJWKSServer(t, a)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	ctx := context.Background()
	tok1 := mustSign(t, a, claimsAt(clk.Now(), nil))
	if _, err := v.Verify(ctx, tok1); err != nil {
		t.Fatal(err)
	}

	// The issuer rotates: B signs, A is still published.
	rotated := a.Rotate(testKey(t, "rsa-b"), 1)
	srv.serve(t, rotated)
	tokB := mustSign(t, rotated, claimsAt(clk.Now(), func(c *Claims) { c.ID = "by-b" }))
	// Within 30 s of the last fetch the unknown kid is not fetched for.
	if _, err := v.Verify(ctx, tokB); !errors.Is(err, ErrInvalidToken) || srv.hits.Load() != 1 {
		t.Fatalf("within the refetch spacing: %v, %d fetches", err, srv.hits.Load())
	}
	clk.Advance(31 * time.Second)
	if _, err := v.Verify(ctx, tokB); err != nil {
		t.Fatalf("new key's token after the spacing: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	for name, tok := range map[string]string{
		"old token":          tok1,
		"old key, new token": mustSign(t, a, claimsAt(clk.Now(), func(c *Claims) { c.ID = "by-a-later" })),
	} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("%s after the rotation: %v", name, err)
		}
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want still 2", n)
	}
}

func TestUnknownKidsAreRateLimited(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	srv := newJWKSServer(t, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, mustSign(t, ring, claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	other := testRing(t, "rsa-other")
	for i := range 20 {
		tok := mustSign(t, other, claimsAt(clk.Now(), func(c *Claims) { c.ID = string(rune('a' + i)) }))
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	// 20 s of forged kids: no fetch. At 31 s, one.
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches after 20 s of unknown kids, want 1", n)
	}
	clk.Advance(11 * time.Second)
	_, _ = v.Verify(ctx, mustSign(t, other, claimsAt(clk.Now(), nil))) // an unknown kid: what counts is the fetch
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after 31 s, want 2", n)
	}
}

func TestStaleKeysRefreshInBackground(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	srv := newJWKSServer(t, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, mustSign(t, ring, claimsAt(clk.Now(), nil))); err != nil {
		t.Fatal(err)
	}
	clk.Advance(11 * time.Minute)
	if _, err := v.Verify(ctx, mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.ID = "2" }))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.hits.Load() == 2 }, "the background refresh")
	// The server has answered, but the refresh records its end (and clears
	// refreshing) a moment later; advancing the clock before that would
	// make the next refresh look already under way or just done.
	waitFor(t, func() bool { v.mu.Lock(); defer v.mu.Unlock(); return !v.refreshing }, "the refresh to end")

	// Stale keys and the issuer down: known keys keep working.
	srv.down.Store(true)
	clk.Advance(11 * time.Minute)
	for i := range 3 {
		tok := mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.ID = "down-" + string(rune('a'+i)) }))
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("stale keys, issuer down: %v", err)
		}
	}
	waitFor(t, func() bool { return srv.hits.Load() == 3 }, "one refresh attempt")
	waitFor(t, func() bool { v.mu.Lock(); defer v.mu.Unlock(); return !v.refreshing }, "the refresh to end")
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (one failed refresh, rate limited)", n)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIssuerDown(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	srv := newJWKSServer(t, ring)
	srv.down.Store(true)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	ctx := context.Background()
	tok := func(id string) string { return mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.ID = id })) }

	_, err := v.Verify(ctx, tok("1"))
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("issuer down, no keys: %v, want ErrKeysUnavailable", err)
	}
	// Right after a failure requests fail fast, without a request each.
	if _, err := v.Verify(ctx, tok("2")); !errors.Is(err, ErrKeysUnavailable) || srv.hits.Load() != 1 {
		t.Fatalf("during the backoff: %v, %d fetches", err, srv.hits.Load())
	}

	srv.down.Store(false)
	clk.Advance(failBackoff)
	if _, err := v.Verify(ctx, tok("3")); err != nil {
		t.Fatalf("issuer back: %v", err)
	}

	srv.down.Store(true)
	if _, err := v.Verify(ctx, tok("4")); err != nil {
		t.Fatalf("issuer down, keys cached: %v", err)
	}
	// A kid never seen cannot be checked while the issuer is down: 503, not 401.
	clk.Advance(refetchInterval)
	other := mustSign(t, testRing(t, "rsa-other"), claimsAt(clk.Now(), nil))
	if _, err := v.Verify(ctx, other); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("unknown kid, issuer down: %v", err)
	}
	if _, err := v.Verify(ctx, other); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("unknown kid, issuer down, rate limited: %v", err)
	}
	if _, err := v.Verify(ctx, tok("5")); err != nil {
		t.Fatalf("known kid after a failed refetch: %v", err)
	}
}

func TestBadJWKS(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	privJWK, err := (&jose.JSONWebKey{Key: ring.Signer().Key, KeyID: ring.Signer().ID}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"not JSON":         "<html>",
		"no keys":          `{"keys":[]}`,
		"symmetric key":    `{"keys":[{"kty":"oct","kid":"` + ring.Signer().ID + `","k":"c2VjcmV0"}]}`,
		"private key only": `{"keys":[` + string(privJWK) + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newJWKSServer(t, ring)
			srv.serveRaw([]byte(body))
			clk := newClock()
			v := newTestVerifier(srv, clk, nil)
			if _, err := v.Verify(context.Background(), mustSign(t, ring, claimsAt(clk.Now(), nil))); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("err = %v, want ErrKeysUnavailable", err)
			}
		})
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	good := testKey(t, "rsa-a")
	goodJWK, _ := (&jose.JSONWebKey{Key: good.Key.Public(), KeyID: good.ID, Use: "sig"}).MarshalJSON()
	encJWK, _ := (&jose.JSONWebKey{Key: testKey(t, "rsa-b").Key.Public(), KeyID: "enc", Use: "enc"}).MarshalJSON()
	noKid, _ := (&jose.JSONWebKey{Key: testKey(t, "rsa-other").Key.Public()}).MarshalJSON()
	hsAlg, _ := (&jose.JSONWebKey{Key: testKey(t, "rsa-ps").Key.Public(), KeyID: "hs", Algorithm: "HS256"}).MarshalJSON()
	body := `{"keys":[{"kty":"AKP","kid":"pq","alg":"ML-DSA-44","pub":"AAAA"},` + string(encJWK) + `,` +
		string(noKid) + `,` + string(hsAlg) + `,{"kty":"oct","kid":"s","k":"c2VjcmV0"},` + string(goodJWK) + `]}`
	ks, err := parseJWKS([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.keys) != 1 || ks.keys[0].KeyID != good.ID || len(ks.others) != 0 {
		t.Fatalf("kept %d keys and %d others, want only %s", len(ks.keys), len(ks.others), good.ID)
	}
}

func TestVerifierMisconfigured(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]VerifierConfig{
		"no JWKS URL":       {Issuer: testIssuer, Audience: testAudience},
		"relative JWKS URL": {JWKSURL: "/jwks", Issuer: testIssuer, Audience: testAudience},
		"no issuer":         {JWKSURL: "http://x/jwks", Audience: testAudience},
		"no audience":       {JWKSURL: "http://x/jwks", Issuer: testIssuer},
	} {
		if _, err := NewVerifier(cfg).Verify(context.Background(), "a.b.c"); !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("%s: err = %v, want ErrKeysUnavailable", name, err)
		}
	}
}

func TestVerifyGivesUpWithTheContext(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	body := mustJSON(t, ring.PublicJWKS())
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write(body) // a failed write shows as the verifier's error
	}))
	defer srv.Close()
	defer close(release)
	v := NewVerifier(VerifierConfig{JWKSURL: srv.URL, Issuer: testIssuer, Audience: testAudience})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, mustSign(t, ring, claimsAt(time.Now(), nil)))
	if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %v for a cancelled request", d)
	}
}

func TestConcurrentVerify(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	srv := newJWKSServer(t, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, func(c *VerifierConfig) { c.MaxCacheEntries = 16 })
	toks := make([]string, 40)
	for i := range toks {
		toks[i] = mustSign(t, ring, claimsAt(clk.Now(), func(c *Claims) { c.ID = string(rune('A' + i)) }))
	}
	bad := mustSign(t, testRing(t, "rsa-other"), claimsAt(clk.Now(), nil))
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			for j := range 5 {
				tok := toks[(i+j)%len(toks)]
				c, err := v.Verify(context.Background(), tok)
				if err != nil {
					t.Error(err)
					return
				}
				c.Filiali = append(c.Filiali, "mine")
				if _, err := v.Verify(context.Background(), bad); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("forged token: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d JWKS fetches for 100 concurrent cold verifications, want 1", n)
	}
	if n := v.cache.len(); n > 16 {
		t.Errorf("cache grew to %d entries past its bound of 16", n)
	}
}

// A caller that decided to fetch just as another fetch ended joins nothing in
// flight; the generation check stops it from fetching again.
func TestFetchSkipsWhenAnotherJustEnded(t *testing.T) {
	t.Parallel()
	ring := testRing(t, "rsa-a")
	srv := newJWKSServer(t, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	gen, ok, _ := v.mayFetch(clk.Now(), false)
	if !ok {
		t.Fatal("no fetch due on a new verifier")
	}
	if err := v.fetch(context.Background(), gen); err != nil {
		t.Fatal(err)
	}
	if err := v.fetch(context.Background(), gen); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// TestVerifyRefusesDocumentKeys serves the JWKS as oauth-token does (the
// access-token key and a document key) and forges, with the document key,
// tokens valid in every other respect, typ at+jwt included: each is refused,
// and none costs a JWKS fetch.
func TestVerifyRefusesDocumentKeys(t *testing.T) {
	t.Parallel()
	tokens := testRing(t, "rsa-a")
	doc := testKey(t, "ec-a")
	docs := NewDocumentKeys(doc)
	set, err := PublishJWKS(tokens, docs.PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, tokens)
	srv.serveRaw(mustJSON(t, set))
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	ctx := context.Background()
	now := clk.Now()
	if _, err := v.Verify(ctx, mustSign(t, tokens, claimsAt(now, nil))); err != nil {
		t.Fatalf("the access-token key's token: %v", err)
	}
	at := func(kid string) map[string]any { return map[string]any{"kid": kid, "typ": "at+jwt"} }
	for name, tc := range map[string]struct{ tok, reason string }{
		"under its published kid":   {rawToken(t, doc.Key, jose.ES256, at("doc-"+doc.ID), wireMap(now)), "does not sign access tokens"},
		"under its thumbprint":      {rawToken(t, doc.Key, jose.ES256, at(doc.ID), wireMap(now)), "unknown key"},
		"under the token key's kid": {rawToken(t, doc.Key, jose.ES256, at(tokens.Signer().ID), wireMap(now)), "key not usable"},
		"a receipt":                 {mustSignDoc(t, docs.Receipts(), wireMap(now)), "typ"},
	} {
		_, err := v.Verify(ctx, tc.tok)
		if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.reason)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1", n)
	}
}

func mustSignDoc(t *testing.T, s *DocumentSigner, v any) string {
	t.Helper()
	out, err := s.SignJWS(mustJSON(t, v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifyTrustsOnlyMarkedKeys: in a JWKS that marks its keys, a key
// without at+jwt is refused even without a marker of its own (a key slipped
// in beside marked ones); a JWKS that marks none is an external
// authorisation server's, whose signing keys all sign tokens.
func TestVerifyTrustsOnlyMarkedKeys(t *testing.T) {
	t.Parallel()
	marked := testRing(t, "rsa-a")
	plain := testKey(t, "rsa-b")
	plainJWK := jose.JSONWebKey{Key: plain.Key.Public(), KeyID: plain.ID, Algorithm: plain.Algorithm, Use: "sig"}
	ctx := context.Background()

	set := marked.PublicJWKS()
	set.Keys = append(set.Keys, PublishedKey{JSONWebKey: plainJWK})
	srv := newJWKSServer(t, marked)
	srv.serveRaw(mustJSON(t, set))
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	if _, err := v.Verify(ctx, mustSign(t, marked, claimsAt(clk.Now(), nil))); err != nil {
		t.Fatalf("marked key: %v", err)
	}
	if _, err := v.Verify(ctx, mustSign(t, NewKeyRing(plain), claimsAt(clk.Now(), nil))); !errors.Is(err, errKeyUse) {
		t.Fatalf("unmarked key beside marked ones: err = %v, want %v", err, errKeyUse)
	}

	external := newJWKSServer(t, marked)
	external.serveRaw(mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{plainJWK}}))
	v = newTestVerifier(external, newClock(), nil)
	if _, err := v.Verify(ctx, mustSign(t, NewKeyRing(plain), claimsAt(clk.Now(), nil))); err != nil {
		t.Fatalf("an external issuer's unmarked key: %v", err)
	}

	// Marked, but for something else only: no access-token key at all.
	onlyDocs := newJWKSServer(t, marked)
	onlyDocs.serveRaw(mustJSON(t, NewDocumentKeys(plain).PublicJWKS()))
	v = newTestVerifier(onlyDocs, newClock(), nil)
	if _, err := v.Verify(ctx, mustSign(t, NewKeyRing(plain), claimsAt(clk.Now(), nil))); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("a JWKS of document keys only: err = %v, want ErrKeysUnavailable", err)
	}
}
