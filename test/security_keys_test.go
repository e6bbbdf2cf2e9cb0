package test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/rdc-interop/faas/infra/stackfile"
	"github.com/rdc-interop/faas/shared/auth"
)

// The functions that sign what the service hands out (receipts, webhook
// notices, the audit log's tree heads, the answers' ModI signatures): whatever private key they hold must
// not be able to mint an access token.
var documentSigners = []string{"anonymised-export", "apl-daily-report", "audit-log",
	"did-check", "patto-check", "did-holder-exclusion", "transfer-to-cpi", "transfer-to-social-services"}

// signedTyps are the typs each signing secret's keys are published for.
var signedTyps = map[string][]string{
	"document-signing-keys":  auth.DocumentTyps,
	"audit-log-signing-keys": {"rdc-tree-head+jws"},
}

// mountedPrivateKeys returns, by secret name, the private keys in the
// secrets stack.yml mounts into fn, read from the secrets the harness wrote.
// It reads the deployment description rather than naming a secret, so the
// test follows whatever key a function is really given.
func mountedPrivateKeys(t *testing.T, fn string) map[string][]*auth.SigningKey {
	t.Helper()
	s, err := stackfile.Read(filepath.Join("..", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := s.Functions[fn]
	if !ok {
		t.Fatalf("stack.yml has no %s", fn)
	}
	out := map[string][]*auth.SigningKey{}
	for _, name := range f.Secrets {
		rest, err := os.ReadFile(filepath.Join(h.SecretsDir, name))
		if err != nil {
			continue // a secret the local set-up does not create (partners' client secrets)
		}
		// One block at a time, so that every key of a rotation is tried, not
		// only the signer.
		for {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			if ring, err := auth.ParseKeyRing(pem.EncodeToMemory(block)); err == nil {
				out[name] = append(out[name], ring.Signer())
			}
		}
	}
	return out
}

// publishedJWKS is the token endpoint's JWKS as partners read it: each key
// with every member, including those go-jose does not know.
func publishedJWKS(t *testing.T) []map[string]any {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: h.URL("oauth-token", "/jwks")})
	if r.status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.status, r.body)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	return doc.Keys
}

// publishedKid is the kid under which the JWKS publishes pub, "" if it does not.
func publishedKid(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	want := thumbprintOf(t, pub)
	for _, k := range publishedJWKS(t) {
		b, _ := json.Marshal(k)
		var jwk jose.JSONWebKey
		if json.Unmarshal(b, &jwk) != nil {
			continue
		}
		if thumbprintOf(t, jwk.Key) == want {
			return jwk.KeyID
		}
	}
	return ""
}

func thumbprintOf(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// forgeWith signs, with key and under kid, an access token that would be
// valid in every other respect (typ at+jwt, issuer, audience, scopes, times).
func forgeWith(t *testing.T, key *auth.SigningKey, kid string) string {
	t.Helper()
	now := time.Now().UTC()
	payload, err := json.Marshal(auth.Claims{
		Issuer: h.Issuer, Subject: "gepi", ClientID: "gepi", Audience: []string{"rdc-interop"},
		IssuedAt: now, Expiry: now.Add(5 * time.Minute), ID: uuid.NewString(),
		Scope: "rdc:did:read rdc:patto:read rdc:transfer:cpi", Org: "GEPI",
	})
	if err != nil {
		t.Fatal(err)
	}
	alg := jose.RS256
	if _, ok := key.Key.(*ecdsa.PrivateKey); ok {
		alg = jose.ES256
	} else if _, ok := key.Key.(*rsa.PrivateKey); !ok {
		t.Fatalf("key of type %T", key.Key)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key.Key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSecurityKeysSignersCannotMintTokens takes every private key that
// stack.yml gives the functions signing receipts and webhooks and forges an
// access token with it, under the kid the JWKS publishes it with and under
// its bare thumbprint: a function must refuse it (401). The same forgery
// with the token endpoint's own key is accepted, so a refusal is due to the
// key, not to the forgery.
func TestSecurityKeysSignersCannotMintTokens(t *testing.T) {
	body := map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[0]}

	issuer := mountedPrivateKeys(t, "oauth-token")["oauth-signing-keys"]
	if len(issuer) == 0 {
		t.Fatal("oauth-token is given no oauth-signing-keys")
	}
	if r := postJSON(t, didURL(), forgeWith(t, issuer[0], publishedKid(t, issuer[0].Key.Public())), body); r.status != http.StatusOK {
		t.Fatalf("control: a token signed with the issuer's key: %d %s", r.status, r.body)
	}

	tried := 0
	for _, fn := range documentSigners {
		for secret, keys := range mountedPrivateKeys(t, fn) {
			for i, k := range keys {
				kids := []string{thumbprintOf(t, k.Key.Public())}
				if kid := publishedKid(t, k.Key.Public()); kid != "" && kid != kids[0] {
					kids = append(kids, kid)
				}
				for _, kid := range kids {
					tried++
					r := postJSON(t, didURL(), forgeWith(t, k, kid), body)
					if r.status != http.StatusUnauthorized {
						t.Errorf("%s holds %s (key %d): a token it signed under kid %s got %d, want 401", fn, secret, i, kid, r.status)
						continue
					}
					assertProblem(t, r, http.StatusUnauthorized)
				}
			}
		}
	}
	if tried == 0 {
		t.Fatal("the receipt and webhook signers hold no private key: nothing signs receipts")
	}
}

// TestSecurityKeysJWKSMarksKeys checks the published JWKS: the access-token
// key is marked as signing at+jwt, each document key (the keys of the
// receipt and webhook signers) as signing receipts and webhooks, each
// tree-head key as signing tree heads, none at+jwt, every key "use":"sig",
// and no kid is shared.
func TestSecurityKeysJWKSMarksKeys(t *testing.T) {
	tokenKid := headerKid(t, token(t, "gepi"))
	byKid := map[string]map[string]any{}
	for _, k := range publishedJWKS(t) {
		kid, _ := k["kid"].(string)
		if kid == "" || byKid[kid] != nil {
			t.Fatalf("a JWK without a kid or with a repeated one: %v", k["kid"])
		}
		if k["use"] != "sig" {
			t.Errorf("key %s: use %v, want sig", kid, k["use"])
		}
		byKid[kid] = k
	}
	if got := typsOf(byKid[tokenKid]); !slices.Equal(got, []string{"at+jwt"}) {
		t.Errorf("the access-token key %s is published with rdc_typ %v, want [at+jwt]", tokenKid, got)
	}
	documents := 0
	for _, fn := range documentSigners {
		for secret, keys := range mountedPrivateKeys(t, fn) {
			for _, k := range keys {
				documents++
				kid := publishedKid(t, k.Key.Public())
				if kid == "" {
					t.Errorf("%s's %s: a key is not published, its signatures cannot be checked", fn, secret)
					continue
				}
				if typs := typsOf(byKid[kid]); !slices.Equal(typs, signedTyps[secret]) {
					t.Errorf("%s's %s: key %s is published with rdc_typ %v, want %v", fn, secret, kid, typs, signedTyps[secret])
				}
				if kid == tokenKid {
					t.Errorf("%s's %s: key %s is the access-token key", fn, secret, kid)
				}
			}
		}
	}
	if documents == 0 {
		t.Fatal("no document key is mounted in the receipt and webhook signers")
	}
}

// typsOf reads a published JWK's rdc_typ: the JWS typs the key signs.
func typsOf(k map[string]any) []string {
	raw, _ := k["rdc_typ"].([]any)
	var out []string
	for _, v := range raw {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// verifyDocument checks a receipt's or a webhook's JWS as a partner would:
// its header typ, and that the JWKS publishes its key for that typ and not
// for access tokens; it returns the payload.
func verifyDocument(t *testing.T, compact, typ string) []byte {
	t.Helper()
	sig, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	hdr := sig.Signatures[0].Protected
	if got, _ := hdr.ExtraHeaders[jose.HeaderType].(string); got != typ {
		t.Errorf("signed with typ %q, want %q", got, typ)
	}
	for _, k := range publishedJWKS(t) {
		if k["kid"] != hdr.KeyID {
			continue
		}
		if typs := typsOf(k); !slices.Contains(typs, typ) || slices.Contains(typs, "at+jwt") {
			t.Errorf("%s signed by key %s, published with rdc_typ %v", typ, hdr.KeyID, typs)
		}
		b, _ := json.Marshal(k)
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(b, &jwk); err != nil {
			t.Fatalf("published key %s: %v", hdr.KeyID, err)
		}
		payload, err := sig.Verify(jwk)
		if err != nil {
			t.Fatalf("%s does not verify with the published key: %v", typ, err)
		}
		return payload
	}
	t.Fatalf("%s signed by key %s, which the JWKS does not publish", typ, hdr.KeyID)
	return nil
}
