package function

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// fields returns the field:code pairs of a problem, or "" for nil.
func fields(err error) string {
	if err == nil {
		return ""
	}
	var pe *problem.Error
	if !errors.As(err, &pe) {
		return "not a problem: " + err.Error()
	}
	var out []string
	for _, f := range pe.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	if len(out) == 0 {
		return "detail:" + pe.Detail
	}
	return strings.Join(out, ",")
}

func rsaJWK(t testing.TB, bits int, private bool) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	var key any = &k.PublicKey
	if private {
		key = k
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: "RS256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ecJWK(t testing.TB, curve elliptic.Curve, private bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var key any = &k.PublicKey
	if private {
		key = k
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCreateRequest(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	cases := []struct {
		name string
		in   createRequest
		want string // field:code pairs; "" accepted
	}{
		{"super", createRequest{Ruolo: "super", Nome: " Ufficio Roma ", Email: s("report@agenzia.example.it"), ReportWebhookURL: s("https://hooks.agenzia.example/report")}, ""},
		{"operator", createRequest{Ruolo: "operatore", Nome: "Sportello", Filiali: []string{"1001-RM01", "1001-MI01"}}, ""},
		{"no role", createRequest{Nome: "x"}, "ruolo:required"},
		{"bad role", createRequest{Ruolo: "admin", Nome: "x"}, "ruolo:invalid"},
		{"master is a role (refused by the tenant rule)", createRequest{Ruolo: "master", Nome: "x"}, ""},
		{"no name", createRequest{Ruolo: "super", Nome: "  "}, "nome:required"},
		{"long name", createRequest{Ruolo: "super", Nome: strings.Repeat("à", 201)}, "nome:too_long"},
		{"super with branches", createRequest{Ruolo: "super", Nome: "x", Filiali: []string{"1001-RM01"}}, "filiali:not_allowed"},
		{"operator without branches", createRequest{Ruolo: "operatore", Nome: "x"}, "filiali:required"},
		{"operator with an empty list", createRequest{Ruolo: "operatore", Nome: "x", Filiali: []string{}}, "filiali:required"},
		{"bad branch", createRequest{Ruolo: "operatore", Nome: "x", Filiali: []string{"1001-RM01", "a b"}}, "filiali[1]:invalid"},
		{"duplicate branch", createRequest{Ruolo: "operatore", Nome: "x", Filiali: []string{"a", "a"}}, "filiali[1]:duplicate"},
		{"operator with e-mail", createRequest{Ruolo: "operatore", Nome: "x", Filiali: []string{"a"}, Email: s("a@b.it")}, "email:not_allowed"},
		{"bad e-mail", createRequest{Ruolo: "super", Nome: "x", Email: s("not-an-address")}, "email:invalid"},
		{"http webhook", createRequest{Ruolo: "super", Nome: "x", ReportWebhookURL: s("http://hooks.example.com/r")}, "report_webhook_url:invalid"},
		{"jwks null is none", createRequest{Ruolo: "super", Nome: "x", JWKS: json.RawMessage("null")}, ""},
		{"jwks empty", createRequest{Ruolo: "super", Nome: "x", JWKS: json.RawMessage(`{"keys":[]}`)}, "jwks.keys:required"},
		{"jwks not a set", createRequest{Ruolo: "super", Nome: "x", JWKS: json.RawMessage(`[1]`)}, "jwks:invalid"},
		{"several errors, sorted", createRequest{Ruolo: "x", Nome: ""}, "nome:required,ruolo:invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.in.check()
			if f := fields(err); f != c.want {
				t.Fatalf("got %q, want %q", f, c.want)
			}
			if err == nil && got.nome != strings.TrimSpace(c.in.Nome) {
				t.Errorf("nome %q", got.nome)
			}
		})
	}
	c, err := createRequest{Ruolo: "operatore", Nome: "x", Filiali: []string{"b", "a"}}.check()
	if err != nil || c.role != apl.Operator || strings.Join(c.branches, ",") != "a,b" || c.jwks != nil {
		t.Fatalf("operator: %+v %v", c, err)
	}
}

func TestCreateRequestDecoding(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"unknown field": `{"ruolo":"super","nome":"x","scopes":["rdc:export"]}`,
		"NUL in name":   `{"ruolo":"super","nome":"a\u0000b"}`,
		"wrong type":    `{"ruolo":"super","nome":1}`,
	} {
		var in createRequest
		if err := web.DecodeValue([]byte(body), &in); problem.KindOf(err) != problem.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	good := goodEmails
	bad := []string{"", "a", "a@b", "@b.it", "a@.it", "a@b..it", "a b@c.it", "a@b.it\r\nBcc: x@y.it", "Nome <a@b.it>", "a@[127.0.0.1]",
		"a..b@c.it", ".a@c.it", "a@-b.it", strings.Repeat("a", 250) + "@b.it", "a@b.it\x00"}
	for _, s := range good {
		if v, fe := checkEmail(&s); fe != nil || *v != s {
			t.Errorf("%q refused: %v", s, fe)
		}
	}
	for _, s := range bad {
		if _, fe := checkEmail(&s); fe == nil || fe.Field != "email" || len(s) > 3 && strings.Contains(fe.Detail, s) {
			t.Errorf("%q: %v", s, fe)
		}
	}
	if v, fe := checkEmail(nil); v != nil || fe != nil {
		t.Error("nil")
	}
}

// What the function accepts, which the database's CHECKs must accept too
// (db_test.go).
var (
	goodEmails   = []string{"a@b.it", "report.apl+1001@agenzia-lavoro.example.com", "O'Neil@x.eu"}
	goodWebhooks = []string{"https://hooks.example.com/report?apl=1001", "https://example.com", "https://8.8.8.8/x", "https://[2001:4860::8888]/x",
		"http://localhost:8089/report", "http://127.0.0.1/x", "http://[::1]:9000/", "https://hooks.example.com:8443/r", "http://localhost",
		"https://h.example.com:443/a?b=c&d=e"}
)

func TestWebhook(t *testing.T) {
	t.Parallel()
	good := goodWebhooks
	bad := []string{"", "http://example.com/x", "ftp://example.com/x", "https://user:pw@example.com/x", "https:///x", "https://example.com/x#frag",
		"//example.com/x", "https://10.0.0.1/x", "https://192.168.1.1/", "https://169.254.169.254/latest", "https://0.0.0.0/", "https://[fe80::1%25eth0]/",
		"https://[::ffff:10.0.0.1]/", "http://2130706433/", "https://2130706433/", "https://exa mple.com/", "https://example.com/\x00", "https://example.com:99999/",
		"https://ex_ample.com/", "javascript:alert(1)", "HTTPS://example.com/", "http://LOCALHOST/", "http://localhost./",
		"http://[0:0:0:0:0:0:0:1]/", "http://[::ffff:127.0.0.1]/", "http://127.1/", "https://example.com/" + strings.Repeat("a", 2100), "http://localhost.example.com/"}
	for _, s := range good {
		if v, fe := checkWebhook(&s); fe != nil || *v != s {
			t.Errorf("%q refused: %v", s, fe)
		}
	}
	for _, s := range bad {
		if _, fe := checkWebhook(&s); fe == nil || fe.Field != "report_webhook_url" {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	rsaPub := rsaJWK(t, 2048, false)
	cases := []struct {
		name, jwks, want string
	}{
		{"rsa", `{"keys":[` + rsaPub + `]}`, ""},
		{"ec", `{"keys":[` + ecJWK(t, elliptic.P256(), false) + `]}`, ""},
		{"two", `{"keys":[` + rsaPub + `,` + ecJWK(t, elliptic.P256(), false) + `]}`, ""},
		{"private rsa", `{"keys":[` + rsaJWK(t, 2048, true) + `]}`, "jwks.keys[0]:private_key"},
		{"private ec", `{"keys":[` + rsaPub + `,` + ecJWK(t, elliptic.P256(), true) + `]}`, "jwks.keys[1]:private_key"},
		{"symmetric", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, "jwks.keys[0]:private_key"},
		{"short rsa", `{"keys":[` + rsaJWK(t, 1024, false) + `]}`, "jwks.keys[0]:unsupported"},
		{"P-384", `{"keys":[` + ecJWK(t, elliptic.P384(), false) + `]}`, "jwks.keys[0]:unsupported"},
		{"encryption key", `{"keys":[` + strings.Replace(rsaPub, `"use":"sig"`, `"use":"enc"`, 1) + `]}`, "jwks.keys[0]:unsupported"},
		{"wrong alg", `{"keys":[` + strings.Replace(rsaPub, `"alg":"RS256"`, `"alg":"HS256"`, 1) + `]}`, "jwks.keys[0]:unsupported"},
		{"NUL in kid", `{"keys":[` + strings.Replace(rsaPub, `"kid":"k1"`, `"kid":"k\u0000"`, 1) + `]}`, "jwks.keys[0].kid:control_character"},
		{"garbage key", `{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}`, "jwks.keys[0]:invalid"},
		{"not an object", `{"keys":[1]}`, "jwks.keys[0]:invalid"},
		{"too many", `{"keys":[` + strings.Repeat(rsaPub+",", 5) + rsaPub + `]}`, "jwks.keys:too_many"},
		{"keys not an array", `{"keys":{}}`, "jwks:invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			stored, errs := parseJWKS([]byte(c.jwks))
			got := fields(problemOf(errs))
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if c.want != "" {
				return
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(stored, &set); err != nil || len(set.Keys) == 0 {
				t.Fatalf("stored %s: %v", stored, err)
			}
			for _, k := range set.Keys {
				if !k.IsPublic() {
					t.Fatal("a private key stored")
				}
			}
		})
	}
	// Nothing the caller sent besides the key, kid, alg and use is kept.
	extra := strings.Replace(rsaPub, `{`, `{"x-note":"hello","x5u":"https://example.com/k",`, 1)
	stored, errs := parseJWKS([]byte(`{"keys":[` + extra + `]}`))
	if errs != nil || strings.Contains(string(stored), "hello") || strings.Contains(string(stored), "x5u") {
		t.Fatalf("stored %s, %v", stored, errs)
	}
}

func problemOf(errs []problem.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return problem.Fields(errs)
}

func TestPatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, want string
	}{
		{"email", `{"email":"a@b.it"}`, ""},
		{"clear both", `{"email":null,"report_webhook_url":null}`, ""},
		{"name", `{"nome":"Nuovo nome"}`, ""},
		{"empty", `{}`, "detail:the patch changes nothing: send nome, email or report_webhook_url"},
		{"null name", `{"nome":null}`, "nome:required"},
		{"bad email", `{"email":"x"}`, "email:invalid"},
		{"http webhook", `{"report_webhook_url":"http://example.com"}`, "report_webhook_url:invalid"},
		{"NUL", `{"email":"a\u0000@b.it"}`, "email:control_character"},
		{"unknown", `{"abilitato":true}`, ":unknown"},
		{"wrong type", `{"email":1}`, "email:type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodePatch([]byte(c.body))
			if got := fields(err); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
	c, err := decodePatch([]byte(`{"email":null}`))
	if err != nil || !c.setEmail || c.email != nil || c.setWebhook || !c.touchesDelivery {
		t.Fatalf("clear email: %+v %v", c, err)
	}
}

func TestPADRequest(t *testing.T) {
	t.Parallel()
	yes := true
	cases := []struct {
		name string
		in   padRequest
		want string
	}{
		{"list", padRequest{Selezionabili: []string{"a", "b"}}, ""},
		{"none listed", padRequest{Selezionabili: []string{}}, ""},
		{"all", padRequest{Tutte: &yes}, ""},
		{"both", padRequest{Tutte: &yes, Selezionabili: []string{}}, "tutte:conflict"},
		{"neither", padRequest{}, "selezionabili:required"},
		{"bad code", padRequest{Selezionabili: []string{"a", "-x"}}, "selezionabili[1]:invalid"},
		{"duplicate", padRequest{Selezionabili: []string{"a", "a"}}, "selezionabili[1]:duplicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := c.in.check(); fields(err) != c.want {
				t.Fatalf("got %q, want %q", fields(err), c.want)
			}
		})
	}
}

func TestClientIDs(t *testing.T) {
	t.Parallel()
	id, err := newClientID("1001")
	if err != nil || !clientIDPattern.MatchString(id) || !strings.HasPrefix(id, "apl-1001-") {
		t.Fatalf("%q %v", id, err)
	}
	for _, s := range []string{"apl-1001-master", "apl-1001-super", "apl-1002-operatore"} {
		if !clientIDPattern.MatchString(s) {
			t.Errorf("%s refused", s)
		}
	}
	for _, s := range []string{"gepi", "apl--x", "apl-1001-", "apl-10 01-x", "apl-1001-X", "apl-1001-a/b"} {
		if clientIDPattern.MatchString(s) {
			t.Errorf("%s accepted", s)
		}
	}
}
