package test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// AgID ModI INTEGRITY_REST_01, as a partner sees it. Everything a partner
// does is done here with lestrrat-go/jwx, a JOSE library the functions do
// not use: the platform's JWKS fetched as a partner fetches it, the
// answers' signatures verified with it, the client's requests signed with
// the key it registered.

// integrityClient is the demo's GePI client registered with integrita_rest.
const integrityClient = "gepi-integrita"

// digestOf is a body's Digest header value, computed here: SHA-256, base64.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
}

// platformKeys is the JWKS oauth-token publishes, found through its
// RFC 8414 metadata.
func platformKeys(t *testing.T) jwk.Set {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: h.URL("oauth-token", "/.well-known/oauth-authorization-server")})
	var md struct {
		JWKSURI string `json:"jwks_uri"`
	}
	decodeInto(t, r, &md)
	set, err := jwk.Fetch(context.Background(), md.JWKSURI)
	if err != nil {
		t.Fatalf("fetch the JWKS: %v", err)
	}
	return set
}

// answerClaims are what an answer's signature holds, read from the
// verified payload.
type answerClaims struct {
	Issuer        string              `json:"iss"`
	Audience      any                 `json:"aud"`
	JTI           string              `json:"jti"`
	SignedHeaders []map[string]string `json:"signed_headers"`
	RequestMethod string              `json:"request_method"`
	RequestURI    string              `json:"request_uri"`
	RequestDigest string              `json:"request_digest"`
	RequestJTI    string              `json:"request_jti"`
}

// verifyAnswer checks an answer as a partner would: its Digest is its
// body's; its Agid-JWT-Signature is a JWT of typ JWT signed by a key the
// JWKS publishes for JWT and not for access tokens, issued by the
// platform for the client, fresh, naming the Digest, the Content-Type and
// the request id in signed_headers with the answer's values.
func verifyAnswer(t *testing.T, set jwk.Set, r reply) answerClaims {
	t.Helper()
	if got, want := r.header.Get("Digest"), digestOf(r.body); got != want {
		t.Fatalf("Digest %q, the body's is %q", got, want)
	}
	raw := r.header.Get("Agid-JWT-Signature")
	if raw == "" {
		t.Fatalf("no Agid-JWT-Signature (%d)", r.status)
	}
	msg, err := jws.ParseString(raw)
	if err != nil {
		t.Fatal(err)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	typ, _ := hdr.Type()
	kid, _ := hdr.KeyID()
	if typ != "JWT" {
		t.Errorf("typ %q, want JWT", typ)
	}
	key, ok := set.LookupKeyID(kid)
	if !ok {
		t.Fatalf("the signing key %s is not in the JWKS", kid)
	}
	var typs []any
	if err := key.Get("rdc_typ", &typs); err != nil || !slices.Contains(typs, any("JWT")) || slices.Contains(typs, any("at+jwt")) {
		t.Errorf("the signing key is published with rdc_typ %v (%v)", typs, err)
	}
	payload, err := jws.Verify([]byte(raw), jws.WithKeySet(set))
	if err != nil {
		t.Fatalf("the signature does not verify with the JWKS: %v", err)
	}
	if _, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithIssuer(h.Issuer), jwt.WithAudience(integrityClient), jwt.WithAcceptableSkew(5*time.Second)); err != nil {
		t.Fatalf("the JWT does not validate: %v", err)
	}
	var c answerClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"digest": r.header.Get("Digest"), "content-type": r.header.Get("Content-Type"), "x-request-id": r.header.Get("X-Request-Id"),
	}
	got := map[string]string{}
	for _, m := range c.SignedHeaders {
		if len(m) != 1 {
			t.Fatalf("signed_headers member %v is not of one member", m)
		}
		for k, v := range m {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v || v == "" {
			t.Errorf("signed_headers %s = %q, the answer's is %q", k, got[k], v)
		}
	}
	if c.JTI == "" {
		t.Error("no jti")
	}
	return c
}

// signer signs the integrity client's requests with the key it
// registered (its private half is in clients.json).
type signer struct {
	key jwk.Key
}

func integritySigner(t *testing.T) signer {
	t.Helper()
	b, _ := pem.Decode([]byte(h.Clients[integrityClient].TrackingKey))
	if b == nil {
		t.Fatal("the integrity client has no key")
	}
	priv, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	// The kid it registered.
	var registered []byte
	if err := h.DB.QueryRow(context.Background(), `SELECT jwks FROM oauth_client WHERE client_id = $1`, integrityClient).Scan(&registered); err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(registered)
	if err != nil || set.Len() != 1 {
		t.Fatalf("registered JWKS: %v", err)
	}
	pub, _ := set.Key(0)
	kid, _ := pub.KeyID()
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return signer{key: key}
}

// sign returns the headers of a signed request of body to function:
// Digest and an Agid-JWT-Signature naming it and the Content-Type.
func (s signer) sign(t *testing.T, function, contentType, jti string, body []byte, ttl time.Duration) map[string]string {
	t.Helper()
	now := time.Now()
	d := digestOf(body)
	tok, err := jwt.NewBuilder().Issuer(integrityClient).Audience([]string{h.URL(function, "")}).
		IssuedAt(now).NotBefore(now).Expiration(now.Add(ttl)).JwtID(jti).
		Claim("signed_headers", []map[string]string{{"digest": d}, {"content-type": contentType}}).Build()
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"Digest": d, "Agid-JWT-Signature": string(signed)}
}

func withHeaders(hs ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range hs {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func transferred(t *testing.T, code string) int64 {
	t.Helper()
	return int64s(t, `SELECT count(*) FROM trasferimento t JOIN componente c ON c.nucleo_id = t.nucleo_id WHERE c.cf_canonico = $1`, canonical(t, code))[0]
}

// TestIntegrityAnswers: a flagged client's look-up and transfer answers
// carry a Digest and the platform's signature, which names the request;
// an unflagged client's carry neither; the signature is no access token.
func TestIntegrityAnswers(t *testing.T) {
	t.Parallel()
	set := platformKeys(t)
	tok := token(t, integrityClient)

	// A look-up, the client sending no Digest of its own: the answer names
	// the one computed over what was received.
	body := []byte(`{"codice_fiscale":"` + h.Fixtures.DidAttiva[7] + `"}`)
	r := do(t, call{url: h.URL("did-check", ""), token: tok, contentType: "application/json", body: body})
	if r.status != http.StatusOK {
		t.Fatalf("did-check: %d %s", r.status, r.body)
	}
	c := verifyAnswer(t, set, r)
	if c.RequestDigest != digestOf(body) || c.RequestMethod != http.MethodPost || c.RequestURI != "/function/did-check" || c.RequestJTI != "" {
		t.Fatalf("the answer names the request as %+v", c)
	}
	if strings.Contains(r.header.Get("Agid-JWT-Signature"), h.Fixtures.DidAttiva[7]) {
		t.Fatal("the signature holds the codice fiscale")
	}

	// The other look-ups too.
	for _, l := range []struct{ function, client, code string }{
		{"patto-check", integrityClient, h.Fixtures.PattoAttivo[3]},
	} {
		b := []byte(`{"codice_fiscale":"` + l.code + `"}`)
		r := do(t, call{url: h.URL(l.function, ""), token: tok, contentType: "application/json", body: b})
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", l.function, r.status, r.body)
		}
		if c := verifyAnswer(t, set, r); c.RequestDigest != digestOf(b) || c.RequestURI != "/function/"+l.function {
			t.Fatalf("%s: %+v", l.function, c)
		}
	}

	// A refusal of the handler is signed too (a malformed code: 400).
	bad := []byte(`{"codice_fiscale":"NOT-A-CODE"}`)
	r = do(t, call{url: h.URL("did-check", ""), token: tok, contentType: "application/json", body: bad})
	if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a malformed code: %d %s", r.status, r.body)
	}
	if c := verifyAnswer(t, set, r); c.RequestDigest != digestOf(bad) {
		t.Fatalf("refusal: %+v", c)
	}

	// A transfer, signed by the client: the answer names its jti.
	_, codes := newHousehold(t, 1)
	s := integritySigner(t)
	tb, _ := json.Marshal(toCPIBody(codes[0]))
	jti := uuid.NewString()
	r = do(t, call{url: h.URL(toCPI, ""), token: tok, contentType: "application/json", body: tb,
		header: withHeaders(s.sign(t, toCPI, "application/json", jti, tb, time.Minute), map[string]string{"Idempotency-Key": uuid.NewString()})})
	if r.status != http.StatusCreated {
		t.Fatalf("signed transfer: %d %s", r.status, r.body)
	}
	c = verifyAnswer(t, set, r)
	if c.RequestDigest != digestOf(tb) || c.RequestJTI != jti || c.RequestURI != "/function/"+toCPI {
		t.Fatalf("the transfer's answer names the request as %+v", c)
	}

	// The answer's signature is no access token, though the same JWKS
	// publishes both kinds of key.
	r2 := do(t, call{url: h.URL("did-check", ""), token: r.header.Get("Agid-JWT-Signature"), contentType: "application/json", body: body})
	assertProblem(t, r2, http.StatusUnauthorized)

	// An unflagged client's answers carry neither header.
	plain := token(t, "gepi")
	r = do(t, call{url: h.URL("did-check", ""), token: plain, contentType: "application/json", body: body})
	if r.status != http.StatusOK || r.header.Get("Digest") != "" || r.header.Get("Agid-JWT-Signature") != "" {
		t.Fatalf("unflagged look-up: %d, Digest %q, signature %q", r.status, r.header.Get("Digest"), r.header.Get("Agid-JWT-Signature"))
	}
	_, codes = newHousehold(t, 1)
	r = transferCall(t, toCPI, plain, uuid.NewString(), toCPIBody(codes[0]))
	if r.status != http.StatusCreated || r.header.Get("Digest") != "" || r.header.Get("Agid-JWT-Signature") != "" {
		t.Fatalf("unflagged transfer: %d, Digest %q, signature %q", r.status, r.header.Get("Digest"), r.header.Get("Agid-JWT-Signature"))
	}
}

// TestIntegrityRequests: a flagged client's writes must be signed; a bad
// signature or a body changed after signing is refused with a problem and
// changes nothing; a signed feed batch is applied.
func TestIntegrityRequests(t *testing.T) {
	t.Parallel()
	tok := token(t, integrityClient)
	s := integritySigner(t)
	_, codes := newHousehold(t, 2)
	good, _ := json.Marshal(toCPIBody(codes[0]))
	other, _ := json.Marshal(toCPIBody(codes[1]))

	transfer := func(t *testing.T, body []byte, hdr map[string]string) reply {
		t.Helper()
		return do(t, call{url: h.URL(toCPI, ""), token: tok, contentType: "application/json", body: body,
			header: withHeaders(hdr, map[string]string{"Idempotency-Key": uuid.NewString()})})
	}
	expired := s.sign(t, toCPI, "application/json", "j", good, -time.Second)
	wrongAud := s.sign(t, "transfer-to-social-services", "application/json", "j", good, time.Minute)
	wrongType := s.sign(t, toCPI, "text/plain", "j", good, time.Minute)
	for _, tt := range []struct {
		name   string
		body   []byte
		hdr    map[string]string
		status int
	}{
		{"unsigned", good, nil, http.StatusUnauthorized},
		{"body changed after signing", other, s.sign(t, toCPI, "application/json", "j", good, time.Minute), http.StatusBadRequest},
		{"Digest of another body", good, withHeaders(s.sign(t, toCPI, "application/json", "j", good, time.Minute), map[string]string{"Digest": digestOf(other)}), http.StatusBadRequest},
		{"expired", good, expired, http.StatusUnauthorized},
		{"for another function", good, wrongAud, http.StatusUnauthorized},
		{"Content-Type not the signed one", good, wrongType, http.StatusBadRequest},
		{"garbage", good, map[string]string{"Digest": digestOf(good), "Agid-JWT-Signature": "x.y.z"}, http.StatusUnauthorized},
	} {
		r := transfer(t, tt.body, tt.hdr)
		if r.status != tt.status {
			t.Fatalf("%s: %d, want %d: %s", tt.name, r.status, tt.status, r.body)
		}
		assertProblem(t, r, tt.status, codes[0], codes[1])
	}
	if n, m := transferred(t, codes[0]), transferred(t, codes[1]); n != 0 || m != 0 {
		t.Fatalf("a refused request changed the record: %d, %d transfers", n, m)
	}
	// Signed as it is sent: transferred.
	if r := transfer(t, good, s.sign(t, toCPI, "application/json", uuid.NewString(), good, time.Minute)); r.status != http.StatusCreated {
		t.Fatalf("signed transfer: %d %s", r.status, r.body)
	}
	if n := transferred(t, codes[0]); n != 1 {
		t.Fatalf("%d transfers", n)
	}

	// A feed batch, signed: applied. The same batch changed after signing:
	// refused, and its Idempotency-Key still unused.
	protocol, members := newHousehold(t, 1)
	tampered := "PATTO-" + uuid.NewString()
	signedKey := "PATTO-" + uuid.NewString()
	batch := ndjsonOf(t, rec("patto_inclusione", signedKey, time.Now(), 0, pactData(protocol, "SOTTOSCRITTO", members[0])))
	changed := ndjsonOf(t, rec("patto_inclusione", tampered, time.Now(), 0, pactData(protocol, "SOTTOSCRITTO", members[0])))
	ftok := token(t, integrityClient, "rdc:feed:gepi")
	key := uuid.NewString()
	send := func(body []byte, hdr map[string]string) reply {
		return do(t, call{url: feedURL("gepi", ""), token: ftok, contentType: "application/x-ndjson", body: body,
			header: withHeaders(hdr, map[string]string{"Idempotency-Key": key})})
	}
	assertProblem(t, send(changed, s.sign(t, "feed-gepi", "application/x-ndjson", "f1", batch, time.Minute)), http.StatusBadRequest, members[0])
	assertProblem(t, send(batch, nil), http.StatusUnauthorized, members[0])
	pacts := func(k string) int64 {
		return int64s(t, `SELECT count(*) FROM patto_inclusione WHERE fonte_chiave = $1`, k)[0]
	}
	if pacts(tampered) != 0 || pacts(signedKey) != 0 {
		t.Fatal("a refused batch was applied")
	}
	r := send(batch, s.sign(t, "feed-gepi", "application/x-ndjson", "f2", batch, time.Minute))
	if r.status != http.StatusCreated {
		t.Fatalf("signed batch: %d %s", r.status, r.body)
	}
	var a feedAnswer
	decodeInto(t, r, &a)
	if a.Accettati != 1 || pacts(signedKey) != 1 {
		t.Fatalf("signed batch: %+v", a)
	}
	// Another client's key: the unflagged GePI client has none registered.
	gtok := token(t, "gepi", "rdc:feed:gepi")
	r = do(t, call{url: feedURL("gepi", ""), token: gtok, contentType: "application/x-ndjson", body: changed,
		header: withHeaders(s.sign(t, "feed-gepi", "application/x-ndjson", "f3", changed, time.Minute), map[string]string{"Idempotency-Key": uuid.NewString()})})
	assertProblem(t, r, http.StatusUnauthorized, members[0])
	if pacts(tampered) != 0 {
		t.Fatal("a batch signed with another client's key was applied")
	}
}
