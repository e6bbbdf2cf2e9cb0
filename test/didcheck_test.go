package test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/cf"
)

func didURL() string { return h.URL("did-check", "") }

type didAnswer struct {
	CodiceFiscale string `json:"codice_fiscale"`
	DidAttiva     bool   `json:"did_attiva"`
	Componenti    []struct {
		CodiceFiscale string  `json:"codice_fiscale"`
		DidAttiva     bool    `json:"did_attiva"`
		StatoDid      *string `json:"stato_did"`
		DataDid       *string `json:"data_did"`
		DataStato     *string `json:"data_stato"`
	} `json:"componenti"`
	VerificatoIl time.Time `json:"verificato_il"`
}

func didCheck(t *testing.T, tok, code string) (didAnswer, reply) {
	t.Helper()
	r := postJSON(t, didURL(), tok, map[string]string{"codice_fiscale": code})
	var a didAnswer
	if r.status == http.StatusOK {
		decodeInto(t, r, &a)
	}
	return a, r
}

// expectedHousehold computes, straight from the database, what did-check must
// say about a person's household: member code -> latest DID state name (or "").
func expectedHousehold(t *testing.T, code string) map[string]string {
	t.Helper()
	c, err := cf.Parse(code)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := h.DB.Query(context.Background(), `
		SELECT m.codice_fiscale,
		       coalesce((SELECT s.nome FROM did d JOIN stato_did s ON s.codice = d.stato
		                 WHERE d.componente_id = m.id AND d.data_did <= current_date
		                 ORDER BY d.data_did DESC, d.id DESC LIMIT 1), '')
		FROM componente p JOIN componente m ON m.nucleo_id = p.nucleo_id
		WHERE p.cf_canonico = $1`, string(c.Canonical()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var cfm, state string
		if err := rows.Scan(&cfm, &state); err != nil {
			t.Fatal(err)
		}
		out[cfm] = state
	}
	if len(out) == 0 {
		t.Fatalf("fixture %s has no household in the database", c.Masked())
	}
	return out
}

func checkAgainstDatabase(t *testing.T, code string, a didAnswer) {
	t.Helper()
	want := expectedHousehold(t, code)
	if len(a.Componenti) != len(want) {
		t.Fatalf("%d members in the answer, %d in the household", len(a.Componenti), len(want))
	}
	anyActive := false
	for _, m := range a.Componenti {
		state, ok := want[m.CodiceFiscale]
		if !ok {
			t.Fatalf("member %s is not in the household", cf.Code(m.CodiceFiscale).Masked())
		}
		active := state == "INSERITA" || state == "CONVALIDATA"
		anyActive = anyActive || active
		got := ""
		if m.StatoDid != nil {
			got = *m.StatoDid
			if m.DataDid == nil || m.DataStato == nil {
				t.Errorf("a DID without its dates")
			}
		}
		if got != state || m.DidAttiva != active {
			t.Errorf("member %s: stato_did %q did_attiva %v, want %q %v", cf.Code(m.CodiceFiscale).Masked(), got, m.DidAttiva, state, active)
		}
	}
	if a.DidAttiva != anyActive {
		t.Errorf("household did_attiva %v, want %v", a.DidAttiva, anyActive)
	}
	if time.Since(a.VerificatoIl) > time.Minute || a.VerificatoIl.After(time.Now().Add(time.Second)) {
		t.Errorf("verificato_il %v is not now", a.VerificatoIl)
	}
}

func TestDidCheckEveryState(t *testing.T) {
	tok := token(t, "gepi")
	fx := h.Fixtures
	cases := []struct {
		name   string
		codes  []string
		state  string
		active bool
	}{
		{"inserita", fx.DidInserita, "INSERITA", true},
		{"convalidata", fx.DidConvalidata, "CONVALIDATA", true},
		{"sospesa", fx.DidSospesa, "SOSPESA", false},
		{"revocata", fx.DidRevocata, "REVOCATA", false},
		{"annullata", fx.DidAnnullata, "ANNULLATA", false},
		{"non ammessa", fx.DidNonAmmessa, "NON_AMMESSA", false},
		{"senza did", fx.SenzaDid, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.codes) == 0 {
				t.Fatal("no fixture for this state")
			}
			code := tc.codes[0]
			a, r := didCheck(t, tok, code)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if a.CodiceFiscale != code {
				t.Errorf("codice_fiscale echoed wrong")
			}
			var self bool
			for _, m := range a.Componenti {
				if m.CodiceFiscale != code {
					continue
				}
				self = true
				got := ""
				if m.StatoDid != nil {
					got = *m.StatoDid
				}
				if got != tc.state || m.DidAttiva != tc.active {
					t.Errorf("stato_did %q did_attiva %v, want %q %v", got, m.DidAttiva, tc.state, tc.active)
				}
			}
			if !self {
				t.Fatal("the person asked about is not among the members")
			}
			checkAgainstDatabase(t, code, a)
		})
	}
}

func TestDidCheckMixedHousehold(t *testing.T) {
	if len(h.Fixtures.NucleoMisto) == 0 {
		t.Fatal("no mixed household fixture")
	}
	a, r := didCheck(t, token(t, "anpal"), h.Fixtures.NucleoMisto[0])
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	states := map[string]bool{}
	for _, m := range a.Componenti {
		s := "none"
		if m.StatoDid != nil {
			s = *m.StatoDid
		}
		states[s] = true
	}
	if len(states) < 2 {
		t.Errorf("a mixed household answered with one state only: %v", states)
	}
	checkAgainstDatabase(t, h.Fixtures.NucleoMisto[0], a)
}

func TestDidCheckOmocodicVariant(t *testing.T) {
	tok := token(t, "gepi")
	code := cf.Code(h.Fixtures.DidAttiva[0])
	base, r := didCheck(t, tok, string(code))
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	for _, n := range []int{1, 3, 7} {
		v, err := cf.Variant(code, n)
		if err != nil {
			t.Fatal(err)
		}
		// lower case with spaces: the caller's formatting must not matter either
		a, r := didCheck(t, tok, " "+strings.ToLower(string(v))+" ")
		if r.status != http.StatusOK {
			t.Fatalf("variant %d: status %d: %s", n, r.status, r.body)
		}
		if len(a.Componenti) != len(base.Componenti) || a.DidAttiva != base.DidAttiva {
			t.Errorf("variant %d found another household", n)
		}
	}
	// And a person whose issued code is itself omocodic is found by the canonical form.
	if len(h.Fixtures.Omocodico) == 0 {
		t.Fatal("no omocodic fixture")
	}
	issued := cf.Code(h.Fixtures.Omocodico[0])
	_, r = didCheck(t, tok, string(issued.Canonical()))
	if r.status != http.StatusOK {
		t.Fatalf("canonical form of an omocodic person: status %d", r.status)
	}
}

func TestDidCheckErrors(t *testing.T) {
	testLookupErrors(t, didURL(), token(t, "gepi"), token(t, "mlps"), h.Fixtures.DidAttiva[0])
}

// testLookupErrors checks every refusal a household look-up shares: tok may
// call url, noScope is a good token without the look-up's scope, valid a
// person the look-up would answer about.
func testLookupErrors(t *testing.T, url, tok, noScope, valid string) {
	t.Helper()
	wrongCheck := valid[:15] + string(rune('A'+(int(valid[15]-'A')+1)%26))

	t.Run("invalid check letter", func(t *testing.T) {
		r := postJSON(t, url, tok, map[string]string{"codice_fiscale": wrongCheck})
		m := assertProblem(t, r, http.StatusBadRequest, wrongCheck)
		errs, _ := m["errors"].([]any)
		if len(errs) == 0 || errs[0].(map[string]any)["field"] != "codice_fiscale" {
			t.Fatalf("errors[0].field is not codice_fiscale: %s", r.body)
		}
	})
	t.Run("unknown person", func(t *testing.T) {
		unknown := h.Fixtures.Sconosciuto[0]
		assertProblem(t, postJSON(t, url, tok, map[string]string{"codice_fiscale": unknown}), http.StatusNotFound, unknown)
	})
	t.Run("unknown field", func(t *testing.T) {
		r := postJSON(t, url, tok, map[string]any{"codice_fiscale": valid, "extra": 1})
		m := assertProblem(t, r, http.StatusBadRequest, valid)
		// Refused without its name, which is the caller's (issue 11).
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["code"] != "unknown" || errs[0].(map[string]any)["field"] != "" {
			t.Errorf("the unknown field is not refused as unknown, unnamed: %s", r.body)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		assertProblem(t, do(t, call{url: url, token: tok, contentType: "application/json", body: []byte(`{"codice_fiscale":`)}), http.StatusBadRequest)
	})
	t.Run("wrong type", func(t *testing.T) {
		assertProblem(t, postJSON(t, url, tok, map[string]any{"codice_fiscale": 42}), http.StatusBadRequest)
	})
	t.Run("wrong content type", func(t *testing.T) {
		r := do(t, call{url: url, token: tok, contentType: "text/plain", body: []byte(`{"codice_fiscale":"` + valid + `"}`)})
		assertProblem(t, r, http.StatusUnsupportedMediaType, valid)
	})
	t.Run("body over 1 MiB", func(t *testing.T) {
		big := []byte(`{"codice_fiscale":"` + strings.Repeat("A", 1<<20) + `"}`)
		assertProblem(t, do(t, call{url: url, token: tok, contentType: "application/json", body: big}), http.StatusRequestEntityTooLarge)
	})
	t.Run("GET", func(t *testing.T) {
		r := do(t, call{method: http.MethodGet, url: url, token: tok})
		assertProblem(t, r, http.StatusMethodNotAllowed)
		if r.header.Get("Allow") != "POST" {
			t.Errorf("Allow %q", r.header.Get("Allow"))
		}
	})
	t.Run("no scope", func(t *testing.T) {
		r := postJSON(t, url, noScope, map[string]string{"codice_fiscale": valid})
		assertProblem(t, r, http.StatusForbidden, valid)
		if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	})
	for name, bad := range tokenCases(t) {
		t.Run(name, func(t *testing.T) {
			r := postJSON(t, url, bad, map[string]string{"codice_fiscale": valid})
			assertProblem(t, r, http.StatusUnauthorized, valid)
			if !strings.Contains(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestDidCheckRequestIDAndAudit(t *testing.T) {
	tok := token(t, "anpal")
	code := h.Fixtures.DidAttiva[1]
	r := do(t, call{url: didURL(), token: tok, contentType: "application/json",
		body: []byte(`{"codice_fiscale":"` + code + `"}`), header: map[string]string{"X-Request-Id": "partner-req-42"}})
	if r.status != http.StatusOK || r.header.Get("X-Request-Id") != "partner-req-42" {
		t.Fatalf("status %d, request id %q", r.status, r.header.Get("X-Request-Id"))
	}
	var client, org, function, outcome string
	var nucleo *int64
	err := h.DB.QueryRow(context.Background(), `
		SELECT client_id, org, function, outcome, nucleo_id FROM audit_log WHERE request_id = 'partner-req-42'`).
		Scan(&client, &org, &function, &outcome, &nucleo)
	if err != nil {
		t.Fatalf("no audit record for the request: %v", err)
	}
	if client != "anpal" || org != "ANPAL" || function != "did-check" || outcome != "found" || nucleo == nil {
		t.Errorf("audit record: %s %s %s %s %v", client, org, function, outcome, nucleo)
	}
	// A look-up of an unknown person is an access too.
	r = do(t, call{url: didURL(), token: tok, contentType: "application/json",
		body: []byte(`{"codice_fiscale":"` + h.Fixtures.Sconosciuto[0] + `"}`), header: map[string]string{"X-Request-Id": "partner-req-43"}})
	var n int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE request_id = 'partner-req-43' AND outcome = 'not_found'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusNotFound || n != 1 {
		t.Errorf("unknown person: status %d, %d audit records", r.status, n)
	}
	// The trail holds no codice fiscale.
	var leaks int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE subject_ref = $1 OR subject_ref = $2`, code, strings.ToUpper(code)).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Error("the audit trail stores the codice fiscale in clear")
	}
}

func TestDidCheckOutages(t *testing.T) {
	testLookupOutages(t, "did-check", token(t, "gepi"), h.Fixtures.DidAttiva[2])
}

// testLookupOutages stops Redis, then PostgreSQL, under a household look-up.
func testLookupOutages(t *testing.T, function, tok, code string) {
	t.Helper()
	ask := func() reply { return postJSON(t, h.URL(function, ""), tok, map[string]string{"codice_fiscale": code}) }

	t.Run("redis down", func(t *testing.T) {
		if h.Redis == nil {
			t.Fatal("the harness has no Redis")
		}
		h.Redis.Cut()
		defer h.Redis.Restore()
		for range 3 {
			if r := ask(); r.status != http.StatusOK {
				t.Fatalf("with Redis down: status %d: %s", r.status, r.body)
			}
		}
	})
	t.Run("postgres down then back", func(t *testing.T) {
		h.Postgres.Cut()
		r := ask()
		assertProblem(t, r, http.StatusServiceUnavailable, code)
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		st := do(t, call{method: http.MethodGet, url: h.URL(function, "/status")})
		if st.status != http.StatusServiceUnavailable {
			t.Errorf("status route says %d while PostgreSQL is down", st.status)
		}
		h.Postgres.Restore()
		deadline := time.Now().Add(15 * time.Second)
		for {
			r = ask()
			if r.status == http.StatusOK || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.status != http.StatusOK {
			t.Fatalf("no recovery after PostgreSQL came back: %d %s", r.status, r.body)
		}
	})
}

// TestDidCheckSeesDIDChanges warms the cache, changes the person's DID in
// PostgreSQL as the job-centre feed would, and expects the next answers to
// follow within the notification's delivery, far below the cache's TTL.
func TestDidCheckSeesDIDChanges(t *testing.T) {
	tok := token(t, "gepi")
	code := h.Fixtures.DidAttiva[3]
	stateOf := func() string {
		a, r := didCheck(t, tok, code)
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		for _, m := range a.Componenti {
			if m.CodiceFiscale == code && m.StatoDid != nil {
				return *m.StatoDid
			}
		}
		return ""
	}
	before := stateOf()
	stateOf() // served from the process cache now
	if before != "INSERITA" && before != "CONVALIDATA" {
		t.Fatalf("fixture not active: %q", before)
	}
	for _, change := range []struct{ sql, want string }{
		{`UPDATE did SET stato = 'R', data_stato = current_date WHERE id = (SELECT d.id FROM did d JOIN componente c ON c.id = d.componente_id WHERE c.codice_fiscale = $1 ORDER BY d.data_did DESC, d.id DESC LIMIT 1)`, "REVOCATA"},
		{`INSERT INTO did (componente_id, stato, data_did, data_stato, cpi) SELECT id, 'I', current_date, current_date, 'CPI-TEST' FROM componente WHERE codice_fiscale = $1`, "INSERITA"},
	} {
		if _, err := h.DB.Exec(context.Background(), change.sql, code); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		got := stateOf()
		for got != change.want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			got = stateOf()
		}
		if got != change.want {
			t.Fatalf("after the change the answer still says %q, want %q", got, change.want)
		}
	}
}

// TestDidCheckFollowsStateTable: the meaning of a state lives in stato_did
// (the national table is assumed equal to the regional one, so it may be
// corrected); a correction reaches cached answers at once.
func TestDidCheckFollowsStateTable(t *testing.T) {
	tok := token(t, "gepi")
	code := h.Fixtures.DidSospesa[0]
	active := func() bool {
		a, r := didCheck(t, tok, code)
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		for _, m := range a.Componenti {
			if m.CodiceFiscale == code {
				return m.DidAttiva
			}
		}
		t.Fatal("the person is not in their own household")
		return false
	}
	if active() {
		t.Fatal("a suspended DID is active")
	}
	if active() { // asked twice: the second answer may come from the cache
		t.Fatal("a suspended DID is active")
	}
	set := func(v bool) {
		if _, err := h.DB.Exec(context.Background(), `UPDATE stato_did SET attiva = $1 WHERE codice = 'S'`, v); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	defer set(false)
	eventually(t, 2*time.Second, "the corrected state to show", active)
	set(false)
	eventually(t, 2*time.Second, "the restored state to show", func() bool { return !active() })
}
