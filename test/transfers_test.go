package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/cf"
)

const (
	toCPI    = "transfer-to-cpi"
	toSocial = "transfer-to-social-services"
)

// Exactly the members the contract allows in a transfer's answer
// (art. 3 c.1 lett. a nn. 1, 2, 3, 9, and n. 1 for the members concerned).
var (
	answerKeys       = []string{"beneficiari", "data_trasferimento", "esito", "id_trasferimento", "nucleo"}
	nucleoKeys       = []string{"data_decorrenza", "data_dsu", "data_presentazione", "importo_beneficio", "isee", "patrimonio_immobiliare", "patrimonio_mobiliare", "protocollo_domanda", "reddito_familiare", "residenza", "stato_domanda"}
	residenzaKeys    = []string{"cap", "comune_istat", "indirizzo"}
	beneficiarioKeys = []string{"cittadinanza", "codice_fiscale", "cognome", "comune_nascita", "data_nascita", "email", "nome", "sesso", "telefono"}
)

type transferAnswer struct {
	ID          string `json:"id_trasferimento"`
	Esito       string `json:"esito"`
	Beneficiari []struct {
		CodiceFiscale string `json:"codice_fiscale"`
	} `json:"beneficiari"`
}

// transferCall posts a transfer; key may be "".
func transferCall(t *testing.T, function, tok, key string, body any) reply {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	c := call{url: h.URL(function, ""), token: tok, contentType: "application/json", body: b}
	if key != "" {
		c.header = map[string]string{"Idempotency-Key": key}
	}
	return do(t, c)
}

func toCPIBody(code string) map[string]string { return map[string]string{"codice_fiscale": code} }
func toSocialBody(code string) map[string]string {
	return map[string]string{"codice_fiscale": code, "motivazione": "fragilità che richiede la presa in carico dei servizi sociali"}
}

// households returns, for n households never transferred and not followed by
// side, the code of a member to be called in by side.
func households(t *testing.T, side string, n int) []string {
	t.Helper()
	col := map[string]string{"CPI": "da_convocare_cpi", "SERVIZI_SOCIALI": "da_convocare_comune"}[side]
	rows, err := h.DB.Query(context.Background(), fmt.Sprintf(`
		SELECT (SELECT m.codice_fiscale FROM componente m WHERE m.nucleo_id = n.id AND m.%[1]s ORDER BY m.id LIMIT 1)
		FROM nucleo n
		WHERE n.servizio_competente <> $1
		  AND EXISTS (SELECT 1 FROM componente m WHERE m.nucleo_id = n.id AND m.%[1]s)
		  AND NOT EXISTS (SELECT 1 FROM trasferimento t WHERE t.nucleo_id = n.id)
		ORDER BY n.id DESC LIMIT $2`, col), side, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) < n {
		t.Fatalf("only %d households to transfer to %s, want %d", len(out), side, n)
	}
	return out
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkMinimal checks that an answer holds exactly the contract's fields,
// and as beneficiari exactly the members the database says are concerned.
func checkMinimal(t *testing.T, body []byte, code, column string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(m); !slices.Equal(got, answerKeys) {
		t.Errorf("answer fields %v, want %v", got, answerKeys)
	}
	nucleo, _ := m["nucleo"].(map[string]any)
	if got := keysOf(nucleo); !slices.Equal(got, nucleoKeys) {
		t.Errorf("nucleo fields %v, want %v", got, nucleoKeys)
	}
	res, _ := nucleo["residenza"].(map[string]any)
	if got := keysOf(res); !slices.Equal(got, residenzaKeys) {
		t.Errorf("residenza fields %v, want %v", got, residenzaKeys)
	}
	var got []string
	for _, b := range m["beneficiari"].([]any) {
		b := b.(map[string]any)
		if k := keysOf(b); !slices.Equal(k, beneficiarioKeys) {
			t.Errorf("beneficiario fields %v, want %v", k, beneficiarioKeys)
		}
		got = append(got, b["codice_fiscale"].(string))
	}
	c, _ := cf.Parse(code)
	rows, err := h.DB.Query(context.Background(), fmt.Sprintf(`
		SELECT m.codice_fiscale, m.%s FROM componente p JOIN componente m ON m.nucleo_id = p.nucleo_id
		WHERE p.cf_canonico = $1 ORDER BY m.id`, column), string(c.Canonical()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var want []string
	for rows.Next() {
		var member string
		var concerned bool
		if err := rows.Scan(&member, &concerned); err != nil {
			t.Fatal(err)
		}
		if concerned {
			want = append(want, member)
		} else if bytes.Contains(body, []byte(member)) {
			t.Errorf("the answer names a member who is not concerned")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("beneficiari %d members, want the %d to be called in", len(got), len(want))
	}
}

func TestTransferToCPI(t *testing.T) {
	tok := token(t, "gepi")
	code := h.Fixtures.TrasferibileCPI[0]
	r := transferCall(t, toCPI, tok, "", toCPIBody(code))
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var a transferAnswer
	decodeInto(t, r, &a)
	if a.Esito != "TRASFERITO" || a.ID == "" {
		t.Errorf("esito %q id %q", a.Esito, a.ID)
	}
	checkMinimal(t, r.body, code, "da_convocare_cpi")

	var verso, da, servizio, org string
	c, _ := cf.Parse(code)
	err := h.DB.QueryRow(context.Background(), `
		SELECT t.verso, t.da, n.servizio_competente, t.org FROM trasferimento t JOIN nucleo n ON n.id = t.nucleo_id
		WHERE t.id = $1 AND n.id = (SELECT nucleo_id FROM componente WHERE cf_canonico = $2)`, a.ID, string(c.Canonical())).
		Scan(&verso, &da, &servizio, &org)
	if err != nil {
		t.Fatalf("the transfer is not recorded: %v", err)
	}
	if verso != "CPI" || da == "CPI" || servizio != "CPI" || org != "GEPI" {
		t.Errorf("recorded %s→%s, household now %s, by %s", da, verso, servizio, org)
	}
	var audited int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE request_id = $1 AND outcome = 'created'`, r.header.Get("X-Request-Id")).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Errorf("%d audit records for the transfer", audited)
	}

	// ANPAL is told, once, with what the caller got.
	eventually(t, 5*time.Second, "ANPAL's notification", func() bool { _, ok := anpal.effect(a.ID); return ok })
	body, _ := anpal.effect(a.ID)
	var n map[string]any
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	if n["id_trasferimento"] != a.ID || n["verso"] != "CPI" {
		t.Errorf("notification %v", keysOf(n))
	}
	if _, ok := gepi.effect(a.ID); ok {
		t.Error("GePI was told of a transfer to the CPI")
	}

	// Again: the household is followed by the CPI now.
	r = transferCall(t, toCPI, tok, "", toCPIBody(code))
	assertProblem(t, r, http.StatusConflict, code)
}

func TestTransferToSocialServicesAndHistory(t *testing.T) {
	// A household with members for both sides: there and back, and there again.
	rows, err := h.DB.Query(context.Background(), `
		SELECT (SELECT m.codice_fiscale FROM componente m WHERE m.nucleo_id = n.id ORDER BY m.id LIMIT 1)
		FROM nucleo n
		WHERE n.servizio_competente = 'NESSUNO'
		  AND EXISTS (SELECT 1 FROM componente m WHERE m.nucleo_id = n.id AND m.da_convocare_cpi)
		  AND EXISTS (SELECT 1 FROM componente m WHERE m.nucleo_id = n.id AND m.da_convocare_comune)
		  AND NOT EXISTS (SELECT 1 FROM trasferimento t WHERE t.nucleo_id = n.id)
		ORDER BY n.id LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	var code string
	for rows.Next() {
		if err := rows.Scan(&code); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if code == "" {
		t.Fatal("no household with members for both sides")
	}
	gepiTok, anpalTok := token(t, "gepi"), token(t, "anpal")
	steps := []struct {
		function, tok string
		body          map[string]string
		column        string
	}{
		{toCPI, gepiTok, toCPIBody(code), "da_convocare_cpi"},
		{toSocial, anpalTok, toSocialBody(code), "da_convocare_comune"},
		{toCPI, gepiTok, toCPIBody(code), "da_convocare_cpi"},
	}
	var ids []string
	for _, s := range steps {
		r := transferCall(t, s.function, s.tok, "", s.body)
		if r.status != http.StatusCreated {
			t.Fatalf("%s: status %d: %s", s.function, r.status, r.body)
		}
		checkMinimal(t, r.body, code, s.column)
		var a transferAnswer
		decodeInto(t, r, &a)
		ids = append(ids, a.ID)
	}
	c, _ := cf.Parse(code)
	hist, err := h.DB.Query(context.Background(), `
		SELECT da || '>' || verso, coalesce(motivazione, '') FROM trasferimento
		WHERE nucleo_id = (SELECT nucleo_id FROM componente WHERE cf_canonico = $1) ORDER BY creato_il, id`, string(c.Canonical()))
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	var reasons []string
	for hist.Next() {
		var m, why string
		if err := hist.Scan(&m, &why); err != nil {
			t.Fatal(err)
		}
		moves = append(moves, m)
		reasons = append(reasons, why)
	}
	hist.Close()
	want := []string{"NESSUNO>CPI", "CPI>SERVIZI_SOCIALI", "SERVIZI_SOCIALI>CPI"}
	if !slices.Equal(moves, want) {
		t.Errorf("history %v, want %v", moves, want)
	}
	if len(reasons) == 3 && reasons[1] == "" {
		t.Error("the reason for the move to the social services is not kept")
	}
	eventually(t, 5*time.Second, "GePI's notification", func() bool { _, ok := gepi.effect(ids[1]); return ok })
}

func TestTransferErrors(t *testing.T) {
	gepiTok, anpalTok := token(t, "gepi"), token(t, "anpal")
	code := households(t, "SERVIZI_SOCIALI", 1)[0]
	cases := []struct {
		name     string
		function string
		tok      string
		c        call
		status   int
		field    string
	}{
		{"motivazione missing", toSocial, anpalTok, call{body: []byte(`{"codice_fiscale":"` + code + `"}`)}, 400, "motivazione"},
		{"motivazione blank", toSocial, anpalTok, call{body: []byte(`{"codice_fiscale":"` + code + `","motivazione":"   "}`)}, 400, "motivazione"},
		{"motivazione too long", toSocial, anpalTok, call{body: []byte(`{"codice_fiscale":"` + code + `","motivazione":"` + strings.Repeat("x", 2001) + `"}`)}, 400, "motivazione"},
		{"bad check letter", toCPI, gepiTok, call{body: []byte(`{"codice_fiscale":"` + code[:15] + string(rune('A'+(int(code[15]-'A')+1)%26)) + `"}`)}, 400, "codice_fiscale"},
		{"unknown field", toCPI, gepiTok, call{body: []byte(`{"codice_fiscale":"` + code + `","nucleo":1}`)}, 400, ""}, // not named: it is not one of the request's fields
		{"malformed", toCPI, gepiTok, call{body: []byte(`{"codice_fiscale":`)}, 400, ""},
		{"bad Idempotency-Key", toCPI, gepiTok, call{body: []byte(`{"codice_fiscale":"` + code + `"}`), header: map[string]string{"Idempotency-Key": "has space"}}, 400, "Idempotency-Key"},
		{"unknown person", toCPI, gepiTok, call{body: []byte(`{"codice_fiscale":"` + h.Fixtures.Sconosciuto[0] + `"}`)}, 404, ""},
		{"ANPAL may not transfer to the CPI", toCPI, anpalTok, call{body: []byte(`{"codice_fiscale":"` + code + `"}`)}, 403, ""},
		{"GePI may not transfer to the social services", toSocial, gepiTok, call{body: []byte(`{"codice_fiscale":"` + code + `","motivazione":"x"}`)}, 403, ""},
		{"no token", toCPI, "", call{body: []byte(`{"codice_fiscale":"` + code + `"}`)}, 401, ""},
		{"wrong content type", toCPI, gepiTok, call{body: []byte(`{"codice_fiscale":"` + code + `"}`), contentType: "text/plain"}, 415, ""},
		{"over 1 MiB", toCPI, gepiTok, call{body: []byte(`{"codice_fiscale":"` + strings.Repeat("A", 1<<20) + `"}`)}, 413, ""},
		{"GET", toCPI, gepiTok, call{method: http.MethodGet}, 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.url, c.token = h.URL(tc.function, ""), tc.tok
			if c.contentType == "" && c.method == "" {
				c.contentType = "application/json"
			}
			m := assertProblem(t, do(t, c), tc.status, code)
			if tc.field != "" {
				errs, _ := m["errors"].([]any)
				if len(errs) == 0 || errs[0].(map[string]any)["field"] != tc.field {
					t.Errorf("errors[0].field is not %s: %v", tc.field, m["errors"])
				}
			}
		})
	}
	for name, bad := range tokenCases(t) {
		t.Run(name, func(t *testing.T) {
			assertProblem(t, transferCall(t, toCPI, bad, "", toCPIBody(code)), http.StatusUnauthorized, code)
		})
	}
	// None of them changed anything.
	c, _ := cf.Parse(code)
	var n int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM trasferimento WHERE nucleo_id = (SELECT nucleo_id FROM componente WHERE cf_canonico = $1)`, string(c.Canonical())).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d transfers after refused requests", n)
	}
}

func TestTransferIdempotency(t *testing.T) {
	tok := token(t, "gepi")
	code := households(t, "CPI", 1)[0]
	key := "k-" + randomHex(8)
	const n = 50
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); replies[i] = transferCall(t, toCPI, tok, key, toCPIBody(code)) }()
	}
	wg.Wait()
	created := 0
	for _, r := range replies {
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if !bytes.Equal(r.body, replies[0].body) {
			t.Fatalf("answers differ:\n%s\n%s", r.body, replies[0].body)
		}
	}
	if created != 1 {
		t.Errorf("%d answers were 201, want 1", created)
	}
	c, _ := cf.Parse(code)
	var transfers int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM trasferimento WHERE nucleo_id = (SELECT nucleo_id FROM componente WHERE cf_canonico = $1)`, string(c.Canonical())).Scan(&transfers); err != nil {
		t.Fatal(err)
	}
	if transfers != 1 {
		t.Errorf("%d transfers, want 1", transfers)
	}
	// The same key with another body.
	other := households(t, "CPI", 1)[0]
	assertProblem(t, transferCall(t, toCPI, tok, key, toCPIBody(other)), http.StatusUnprocessableEntity, other)
	// Another client's key is its own.
	r := transferCall(t, toCPI, token(t, "gepi"), key, toCPIBody(code))
	if r.status != http.StatusOK {
		t.Errorf("replay after the 422: status %d", r.status)
	}
}

func TestTransferNotificationSurvivesPartnerOutage(t *testing.T) {
	tok := token(t, "gepi")
	anpal.down.Store(true)
	codes := households(t, "CPI", 5)
	var ids []string
	for _, code := range codes {
		r := transferCall(t, toCPI, tok, "", toCPIBody(code))
		if r.status != http.StatusCreated {
			anpal.down.Store(false)
			t.Fatalf("status %d while the partner is down: %s", r.status, r.body)
		}
		var a transferAnswer
		decodeInto(t, r, &a)
		ids = append(ids, a.ID)
	}
	// Several attempts fail meanwhile: wait until each has failed more than once.
	var retried int
	eventually(t, 10*time.Second, "every notification retried during the outage", func() bool {
		if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM consegna WHERE id = ANY ($1::uuid[]) AND stato = 'IN_ATTESA' AND tentativi > 1`, ids).Scan(&retried); err != nil {
			t.Fatal(err)
		}
		return retried == len(ids)
	})
	for _, id := range ids {
		if _, ok := anpal.effect(id); ok {
			t.Fatal("delivered while the partner was down")
		}
	}
	anpal.down.Store(false)
	eventually(t, 5*time.Second, "delivery after the outage", func() bool {
		var done int
		if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM consegna WHERE id = ANY ($1::uuid[]) AND stato = 'CONSEGNATA'`, ids).Scan(&done); err != nil {
			t.Fatal(err)
		}
		return done == len(ids)
	})
	for _, id := range ids {
		if _, ok := anpal.effect(id); !ok {
			t.Errorf("transfer %s recorded as delivered but not applied", id)
		}
	}
}

// TestTransferBurstWithPostgresOutage cuts every connection to PostgreSQL in
// the middle of 1,000 transfers. Afterwards each 201 exists exactly once,
// each refusal left nothing, and every refusal was a 503.
func TestTransferBurstWithPostgresOutage(t *testing.T) {
	const total = 1000
	tok := token(t, "gepi")
	codes := households(t, "CPI", total)
	statuses := make([]int, total)
	ids := make([]string, total)
	next := make(chan int)
	var done sync.WaitGroup
	var progress sync.WaitGroup
	progress.Add(300)
	var once [total]sync.Once
	for range 16 {
		done.Add(1)
		go func() {
			defer done.Done()
			for i := range next {
				r := transferCall(t, toCPI, tok, "", toCPIBody(codes[i]))
				statuses[i] = r.status
				if r.status == http.StatusCreated {
					var a transferAnswer
					if err := json.Unmarshal(r.body, &a); err != nil {
						t.Errorf("a 201 with a body that is not JSON: %v", err) // not Fatal: off the test's goroutine
					}
					ids[i] = a.ID
				} else {
					time.Sleep(100 * time.Millisecond) // a client waits a little after a 503
				}
				if i < 300 {
					once[i].Do(progress.Done)
				}
			}
		}()
	}
	go func() {
		for i := range total {
			next <- i
		}
		close(next)
	}()
	progress.Wait()
	h.Postgres.Cut()
	time.Sleep(time.Second)
	h.Postgres.Restore()
	done.Wait()

	created, refused := 0, 0
	for i, code := range codes {
		c, _ := cf.Parse(code)
		var n int
		var id *string
		err := h.DB.QueryRow(context.Background(), `
			SELECT count(*), min(t.id::text) FROM trasferimento t
			WHERE t.nucleo_id = (SELECT nucleo_id FROM componente WHERE cf_canonico = $1)`, string(c.Canonical())).Scan(&n, &id)
		if err != nil {
			t.Fatal(err)
		}
		switch statuses[i] {
		case http.StatusCreated:
			created++
			if n != 1 || id == nil || *id != ids[i] {
				t.Errorf("a 201 left %d transfers for its household", n)
			}
		case http.StatusServiceUnavailable:
			refused++
			if n != 0 {
				t.Errorf("a 503 left %d transfers for its household", n)
			}
		default:
			t.Errorf("status %d during the outage", statuses[i])
		}
	}
	made := slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == "" })
	var outbox int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM consegna WHERE id = ANY ($1::uuid[])`, made).Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	if outbox != created {
		t.Errorf("%d outbox rows for %d transfers", outbox, created)
	}
	// The worker lived through the outage too: every notification arrives, once.
	eventually(t, 20*time.Second, "every notification of the burst delivered", func() bool {
		var n int
		if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM consegna WHERE id = ANY ($1::uuid[]) AND stato = 'CONSEGNATA'`, made).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == created
	})
	for _, id := range made {
		if _, ok := anpal.effect(id); !ok {
			t.Fatalf("transfer %s delivered but not applied", id)
		}
	}
	t.Logf("%d transfers created, %d refused with 503 during the outage", created, refused)
	if refused == 0 {
		t.Error("no request failed: the outage did not happen during the burst")
	}
	if created < 400 {
		t.Errorf("only %d transfers created: the function did not recover after the outage", created)
	}
}

func TestTransferWithoutRedis(t *testing.T) {
	h.Redis.Cut()
	defer h.Redis.Restore()
	code := households(t, "CPI", 1)[0]
	if r := transferCall(t, toCPI, token(t, "gepi"), "k-"+randomHex(8), toCPIBody(code)); r.status != http.StatusCreated {
		t.Fatalf("with Redis down: status %d: %s", r.status, r.body)
	}
}

// TestTransferScheduledCall: the cron-connector's call (no token) runs the
// outbox sweep and the key purge, answers counts only, and is harmless to repeat.
func TestTransferScheduledCall(t *testing.T) {
	for _, fn := range []string{toCPI, toSocial} {
		r := fireScheduled(t, fn)
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", fn, r.status, r.body)
		}
		if keys := keysOf(r.json(t)); !slices.Equal(keys, []string{"chiavi_scadute", "consegnate", "da_ritentare", "scartate"}) {
			t.Fatalf("%s: scheduled answer holds %v", fn, keys)
		}
		// Again in the same slot: nothing runs, nothing personal is said.
		if st := h.Gateway.Fire(context.Background(), fn); st != http.StatusOK {
			t.Errorf("%s: the gateway's cron call got %d", fn, st)
		}
		r = do(t, call{url: h.URL(fn, ""), header: map[string]string{"X-Connector": "cron-connector"}})
		if keys := keysOf(r.json(t)); r.status != http.StatusOK || !slices.Equal(keys, []string{"eseguito", "turno"}) {
			t.Fatalf("%s: a repeated scheduled call: %d %v", fn, r.status, keys)
		}
	}
	// A token-less call without the connector's header is refused.
	assertProblem(t, do(t, call{url: h.URL(toCPI, ""), contentType: "application/json", body: []byte(`{}`)}), http.StatusUnauthorized)
}
