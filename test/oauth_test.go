package test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/shared/auth"
)

func tokenURL() string { return h.URL("oauth-token", "") }

// claimsOf reads a token's header and claims without verifying (the tests
// that verify go through the functions).
func claimsOf(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS")
	}
	var hdr, cl map[string]any
	for i, v := range []*map[string]any{&hdr, &cl} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, cl
}

func TestTokenClientSecretBasicAndPost(t *testing.T) {
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := h.TokenSource("gepi")
		cfg.AuthStyle = style
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Expiry.Before(time.Now()) {
			t.Errorf("style %d: type %q expiry %v", style, tok.TokenType, tok.Expiry)
		}
		hdr, cl := claimsOf(t, tok.AccessToken)
		if hdr["typ"] != "at+jwt" || hdr["kid"] == nil {
			t.Errorf("header %v", hdr)
		}
		if cl["iss"] != h.Issuer || cl["sub"] != "gepi" || cl["org"] != "GEPI" || cl["jti"] == nil || cl["iat"] == nil {
			t.Errorf("claims %v", cl)
		}
		if aud, _ := cl["aud"].(string); aud != "rdc-interop" {
			if list, _ := cl["aud"].([]any); len(list) != 1 || list[0] != "rdc-interop" {
				t.Errorf("aud %v", cl["aud"])
			}
		}
		if cl["scope"] != "rdc:transfer:cpi rdc:did:read rdc:patto:read rdc:feed:gepi rdc:equipe rdc:condizionalita:write" {
			t.Errorf("scope %v", cl["scope"])
		}
	}
}

func TestTokenScopeNarrowing(t *testing.T) {
	tok := token(t, "anpal", "rdc:did:read")
	_, cl := claimsOf(t, tok)
	if cl["scope"] != "rdc:did:read" {
		t.Fatalf("scope %v", cl["scope"])
	}
	// A token narrowed to did:read cannot call what needs another scope.
	r := postJSON(t, didURL(), tok, map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[0]})
	if r.status != http.StatusOK {
		t.Fatalf("did-check with a narrowed token: %d", r.status)
	}
	_, err := h.TokenSource("gepi", "rdc:export").Token(context.Background())
	var re *oauth2.RetrieveError
	if err == nil || !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
		t.Fatalf("a scope the client lacks: %v", err)
	}
}

func form(t *testing.T, vals url.Values, header map[string]string) reply {
	t.Helper()
	return do(t, call{url: tokenURL(), contentType: "application/x-www-form-urlencoded", body: []byte(vals.Encode()), header: header})
}

func TestTokenErrors(t *testing.T) {
	gepi := h.Clients["gepi"]
	cases := []struct {
		name   string
		vals   url.Values
		status int
		code   string
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"gepi"}, "client_secret": {"nope"}}, 401, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}}, 401, "invalid_client"},
		{"no grant", url.Values{"client_id": {"gepi"}, "client_secret": {gepi.ClientSecret}}, 400, "invalid_request"},
		{"other grant", url.Values{"grant_type": {"password"}, "client_id": {"gepi"}, "client_secret": {gepi.ClientSecret}}, 400, "unsupported_grant_type"},
		{"no client auth", url.Values{"grant_type": {"client_credentials"}}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := form(t, tc.vals, nil)
			m := assertProblem(t, r, tc.status, gepi.ClientSecret)
			if m["error"] != tc.code {
				t.Errorf("error %v, want %s", m["error"], tc.code)
			}
		})
	}
	t.Run("json body", func(t *testing.T) {
		r := do(t, call{url: tokenURL(), contentType: "application/json", body: []byte(`{"grant_type":"client_credentials"}`)})
		assertProblem(t, r, http.StatusUnsupportedMediaType)
	})
}

// TestTokenPrivateKeyJWT registers a client that authenticates with a signed
// assertion (RFC 7523), as PDND clients do, and checks replay protection.
func TestTokenPrivateKeyJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "pdnd-1", Algorithm: "RS256", Use: "sig"}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	_, err = h.DB.Exec(context.Background(), `
		INSERT INTO oauth_client (client_id, nome, jwks, org, scopes) VALUES ('pdnd-gepi', 'GePI via PDND', $1, 'GEPI', '{rdc:did:read}')`, jwks)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "pdnd-1"))
	if err != nil {
		t.Fatal(err)
	}
	assertion := func(aud string, exp time.Duration) string {
		now := time.Now()
		s, err := jwt.Signed(signer).Claims(jwt.Claims{
			Issuer: "pdnd-gepi", Subject: "pdnd-gepi", Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(exp)), ID: uuid.NewString(),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	vals := func(a string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	}

	good := assertion(tokenURL(), 2*time.Minute)
	r := form(t, vals(good), nil)
	if r.status != http.StatusOK {
		t.Fatalf("valid assertion: %d %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	decodeInto(t, r, &tok)
	if tok.Scope != "rdc:did:read" {
		t.Errorf("scope %q", tok.Scope)
	}
	if r := postJSON(t, didURL(), tok.AccessToken, map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[0]}); r.status != http.StatusOK {
		t.Errorf("the PDND client's token on did-check: %d", r.status)
	}

	for name, a := range map[string]string{
		"replayed":     good,
		"wrong aud":    assertion("https://elsewhere.example/token", 2*time.Minute),
		"expired":      assertion(tokenURL(), -time.Minute),
		"too long":     assertion(tokenURL(), time.Hour),
		"other signer": forgeAssertion(t),
	} {
		t.Run(name, func(t *testing.T) {
			m := assertProblem(t, form(t, vals(a), nil), http.StatusUnauthorized)
			if m["error"] != "invalid_client" {
				t.Errorf("error %v", m["error"])
			}
		})
	}
}

func forgeAssertion(t *testing.T) string {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "pdnd-1"))
	now := time.Now()
	s, _ := jwt.Signed(signer).Claims(jwt.Claims{Issuer: "pdnd-gepi", Subject: "pdnd-gepi", Audience: jwt.Audience{tokenURL()},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: uuid.NewString()}).Serialize()
	return s
}

func TestMetadataAndJWKS(t *testing.T) {
	r := do(t, call{method: http.MethodGet, url: h.URL("oauth-token", "/.well-known/oauth-authorization-server")})
	if r.status != http.StatusOK {
		t.Fatalf("metadata: %d", r.status)
	}
	md := r.json(t)
	if md["issuer"] != h.Issuer || md["token_endpoint"] == nil || md["jwks_uri"] == nil {
		t.Fatalf("metadata %v", md)
	}
	methods, _ := json.Marshal(md["token_endpoint_auth_methods_supported"])
	for _, m := range []string{"client_secret_basic", "client_secret_post", "private_key_jwt"} {
		if !strings.Contains(string(methods), m) {
			t.Errorf("metadata lacks %s", m)
		}
	}
	// Every scope a partner is given is one the metadata announces.
	announced := map[string]bool{}
	for _, s := range md["scopes_supported"].([]any) {
		announced[s.(string)] = true
	}
	for _, c := range demo.Clients() {
		for _, s := range c.Scopes {
			if !announced[s] {
				t.Errorf("client %s has scope %s, which scopes_supported lacks", c.ClientID, s)
			}
		}
	}
	r = do(t, call{method: http.MethodGet, url: md["jwks_uri"].(string)})
	var set jose.JSONWebKeySet
	decodeInto(t, r, &set)
	if len(set.Keys) == 0 {
		t.Fatal("empty JWKS")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("the JWKS publishes a private key")
		}
	}
}

// TestKeyRotation rotates the signing key: the new and the old key are
// published together, tokens of both keep working, and new tokens use the new key.
func TestKeyRotation(t *testing.T) {
	path := filepath.Join(h.SecretsDir, "oauth-signing-keys")
	oldPEM, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	oldRing, err := auth.ParseKeyRing(oldPEM)
	if err != nil {
		t.Fatal(err)
	}
	oldTok := token(t, "gepi")
	oldKid := headerKid(t, oldTok)

	k, err := auth.GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	newPEM, err := oldRing.Rotate(k, 1).MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, newPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.WriteFile(path, oldPEM, 0o600); err != nil {
			t.Error(err)
		}
	}()

	var newTok string
	deadline := time.Now().Add(45 * time.Second)
	for {
		newTok = token(t, "gepi")
		if headerKid(t, newTok) != oldKid || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if headerKid(t, newTok) == oldKid {
		t.Fatal("the rotated key is not used for new tokens")
	}
	var set jose.JSONWebKeySet
	decodeInto(t, do(t, call{method: http.MethodGet, url: h.URL("oauth-token", "/jwks")}), &set)
	if len(set.Key(oldKid)) == 0 || len(set.Key(headerKid(t, newTok))) == 0 {
		t.Fatalf("the JWKS does not publish both keys: %d keys", len(set.Keys))
	}
	// A function learns the new key when it first sees its kid; it may refetch
	// keys only so often, so allow for that interval.
	deadline = time.Now().Add(40 * time.Second)
	for {
		r := postJSON(t, didURL(), newTok, map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[0]})
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new key's token refused: %d %s", r.status, r.body)
		}
		time.Sleep(time.Second)
	}
	if r := postJSON(t, didURL(), oldTok, map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[0]}); r.status != http.StatusOK {
		t.Errorf("old key's token after rotation: %d %s", r.status, r.body)
	}
}

func headerKid(t *testing.T, tok string) string {
	t.Helper()
	hdr, _ := claimsOf(t, tok)
	kid, _ := hdr["kid"].(string)
	return kid
}
