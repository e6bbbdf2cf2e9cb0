package integrity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

var (
	keysMu sync.Mutex
	keys   = map[string]crypto.Signer{}
)

// testKey is a key by name, made once per test binary (RSA is slow to make).
func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[name]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch name[:2] {
	case "ec":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p3":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rs":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default: // "weak": a 1024-bit RSA key
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys[name] = k
	return k
}

// rawToken signs claims with header fields, as a partner's library would,
// without the checks of a signer.
func rawToken(t testing.TB, key any, alg jose.SignatureAlgorithm, hdr map[string]any, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range hdr {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned is a JWS with alg none: header and claims, no signature.
func unsigned(t testing.TB, claims any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// with returns a copy of base with the pairs kv set; a nil value deletes.
func with(base map[string]any, kv ...any) map[string]any {
	out := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
