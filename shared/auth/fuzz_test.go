package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, and it
// may accept only the token the issuer really signed (possibly in another
// base64 spelling of the same bytes, which go-jose decodes leniently).
func FuzzVerify(f *testing.F) {
	ring := testRing(f, "rsa-a")
	srv := newJWKSServer(f, ring)
	clk := newClock()
	v := newTestVerifier(srv, clk, nil)
	good := mustSign(f, ring, claimsAt(clk.Now(), nil))
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".")
	f.Add(rawToken(f, ring.Signer().Key, jose.RS256, map[string]any{"kid": "x", "typ": "at+jwt"}, wireMap(clk.Now())))
	f.Add("a.b.c")
	f.Add("")
	f.Add("{}")

	want := decodeParts(good)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			// (Only token-shaped inputs: the messages hold no dots, so a
			// short input cannot match a message by chance.)
			if strings.Count(raw, ".") == 2 && strings.Contains(err.Error(), raw) {
				t.Fatal("the error holds the token")
			}
			return
		}
		got := decodeParts(raw)
		if c == nil || got == nil || !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) || !bytes.Equal(got[2], want[2]) {
			t.Fatalf("accepted a token the issuer did not sign: %q", raw)
		}
	})
}

func decodeParts(tok string) [][]byte {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	out := make([][]byte, 3)
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return nil
		}
		out[i] = b
	}
	return out
}
