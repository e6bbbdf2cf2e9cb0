package integrity

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// digestReasons are all a refusal of a Digest may say: nothing of the header.
var digestReasons = map[string]bool{
	"empty": true, "too long": true, "not a list of algorithm=value": true, "an algorithm named twice": true,
	"a SHA-256 value that is not the base64 of a SHA-256 digest": true,
	"a SHA-512 value that is not the base64 of a SHA-512 digest": true, "no SHA-256 or SHA-512 entry": true,
}

// FuzzParseDigest feeds arbitrary Digest headers: never a panic, a refusal
// always ErrDigest and never holding the header, and what parses has one
// entry per known algorithm, each of its digest's size, and matches a body
// only if it is that body's.
func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{DigestOf([]byte("x")), "sha-256=" + strings.Repeat("A", 43) + "=", "SHA-512=AA==, SHA-256=AA==",
		"MD5=abc, UNIXsum=1", "", ",", "=", "SHA-256=", "SHA-256==", " , SHA-256=" + strings.Repeat("/", 44)} {
		f.Add(s, []byte("x"))
	}
	f.Fuzz(func(t *testing.T, h string, body []byte) {
		d, err := ParseDigest(h)
		if err != nil {
			if !errors.Is(err, ErrDigest) {
				t.Fatalf("err = %v, want ErrDigest", err)
			}
			if !digestReasons[strings.TrimPrefix(err.Error(), ErrDigest.Error()+": ")] {
				t.Fatalf("a refusal that may hold the header: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range d.Entries {
			newHash, ok := algorithms[e.Algorithm]
			if !ok || seen[e.Algorithm] || len(e.Sum) != newHash().Size() {
				t.Fatalf("entry %q of %d bytes", e.Algorithm, len(e.Sum))
			}
			seen[e.Algorithm] = true
		}
		if d.Matches(body) && len(d.Entries) == 1 && d.Entries[0].Algorithm == "SHA-256" {
			if want, _ := ParseDigest(DigestOf(body)); !want.Matches(body) || string(want.Entries[0].Sum) != string(d.Entries[0].Sum) {
				t.Fatal("a Digest matched a body that is not its")
			}
		}
	})
}

// FuzzParseSignedHeaders feeds arbitrary signed_headers claims.
func FuzzParseSignedHeaders(f *testing.F) {
	for _, s := range []string{`[{"digest":"SHA-256=x"},{"content-type":"application/json"}]`, `[{"a":"1","b":"2"}]`, `[{"a":1}]`,
		`[{"A":"1"},{"a":"1"}]`, `[]`, `[null]`, `[{"":"x"}]`, `[{"x":"\u0000"}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, claim string) {
		var items []json.RawMessage
		if json.Unmarshal([]byte(claim), &items) != nil {
			return
		}
		m, err := ParseSignedHeaders(items)
		if err != nil {
			return
		}
		if len(m) != len(items) {
			t.Fatalf("%d headers of %d items", len(m), len(items))
		}
		for name, value := range m {
			if name == "" || name != strings.ToLower(name) || !token(name) || !printable(value) || value != strings.TrimSpace(value) {
				t.Fatalf("header %q: %q", name, value)
			}
		}
	})
}

// FuzzVerifyRequest feeds arbitrary signatures and Digest headers: never a
// panic, a refusal is always one of the two kinds, and only the signature
// the client's key made verifies.
func FuzzVerifyRequest(f *testing.F) {
	k := testKey(f, "ec-fuzz")
	keys := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k", Algorithm: "ES256", Use: "sig"}}}
	dg := DigestOf([]byte("{}"))
	good := rawToken(f, k, jose.ES256, map[string]any{"kid": "k", "typ": "JWT"}, map[string]any{
		"iss": client, "aud": audience, "iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix(),
		"signed_headers": []map[string]string{{"digest": dg}}})
	parts := strings.Split(good, ".")
	f.Add(good, dg)
	f.Add(parts[0]+"."+parts[1]+".", dg)
	f.Add("eyJhbGciOiJub25lIn0."+parts[1]+".", dg)
	f.Add(good, "SHA-256=AAAA")
	f.Add("a.b.c", "")
	f.Fuzz(func(t *testing.T, raw, digest string) {
		req, err := VerifyRequest(raw, RequestCheck{ClientID: client, Audiences: []string{audience}, Keys: keys,
			Header: header("Digest", digest), Now: func() time.Time { return t0 }})
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrHeaders) {
				t.Fatalf("err = %v", err)
			}
			return
		}
		got := strings.Split(raw, ".")
		if len(got) != 3 || got[1] != parts[1] || req.Digest.String() != dg {
			// go-jose may read another base64 spelling of the same bytes;
			// the claims must be the signed ones all the same.
			if !req.Digest.Matches([]byte("{}")) {
				t.Fatalf("accepted a signature the client did not make: %q", raw)
			}
		}
	})
}
