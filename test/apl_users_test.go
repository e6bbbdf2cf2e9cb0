package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/auth"
)

// Black-box tests of apl-users (docs/contract.md#apl-users). Each test makes
// its own agency, with its own master and branches, so that what it
// changes (users, the PAD's branches) never reaches another test's.

const usersFn = "apl-users"

// usersAgency is a fresh agency: its id, branches and master's token.
type usersAgency struct {
	id       string
	branches []string
	master   string
}

// newUsersAgency registers an agency with three branches and its master,
// as the Ministry would (a master is never created through the API).
func newUsersAgency(t *testing.T) usersAgency {
	t.Helper()
	ctx := context.Background()
	a := usersAgency{id: "u" + randomHex(5)}
	for _, b := range []string{"RM01", "MI01", "NA01"} {
		a.branches = append(a.branches, a.id+"-"+b)
	}
	if _, err := h.DB.Exec(ctx, `INSERT INTO apl (id, denominazione) VALUES ($1, 'Agenzia di prova')`, a.id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.Exec(ctx, `INSERT INTO apl_filiale (codice, apl_id, denominazione) SELECT unnest($1::text[]), $2, 'Filiale di prova'`, a.branches, a.id); err != nil {
		t.Fatal(err)
	}
	secret := auth.NewClientSecret()
	hash, err := auth.HashSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	master := "apl-" + a.id + "-master"
	if _, err := h.DB.Exec(ctx, `
		INSERT INTO oauth_client (client_id, nome, secret_hash, org, scopes, apl_ruolo, filiali)
		VALUES ($1, $1, $2, $3, $4, 'master', $5)`, master, hash, "APL:"+a.id, apl.Scopes(apl.Master), a.branches); err != nil {
		t.Fatal(err)
	}
	a.master = clientToken(t, master, secret)
	return a
}

// clientToken gets a token for a client by its secret.
func clientToken(t *testing.T, id, secret string) string {
	t.Helper()
	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: h.Issuer}).Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", id, err)
	}
	return tok.AccessToken
}

// tokenClaims reads a token's payload (verified by the functions, not here).
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type aplUser struct {
	ClientID         string   `json:"client_id"`
	Nome             string   `json:"nome"`
	Ruolo            string   `json:"ruolo"`
	Filiali          []string `json:"filiali"`
	Scopes           []string `json:"scopes"`
	Abilitato        bool     `json:"abilitato"`
	Autenticazione   string   `json:"autenticazione"`
	Email            *string  `json:"email"`
	ReportWebhookURL *string  `json:"report_webhook_url"`
	CreatoDa         *string  `json:"creato_da"`
	ClientSecret     string   `json:"client_secret"`
}

// usersCall sends a JSON body to apl-users, with an Idempotency-Key when key is set.
func usersCall(t *testing.T, method, path, tok, key string, body any) reply {
	t.Helper()
	c := call{method: method, url: h.URL(usersFn, path), token: tok}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		c.body, c.contentType = b, "application/json"
		if method == http.MethodPatch {
			c.contentType = "application/merge-patch+json"
		}
	}
	if key != "" {
		c.header = map[string]string{"Idempotency-Key": key}
	}
	return do(t, c)
}

// createUser creates a user and returns it with its secret.
func createUser(t *testing.T, tok string, body map[string]any) aplUser {
	t.Helper()
	r := usersCall(t, http.MethodPost, "", tok, uuid.NewString(), body)
	if r.status != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-users", "post", r)
	var u aplUser
	decodeInto(t, r, &u)
	return u
}

func TestAplUsersRolesAndTokens(t *testing.T) {
	t.Parallel()
	a := newUsersAgency(t)
	email, hook := "report."+a.id+"@agenzia.example.it", "https://hooks.example.com/"+a.id
	sup := createUser(t, a.master, map[string]any{"ruolo": "super", "nome": "Responsabile Roma", "email": email, "report_webhook_url": hook})
	if sup.Ruolo != "super" || sup.ClientSecret == "" || sup.Autenticazione != "client_secret" || !sup.Abilitato ||
		!slices.Equal(sup.Filiali, slices.Sorted(slices.Values(a.branches))) || sup.Email == nil || *sup.Email != email ||
		!slices.Contains(sup.Scopes, "apl:utenti") || !strings.HasPrefix(sup.ClientID, "apl-"+a.id+"-") {
		t.Fatalf("super: %+v", sup)
	}
	// The super's token carries its role and branches.
	supTok := clientToken(t, sup.ClientID, sup.ClientSecret)
	if c := tokenClaims(t, supTok); c["apl_ruolo"] != "super" || len(c["filiali"].([]any)) != 3 || c["org"] != "APL:"+a.id {
		t.Fatalf("super's claims: %v", c)
	}
	// The secret is shown once: a GET never returns it, nor the list.
	r := usersCall(t, http.MethodGet, "/"+sup.ClientID, a.master, "", nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), sup.ClientSecret) || strings.Contains(string(r.body), "\"client_secret\":") {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-users/{client_id}", "get", r)

	// A super cannot create a super, nor a master anyone's master.
	assertProblem(t, usersCall(t, http.MethodPost, "", supTok, uuid.NewString(), map[string]any{"ruolo": "super", "nome": "x"}), http.StatusForbidden)
	assertProblem(t, usersCall(t, http.MethodPost, "", a.master, uuid.NewString(), map[string]any{"ruolo": "master", "nome": "x"}), http.StatusForbidden)

	// The super creates an operator for one branch.
	op := createUser(t, supTok, map[string]any{"ruolo": "operatore", "nome": "Sportello Milano", "filiali": []string{a.branches[1]}})
	if op.Ruolo != "operatore" || !slices.Equal(op.Filiali, a.branches[1:2]) || slices.Contains(op.Scopes, "apl:utenti") ||
		slices.Contains(op.Scopes, "apl:report") || op.CreatoDa == nil || *op.CreatoDa != sup.ClientID {
		t.Fatalf("operator: %+v", op)
	}
	opTok := clientToken(t, op.ClientID, op.ClientSecret)
	if c := tokenClaims(t, opTok); c["apl_ruolo"] != "operatore" || fmt.Sprint(c["filiali"]) != fmt.Sprint([]any{a.branches[1]}) {
		t.Fatalf("operator's claims: %v", c)
	}
	// The operator sees only its branch's offers.
	res := postOffers(t, a.master, newOffer(t, "users-"+randomHex(4), a.branches[0]), newOffer(t, "users-"+randomHex(4), a.branches[1]))
	if res[0].IDOfferta == nil || res[1].IDOfferta == nil {
		t.Fatalf("offers: %+v", res)
	}
	if r := do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/"+*res[1].IDOfferta), token: opTok}); r.status != http.StatusOK {
		t.Fatalf("the operator's own branch's offer: %d %s", r.status, r.body)
	}
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/"+*res[0].IDOfferta), token: opTok}), http.StatusNotFound)

	// An operator manages nobody.
	assertProblem(t, usersCall(t, http.MethodGet, "", opTok, "", nil), http.StatusForbidden)
	assertProblem(t, usersCall(t, http.MethodPost, "", opTok, uuid.NewString(), map[string]any{"ruolo": "operatore", "nome": "x", "filiali": a.branches[:1]}), http.StatusForbidden)

	// Lists: the master sees both, the super its operators only.
	list := func(tok, query string) []string {
		t.Helper()
		r := usersCall(t, http.MethodGet, query, tok, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		conformsToOpenAPI(t, "/function/apl-users", "get", r)
		if strings.Contains(string(r.body), "\"client_secret\":") {
			t.Fatal("a list shows a secret")
		}
		var out struct{ Items []aplUser }
		decodeInto(t, r, &out)
		var ids []string
		for _, u := range out.Items {
			ids = append(ids, u.ClientID)
		}
		return ids
	}
	if got := list(a.master, ""); !slices.Equal(got, []string{sup.ClientID, op.ClientID}) {
		t.Fatalf("master's list %v", got)
	}
	if got := list(supTok, ""); !slices.Equal(got, []string{op.ClientID}) {
		t.Fatalf("super's list %v", got)
	}
	if got := list(a.master, "?ruolo=super"); !slices.Equal(got, []string{sup.ClientID}) {
		t.Fatalf("master's supers %v", got)
	}
	// A super does not see supers, even itself, as users it manages.
	assertProblem(t, usersCall(t, http.MethodGet, "/"+sup.ClientID, supTok, "", nil), http.StatusNotFound)

	// Another agency's user is a 404 exactly like a missing one.
	other := token(t, "apl-1002-master")
	missing := assertProblem(t, usersCall(t, http.MethodGet, "/apl-"+a.id+"-"+randomHex(12), a.master, "", nil), http.StatusNotFound)
	foreign := assertProblem(t, usersCall(t, http.MethodGet, "/"+op.ClientID, other, "", nil), http.StatusNotFound)
	if missing["detail"] != foreign["detail"] {
		t.Errorf("another agency's user %v, a missing one %v", foreign["detail"], missing["detail"])
	}
	assertProblem(t, usersCall(t, http.MethodPost, "/"+op.ClientID+"/disabilita", other, "", nil), http.StatusNotFound)

	// The master changes the super's report delivery; a super its own.
	r = usersCall(t, http.MethodPatch, "/"+sup.ClientID, a.master, "", map[string]any{"report_webhook_url": nil})
	if r.status != http.StatusOK {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-users/{client_id}", "patch", r)
	var patched aplUser
	decodeInto(t, r, &patched)
	if patched.ReportWebhookURL != nil || patched.Email == nil || *patched.Email != email {
		t.Fatalf("patched: %+v", patched)
	}
	if r := usersCall(t, http.MethodPatch, "/"+sup.ClientID, supTok, "", map[string]any{"email": "altro@agenzia.example.it"}); r.status != http.StatusOK {
		t.Fatalf("a super's own delivery: %d %s", r.status, r.body)
	}
	assertProblem(t, usersCall(t, http.MethodPatch, "/"+op.ClientID, supTok, "", map[string]any{"email": "a@agenzia.example.it"}), http.StatusUnprocessableEntity)
	var stored *string
	if err := h.DB.QueryRow(context.Background(), `SELECT email FROM oauth_client WHERE client_id = $1`, sup.ClientID).Scan(&stored); err != nil || stored == nil || *stored != "altro@agenzia.example.it" {
		t.Fatalf("stored e-mail %v %v", stored, err)
	}

	// Disabling: the operator's existing token stops working promptly.
	r = usersCall(t, http.MethodPost, "/"+op.ClientID+"/disabilita", supTok, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-users/{client_id}/disabilita", "post", r)
	var disabled aplUser
	decodeInto(t, r, &disabled)
	if disabled.Abilitato {
		t.Fatal("still enabled")
	}
	eventually(t, 30*time.Second, "the disabled operator's token to be refused", func() bool {
		return do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/"+*res[1].IDOfferta), token: opTok}).status == http.StatusUnauthorized
	})
	// Again: the same answer, nothing changes.
	if r := usersCall(t, http.MethodPost, "/"+op.ClientID+"/disabilita", supTok, "", nil); r.status != http.StatusOK {
		t.Fatalf("disable again: %d %s", r.status, r.body)
	}
	if _, err := (&clientcredentials.Config{ClientID: op.ClientID, ClientSecret: op.ClientSecret, TokenURL: h.Issuer}).Token(context.Background()); err == nil {
		t.Fatal("a disabled user gets a token")
	}
	// Every change left its record, and none holds the secret or the address.
	n := countOf(t, `SELECT count(*) FROM audit_log WHERE function = 'apl-users' AND client_id = ANY ($1) AND action IN ('apl-user-create', 'apl-user-disable', 'apl-user-update')`,
		[]string{"apl-" + a.id + "-master", sup.ClientID})
	if n < 5 {
		t.Errorf("%d audit records of the changes, want 5 or more", n)
	}
	if n := countOf(t, `SELECT count(*) FROM audit_log WHERE function = 'apl-users' AND (outcome LIKE '%' || $1 || '%' OR outcome LIKE '%@%')`, sup.ClientSecret); n != 0 {
		t.Errorf("%d audit records hold a secret or an address", n)
	}
}

func TestAplUsersIdempotencyAndInput(t *testing.T) {
	t.Parallel()
	a := newUsersAgency(t)
	key := uuid.NewString()
	body := map[string]any{"ruolo": "operatore", "nome": "Sportello", "filiali": a.branches[:1]}
	first := usersCall(t, http.MethodPost, "", a.master, key, body)
	if first.status != http.StatusCreated {
		t.Fatalf("create: %d %s", first.status, first.body)
	}
	var u aplUser
	decodeInto(t, first, &u)
	again := usersCall(t, http.MethodPost, "", a.master, key, body)
	if again.status != http.StatusOK {
		t.Fatalf("replay: %d %s", again.status, again.body)
	}
	conformsToOpenAPI(t, "/function/apl-users", "post", again)
	var replayed aplUser
	decodeInto(t, again, &replayed)
	if replayed.ClientID != u.ClientID || replayed.ClientSecret != "" || strings.Contains(string(again.body), u.ClientSecret) {
		t.Fatalf("replay: %s", again.body)
	}
	if n := countOf(t, `SELECT count(*) FROM oauth_client WHERE org = $1 AND apl_ruolo = 'operatore'`, "APL:"+a.id); n != 1 {
		t.Fatalf("%d operators after a replay", n)
	}
	assertProblem(t, usersCall(t, http.MethodPost, "", a.master, key, map[string]any{"ruolo": "operatore", "nome": "Altro", "filiali": a.branches[:1]}), http.StatusUnprocessableEntity)
	assertProblem(t, usersCall(t, http.MethodPost, "", a.master, "", body), http.StatusBadRequest)

	// A user with registered public keys gets no secret.
	pub := `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}`
	withKeys := createUser(t, a.master, map[string]any{"ruolo": "super", "nome": "Con chiavi", "jwks": json.RawMessage(`{"keys":[` + pub + `]}`)})
	if withKeys.ClientSecret != "" || withKeys.Autenticazione != "private_key_jwt" {
		t.Fatalf("keys user: %+v", withKeys)
	}
	// A user with a key of its own signs its assertions with it and gets its role's token.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ecKey.PublicKey, KeyID: "op-1", Algorithm: "ES256", Use: "sig"}}})
	signed := createUser(t, a.master, map[string]any{"ruolo": "operatore", "nome": "Con firma", "filiali": a.branches[2:], "jwks": json.RawMessage(jwks)})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: ecKey}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "op-1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: signed.ClientID, Subject: signed.ClientID, Audience: jwt.Audience{h.Issuer},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: uuid.NewString()}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	tr := do(t, call{url: h.Issuer, contentType: "application/x-www-form-urlencoded", body: []byte(url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}.Encode())})
	if tr.status != http.StatusOK {
		t.Fatalf("assertion of a user with keys: %d %s", tr.status, tr.body)
	}
	var issued struct {
		AccessToken string `json:"access_token"`
	}
	decodeInto(t, tr, &issued)
	if c := tokenClaims(t, issued.AccessToken); c["apl_ruolo"] != "operatore" || fmt.Sprint(c["filiali"]) != fmt.Sprint([]any{a.branches[2]}) {
		t.Fatalf("claims of a user with keys: %v", c)
	}

	private := `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}`
	other := "1002-TO01"
	cases := []struct {
		name   string
		body   string
		status int
		field  string
		leak   string
	}{
		{"bad e-mail", `{"ruolo":"super","nome":"x","email":"mario.rossi(at)example.it"}`, 400, "email", "mario.rossi"},
		{"http webhook to a public host", `{"ruolo":"super","nome":"x","report_webhook_url":"http://hooks.example.com/r"}`, 400, "report_webhook_url", "hooks.example.com"},
		{"private JWK", `{"ruolo":"super","nome":"x","jwks":{"keys":[` + private + `]}}`, 400, "jwks.keys[0]", "jpsQnnGQ"},
		{"NUL", `{"ruolo":"super","nome":"a\u0000b"}`, 400, "nome", ""},
		{"unknown field", `{"ruolo":"super","nome":"x","scopes":["rdc:export"]}`, 400, "", "rdc:export"},
		{"another agency's branch", `{"ruolo":"operatore","nome":"x","filiali":["` + other + `"]}`, 422, "filiali[0]", ""},
		{"a branch that does not exist", `{"ruolo":"operatore","nome":"x","filiali":["` + a.id + `-XX99"]}`, 422, "filiali[0]", ""},
	}
	// Once every refusal has been answered (the subtests run in parallel),
	// none made a user: another agency's branch and a missing one alike.
	t.Cleanup(func() {
		if n := countOf(t, `SELECT count(*) FROM oauth_client WHERE org = $1`, "APL:"+a.id); n != 4 {
			t.Errorf("%d users after the refusals, want 4", n)
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := do(t, call{url: h.URL(usersFn, ""), token: a.master, contentType: "application/json", body: []byte(c.body),
				header: map[string]string{"Idempotency-Key": uuid.NewString()}})
			m := assertProblem(t, r, c.status, c.leak)
			if c.status == 400 || c.status == 422 {
				conformsToOpenAPI(t, "/function/apl-users", "post", r)
			}
			errs, _ := m["errors"].([]any)
			if len(errs) == 0 {
				t.Fatalf("no field named: %s", r.body)
			}
			if f := errs[0].(map[string]any)["field"]; f != c.field {
				t.Errorf("field %v, want %q", f, c.field)
			}
		})
	}
}

func TestAplUsersPADBranches(t *testing.T) {
	t.Parallel()
	a := newUsersAgency(t)
	sup := createUser(t, a.master, map[string]any{"ruolo": "super", "nome": "Responsabile"})
	supTok := clientToken(t, sup.ClientID, sup.ClientSecret)
	pad := func(r reply) map[string]bool {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("PAD branches: %d %s", r.status, r.body)
		}
		var out struct {
			Filiali []struct {
				Codice           string `json:"codice"`
				SelezionabilePAD bool   `json:"selezionabile_pad"`
			}
		}
		decodeInto(t, r, &out)
		m := map[string]bool{}
		for _, f := range out.Filiali {
			m[f.Codice] = f.SelezionabilePAD
		}
		return m
	}
	get := usersCall(t, http.MethodGet, "/filiali-pad", supTok, "", nil)
	conformsToOpenAPI(t, "/function/apl-users/filiali-pad", "get", get)
	if m := pad(get); len(m) != 3 || !m[a.branches[0]] || !m[a.branches[1]] || !m[a.branches[2]] {
		t.Fatalf("by default every branch is offered: %v", m)
	}
	put := usersCall(t, http.MethodPut, "/filiali-pad", supTok, "", map[string]any{"selezionabili": []string{a.branches[0]}})
	conformsToOpenAPI(t, "/function/apl-users/filiali-pad", "put", put)
	if m := pad(put); !m[a.branches[0]] || m[a.branches[1]] || m[a.branches[2]] {
		t.Fatalf("one offered: %v", m)
	}
	if m := pad(usersCall(t, http.MethodPut, "/filiali-pad", supTok, "", map[string]any{"tutte": false})); m[a.branches[0]] || m[a.branches[1]] || m[a.branches[2]] {
		t.Fatalf("all off: %v", m)
	}
	if m := pad(usersCall(t, http.MethodPut, "/filiali-pad", supTok, "", map[string]any{"tutte": true})); !m[a.branches[0]] || !m[a.branches[1]] || !m[a.branches[2]] {
		t.Fatalf("all on: %v", m)
	}
	assertProblem(t, usersCall(t, http.MethodPut, "/filiali-pad", supTok, "", map[string]any{"selezionabili": []string{"1002-TO01"}}), http.StatusUnprocessableEntity)
	assertProblem(t, usersCall(t, http.MethodPut, "/filiali-pad", supTok, "", map[string]any{"tutte": true, "selezionabili": []string{}}), http.StatusBadRequest)
	assertProblem(t, usersCall(t, http.MethodGet, "/filiali-pad", token(t, "apl-1001-operatore"), "", nil), http.StatusForbidden)

	// The feed refuses a PAD's choice of a branch not offered, and takes the others.
	pad(usersCall(t, http.MethodPut, "/filiali-pad", supTok, "", map[string]any{"selezionabili": []string{a.branches[0]}}))
	_, codes := newHousehold(t, 2)
	now := time.Now()
	choice := func(code, branch string) map[string]any {
		return map[string]any{"codice_fiscale": code, "sottoscritto_il": now.UTC().Format(time.RFC3339),
			"scelte": []map[string]string{{"apl": a.id, "filiale": branch}}}
	}
	ans := feed(t, "siisl", rec("pad", codes[0], now, 0, choice(codes[0], a.branches[0])), rec("pad", codes[1], now, 0, choice(codes[1], a.branches[1])))
	if ans.Accettati != 1 || fmt.Sprint(ans.Scarti) != fmt.Sprint([]feedReject{{2, "dati.scelte", "not_selectable"}}) {
		t.Fatalf("PADs: %+v", ans)
	}
	if n := countOf(t, `SELECT count(*) FROM scelta_apl x JOIN componente c ON c.id = x.componente_id WHERE x.apl_id = $1 AND c.cf_canonico = ANY ($2)`, a.id, codes); n != 1 {
		t.Fatalf("%d choices stored, want 1", n)
	}
	// The branch withdrawn from the PAD: a renewed PAD keeps the choice made
	// before, and a new choice of it is refused.
	pad(usersCall(t, http.MethodPut, "/filiali-pad", supTok, "", map[string]any{"tutte": false}))
	later := now.Add(time.Minute)
	renewed := choice(codes[0], a.branches[0])
	renewed["sottoscritto_il"] = later.UTC().Format(time.RFC3339)
	ans = feed(t, "siisl", rec("pad", codes[0], later, 0, renewed), rec("pad", codes[1], later, 0, choice(codes[1], a.branches[0])))
	if ans.Accettati != 1 || fmt.Sprint(ans.Scarti) != fmt.Sprint([]feedReject{{2, "dati.scelte", "not_selectable"}}) {
		t.Fatalf("renewed PADs: %+v", ans)
	}
}
