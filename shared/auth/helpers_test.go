package auth

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testIssuer   = "https://issuer.test/function/oauth-token"
	testAudience = "rdc-interop"
)

// t0 is the fixed "now" of the tests: fake clocks make the rate limits and
// expiries testable without sleeping.
var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// RSA key generation takes tens of milliseconds (more under -race), so the
// tests share a few keys.
var (
	keyPoolMu sync.Mutex
	keyPool   = map[string]*SigningKey{}
)

func testKey(t testing.TB, name string) *SigningKey {
	t.Helper()
	keyPoolMu.Lock()
	defer keyPoolMu.Unlock()
	if k, ok := keyPool[name]; ok {
		return k
	}
	var k *SigningKey
	var err error
	if name[:2] == "ec" {
		k, err = GenerateECKey()
	} else {
		k, err = GenerateRSAKey()
	}
	if err != nil {
		t.Fatal(err)
	}
	keyPool[name] = k
	return k
}

func testRing(t testing.TB, names ...string) *KeyRing {
	t.Helper()
	var keys []*SigningKey
	for _, n := range names {
		keys = append(keys, testKey(t, n))
	}
	return NewKeyRing(keys...)
}

// jwksServer serves a ring's JWKS, counts requests and can play dead.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
	hits atomic.Int64
	down atomic.Bool
}

func newJWKSServer(t testing.TB, ring *KeyRing) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(t, ring)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body) // a failed write shows as the verifier's error
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(t testing.TB, ring *KeyRing) {
	t.Helper()
	b, err := json.Marshal(ring.PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	s.serveRaw(b)
}

func (s *jwksServer) serveRaw(b []byte) {
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

func newTestVerifier(srv *jwksServer, clk *clock, mut func(*VerifierConfig)) *Verifier {
	cfg := VerifierConfig{JWKSURL: srv.URL, Issuer: testIssuer, Audience: testAudience, Now: clk.Now}
	if mut != nil {
		mut(&cfg)
	}
	return NewVerifier(cfg)
}

// claimsAt is a valid claim set as the token endpoint issues it at now.
func claimsAt(now time.Time, mut func(*Claims)) Claims {
	c := Claims{
		Issuer: testIssuer, Subject: "gepi", ClientID: "gepi", Audience: []string{testAudience},
		IssuedAt: now, Expiry: now.Add(10 * time.Minute), ID: "jti-1",
		Scope: "rdc:did:read rdc:patto:read", Org: "GEPI",
	}
	if mut != nil {
		mut(&c)
	}
	return c
}

func mustSign(t testing.TB, r *KeyRing, c Claims) string {
	t.Helper()
	tok, err := r.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken signs an arbitrary payload with arbitrary headers, to build the
// tokens a correct issuer never would.
func rawToken(t testing.TB, key any, alg jose.SignatureAlgorithm, headers map[string]any, payload any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range headers {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	switch p := payload.(type) {
	case []byte:
		b = p
	default:
		if b, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wireMap is a valid claim set as a map, to delete or retype single claims.
func wireMap(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "gepi", "client_id": "gepi", "aud": testAudience,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "raw-1",
		"scope": "rdc:did:read", "org": "GEPI",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sumOf(raw string) [sha256.Size]byte { return sha256.Sum256([]byte(raw)) }
