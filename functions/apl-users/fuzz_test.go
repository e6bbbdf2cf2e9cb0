package function

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// FuzzCreate: any body decodes and checks to a creation or a 4xx naming
// fields, never a panic, and an accepted one holds only public keys.
func FuzzCreate(f *testing.F) {
	f.Add([]byte(`{"ruolo":"super","nome":"x","email":"a@b.it","report_webhook_url":"https://e.com/r"}`))
	f.Add([]byte(`{"ruolo":"operatore","nome":"x","filiali":["1001-RM01"]}`))
	f.Add([]byte(`{"ruolo":"super","nome":"x","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}`))
	f.Add([]byte(`{"ruolo":"super","nome":"x","jwks":{"keys":[{"kty":"oct","k":"AA"}]}}`))
	f.Add([]byte(`{"nome":"\u0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in createRequest
		if err := web.DecodeValue(body, &in); err != nil {
			if problem.Status(err) >= 500 {
				t.Fatalf("decode: %v", err)
			}
			return
		}
		c, err := in.check()
		if err != nil {
			var pe *problem.Error
			if !errors.As(err, &pe) || problem.Status(err) != 400 {
				t.Fatalf("check: %v", err)
			}
			return
		}
		if c.jwks != nil {
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(c.jwks, &set); err != nil {
				t.Fatalf("stored keys do not parse: %v", err)
			}
			for _, k := range set.Keys {
				if !k.IsPublic() {
					t.Fatal("a private key accepted")
				}
			}
		}
	})
}

// FuzzJWKS: parseJWKS never panics and never keeps a private key.
func FuzzJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		stored, errs := parseJWKS(raw)
		if errs != nil {
			if stored != nil {
				t.Fatal("keys and errors")
			}
			return
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(stored, &set); err != nil || len(set.Keys) == 0 {
			t.Fatalf("stored %s: %v", stored, err)
		}
		for _, k := range set.Keys {
			if !k.IsPublic() {
				t.Fatal("a private key accepted")
			}
		}
	})
}

// FuzzPatch and FuzzWebhook: no panic, only 400s.
func FuzzPatch(f *testing.F) {
	f.Add([]byte(`{"email":null,"report_webhook_url":"https://e.com/x"}`))
	f.Add([]byte(`{"nome":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := decodePatch(body); err != nil && problem.Status(err) != 400 {
			t.Fatalf("%v", err)
		}
	})
}

func FuzzWebhook(f *testing.F) {
	for _, s := range []string{"https://e.com/x", "http://localhost/x", "https://[::1]/", "http://[::ffff:127.0.0.1]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, fe := checkWebhook(&s)
		if fe == nil && (v == nil || *v != s) {
			t.Fatal("accepted but not kept as sent")
		}
	})
}
