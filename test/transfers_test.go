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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/shared/cf"
)

const (
	toCPI    = "transfer-to-cpi"
	toSocial = "transfer-to-social-services"
)

// Exactly the members the contract allows in a transfer's answer
// (art. 3 c.1 lett. a nn. 1, 2, 3, 9, and n. 1 for the members concerned;
// to the social services also the members' nn. 4–8).
var (
	answerKeys       = []string{"beneficiari", "data_trasferimento", "esito", "id_trasferimento", "nucleo"}
	nucleoKeys       = []string{"data_decorrenza", "data_dsu", "data_presentazione", "importo_beneficio", "isee", "patrimonio_immobiliare", "patrimonio_mobiliare", "protocollo_domanda", "reddito_familiare", "residenza", "stato_domanda"}
	residenzaKeys    = []string{"cap", "comune_istat", "indirizzo"}
	beneficiarioKeys = []string{"cittadinanza", "codice_fiscale", "cognome", "comune_nascita", "data_nascita", "email", "nome", "sesso", "telefono"}
	// n. 1 and nn. 4–8 of a member to be called in by the Comuni.
	socialBeneficiarioKeys = []string{"cittadinanza", "codice_fiscale", "cognome", "comune_nascita", "da_convocare_comune", "da_convocare_cpi", "data_nascita",
		"email", "in_scala_equivalenza", "nome", "obbligato", "prestazioni_sociali", "sesso", "telefono"}
	prestazioneKeys = []string{"codice_prestazione", "data_fine", "data_inizio", "descrizione", "ente_erogatore", "importo_mensile"}
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
	memberKeys := beneficiarioKeys
	if column == "da_convocare_comune" {
		memberKeys = socialBeneficiarioKeys
	}
	for _, b := range m["beneficiari"].([]any) {
		b := b.(map[string]any)
		if k := keysOf(b); !slices.Equal(k, memberKeys) {
			t.Errorf("beneficiario fields %v, want %v", k, memberKeys)
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

// socialMember is one member as the social-services answer gives them.
type socialMember struct {
	CodiceFiscale      string         `json:"codice_fiscale"`
	Cognome            string         `json:"cognome"`
	Nome               string         `json:"nome"`
	Sesso              string         `json:"sesso"`
	DataNascita        string         `json:"data_nascita"`
	ComuneNascita      string         `json:"comune_nascita"`
	Cittadinanza       string         `json:"cittadinanza"`
	Telefono           *string        `json:"telefono"`
	Email              *string        `json:"email"`
	PrestazioniSociali *[]prestazione `json:"prestazioni_sociali"`
	InScalaEquivalenza *bool          `json:"in_scala_equivalenza"`
	Obbligato          *bool          `json:"obbligato"`
	DaConvocareCPI     *bool          `json:"da_convocare_cpi"`
	DaConvocareComune  *bool          `json:"da_convocare_comune"`
}

type prestazione struct {
	CodicePrestazione string       `json:"codice_prestazione"`
	Descrizione       string       `json:"descrizione"`
	EnteErogatore     string       `json:"ente_erogatore"`
	ImportoMensile    *json.Number `json:"importo_mensile"`
	DataInizio        string       `json:"data_inizio"`
	DataFine          *string      `json:"data_fine"`
}

func orDash[T any](p *T) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// row is the member as socialRowsSQL spells it.
func (m socialMember) row() string {
	var ps []string
	if m.PrestazioniSociali != nil {
		for _, p := range *m.PrestazioniSociali {
			ps = append(ps, strings.Join([]string{p.CodicePrestazione, p.Descrizione, p.EnteErogatore, orDash(p.ImportoMensile), p.DataInizio, orDash(p.DataFine)}, "|"))
		}
	}
	return strings.Join([]string{m.CodiceFiscale, m.Cognome, m.Nome, m.Sesso, m.DataNascita, m.ComuneNascita, m.Cittadinanza,
		orDash(m.Telefono), orDash(m.Email), orDash(m.InScalaEquivalenza), orDash(m.Obbligato), orDash(m.DaConvocareCPI),
		orDash(m.DaConvocareComune), "[" + strings.Join(ps, ";") + "]"}, "|")
}

// socialRowsSQL reads, independently of the functions, nn. 1 and 4–8 of
// the members of $1's household to be called in by the Comuni, in id order.
const socialRowsSQL = `
SELECT concat_ws('|', m.codice_fiscale, m.cognome, m.nome, m.sesso, m.data_nascita::text, m.comune_nascita, m.cittadinanza,
       coalesce(m.telefono, '-'), coalesce(m.email, '-'), m.in_scala_equivalenza::text, m.obbligato::text,
       m.da_convocare_cpi::text, m.da_convocare_comune::text,
       '[' || coalesce((SELECT string_agg(concat_ws('|', s.codice_prestazione, s.descrizione, s.ente_erogatore,
                 coalesce(s.importo_mensile::text, '-'), s.data_inizio::text, coalesce(s.data_fine::text, '-')), ';' ORDER BY s.data_inizio, s.id)
              FROM prestazione_sociale s WHERE s.componente_id = m.id), '') || ']')
FROM componente p JOIN componente m ON m.nucleo_id = p.nucleo_id
WHERE p.cf_canonico = $1 AND m.da_convocare_comune AND ($2::text[] IS NULL OR m.cf_canonico = ANY ($2))
ORDER BY m.id`

func canonical(t *testing.T, code string) string {
	t.Helper()
	c, err := cf.Parse(code)
	if err != nil {
		t.Fatalf("%s: %v", code, err)
	}
	return string(c.Canonical())
}

// checkSocialAnswer checks a social-services answer against the database:
// nn. 1–9, for exactly the members concerned (those of subset, when named).
func checkSocialAnswer(t *testing.T, r reply, code string, subset []string) []socialMember {
	t.Helper()
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/"+toSocial, "post", r)
	var a struct {
		Nucleo struct {
			Isee              json.Number `json:"isee"`
			ImportoBeneficio  json.Number `json:"importo_beneficio"`
			StatoDomanda      string      `json:"stato_domanda"`
			DataPresentazione string      `json:"data_presentazione"`
		} `json:"nucleo"`
		Beneficiari []socialMember `json:"beneficiari"`
	}
	decodeInto(t, r, &a)
	var m map[string]any
	decodeInto(t, r, &m)
	for _, b := range m["beneficiari"].([]any) {
		if k := keysOf(b.(map[string]any)); !slices.Equal(k, socialBeneficiarioKeys) {
			t.Errorf("beneficiario fields %v, want %v", k, socialBeneficiarioKeys)
		}
		for _, p := range b.(map[string]any)["prestazioni_sociali"].([]any) {
			if k := keysOf(p.(map[string]any)); !slices.Equal(k, prestazioneKeys) {
				t.Errorf("prestazione fields %v, want %v", k, prestazioneKeys)
			}
		}
	}
	if got := keysOf(m); !slices.Equal(got, answerKeys) {
		t.Errorf("answer fields %v", got)
	}
	var canon []string
	for _, c := range subset {
		canon = append(canon, canonical(t, c))
	}
	var want []string
	rows, err := h.DB.Query(context.Background(), socialRowsSQL, canonical(t, code), canon)
	if err != nil {
		t.Fatal(err)
	}
	want, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range a.Beneficiari {
		got = append(got, b.row())
	}
	if !slices.Equal(got, want) {
		t.Errorf("beneficiari\n%q\nwant\n%q", got, want)
	}
	var isee, importo, stato, presentazione string
	if err := h.DB.QueryRow(context.Background(), `SELECT n.isee::text, n.importo_beneficio::text, n.stato_domanda, n.data_presentazione::text
		FROM nucleo n JOIN componente p ON p.nucleo_id = n.id WHERE p.cf_canonico = $1`, canonical(t, code)).Scan(&isee, &importo, &stato, &presentazione); err != nil {
		t.Fatal(err)
	}
	if string(a.Nucleo.Isee) != isee || string(a.Nucleo.ImportoBeneficio) != importo || a.Nucleo.StatoDomanda != stato || a.Nucleo.DataPresentazione != presentazione {
		t.Errorf("nucleo %+v, want isee %s benefit %s %s %s", a.Nucleo, isee, importo, stato, presentazione)
	}
	return a.Beneficiari
}

func benefitData(code, start string, amount any, end any) map[string]any {
	return map[string]any{"codice_prestazione": code, "descrizione": "Prestazione " + code, "ente_erogatore": "Comune di Roma",
		"importo_mensile": amount, "data_inizio": start, "data_fine": end}
}

// mixedHousehold feeds a household of three new members: a and b to be
// called in by the Comuni (a with two social benefits; b not in the
// equivalence scale, not bound, none, and for the CPI too), c by the CPI
// only.
func mixedHousehold(t *testing.T) (protocol, a, b, c string) {
	t.Helper()
	protocol = "INPS-T-" + uuid.NewString()
	a, b, c = newPerson(t), newPerson(t), newPerson(t)
	at := time.Now()
	ma := memberData(protocol, a)
	ma["da_convocare_cpi"], ma["da_convocare_comune"] = false, true
	ma["prestazioni_sociali"] = []any{benefitData("C3.01", "2025-06-01", 300.5, nil), benefitData("B1.01", "2024-01-10", nil, "2025-01-09")}
	mb := memberData(protocol, b)
	mb["richiedente"], mb["in_scala_equivalenza"], mb["obbligato"], mb["da_convocare_cpi"], mb["da_convocare_comune"] = false, false, false, true, true
	mb["prestazioni_sociali"] = []any{}
	mc := memberData(protocol, c)
	mc["richiedente"] = false
	ans := feed(t, "inps", rec("componente", a, at, 0, ma), rec("componente", b, at, 0, mb), rec("componente", c, at, 0, mc),
		rec("nucleo", protocol, at, 0, nucleoData()))
	if ans.Accettati != 4 || ans.Scartati != 0 {
		t.Fatalf("household: %+v", ans)
	}
	return protocol, a, b, c
}

func socialBodyWith(code string, componenti any) map[string]any {
	return map[string]any{"codice_fiscale": code, "motivazione": "presa in carico dei servizi sociali", "componenti": componenti}
}

// TestTransferToSocialServicesOwesAll: the social services get all of nn.
// 1–9 for the members to be called in by the Comuni, and GePI the same.
func TestTransferToSocialServicesOwesAll(t *testing.T) {
	anpalTok := token(t, "anpal")
	_, a, b, c := mixedHousehold(t)
	r := transferCall(t, toSocial, anpalTok, "", toSocialBody(c))
	members := checkSocialAnswer(t, r, c, nil)
	// The answer lists the members in the record's order (their ids), not
	// the feed's: put a first to compare.
	if len(members) == 2 && members[0].CodiceFiscale == b {
		members[0], members[1] = members[1], members[0]
	}
	if len(members) != 2 || members[0].CodiceFiscale != a || members[1].CodiceFiscale != b {
		t.Fatalf("members %+v", members)
	}
	if bytes.Contains(r.body, []byte(c)) {
		t.Error("the answer names the member for the CPI only")
	}
	pa := *members[0].PrestazioniSociali
	if len(pa) != 2 || pa[0].CodicePrestazione != "B1.01" || pa[0].ImportoMensile != nil || orDash(pa[0].DataFine) != "2025-01-09" ||
		pa[1].CodicePrestazione != "C3.01" || orDash(pa[1].ImportoMensile) != "300.50" || pa[1].DataFine != nil {
		t.Errorf("a's benefits, earliest first: %+v", pa)
	}
	if pb := members[1]; pb.PrestazioniSociali == nil || len(*pb.PrestazioniSociali) != 0 || *pb.InScalaEquivalenza || *pb.Obbligato || !*pb.DaConvocareCPI || !*pb.DaConvocareComune {
		t.Errorf("b: %+v", pb)
	}
	var ta transferAnswer
	decodeInto(t, r, &ta)
	id := ta.ID
	var recorded []int64
	if err := h.DB.QueryRow(context.Background(), `SELECT componenti FROM trasferimento WHERE id = $1`, id).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if want := int64s(t, `SELECT id FROM componente WHERE cf_canonico = ANY ($1) ORDER BY id`, []string{canonical(t, a), canonical(t, b)}); !slices.Equal(recorded, want) {
		t.Errorf("recorded members %v, want %v", recorded, want)
	}
	// GePI gets the full data, as the schema of its notification says.
	eventually(t, 5*time.Second, "GePI's notification", func() bool { _, ok := gepi.effect(id); return ok })
	body, _ := gepi.effect(id)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	s := loadOpenAPI(t)
	if err := s.conform(s.at("#/components/schemas/SocialServicesTransferNotification"), v, "notification"); err != nil {
		t.Error(err)
	}
	if !bytes.Contains(body, []byte(`"C3.01"`)) || !bytes.Contains(body, []byte(`"in_scala_equivalenza":false`)) {
		t.Errorf("the notification lacks nn. 4–5: %s", body)
	}

	// A generated household whose members have benefits: the same, against the database.
	var code string
	if err := h.DB.QueryRow(context.Background(), `
		SELECT m.codice_fiscale FROM componente m JOIN nucleo n ON n.id = m.nucleo_id
		WHERE m.da_convocare_comune AND n.servizio_competente <> 'SERVIZI_SOCIALI'
		  AND EXISTS (SELECT 1 FROM prestazione_sociale s WHERE s.componente_id = m.id)
		  AND EXISTS (SELECT 1 FROM componente o WHERE o.nucleo_id = n.id AND NOT o.da_convocare_comune)
		  AND NOT EXISTS (SELECT 1 FROM trasferimento x WHERE x.nucleo_id = n.id)
		ORDER BY n.id DESC LIMIT 1`).Scan(&code); err != nil {
		t.Fatalf("no generated household with social benefits: %v", err)
	}
	r = transferCall(t, toSocial, anpalTok, "", toSocialBody(code))
	checkMinimal(t, r.body, code, "da_convocare_comune")
	checkSocialAnswer(t, r, code, nil)
}

// TestTransferSubset: a request may name some of the members concerned,
// in any spelling; the answer and the record hold those alone.
func TestTransferSubset(t *testing.T) {
	_, a, b, _ := mixedHousehold(t)
	omo, err := cf.Variant(cf.Code(canonical(t, b)), 1)
	if err != nil {
		t.Fatal(err)
	}
	r := transferCall(t, toSocial, token(t, "anpal"), "", socialBodyWith(a, []string{strings.ToLower(string(omo))}))
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	members := checkSocialAnswer(t, r, a, []string{b})
	if len(members) != 1 || members[0].CodiceFiscale != b {
		t.Fatalf("members %+v, want b alone", members)
	}
	var ta transferAnswer
	decodeInto(t, r, &ta)
	if n := countOf(t, `SELECT count(*) FROM trasferimento t JOIN componente m ON m.id = ANY (t.componenti) WHERE t.id = $1 AND m.cf_canonico = $2 AND cardinality(t.componenti) = 1`,
		ta.ID, canonical(t, b)); n != 1 {
		t.Error("the transfer does not record b alone")
	}

	// To the CPI: the answer's keys as ever, the member named alone.
	_, ca, cb, cc := mixedHousehold(t) // b and c are for the CPI
	r = transferCall(t, toCPI, token(t, "gepi"), "", map[string]any{"codice_fiscale": ca, "componenti": []string{cc}})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/"+toCPI, "post", r)
	m := r.json(t)
	if !slices.Equal(keysOf(m), answerKeys) || !slices.Equal(keysOf(m["nucleo"].(map[string]any)), nucleoKeys) {
		t.Errorf("CPI answer keys %v", keysOf(m))
	}
	bs := m["beneficiari"].([]any)
	if len(bs) != 1 || bs[0].(map[string]any)["codice_fiscale"] != cc || !slices.Equal(keysOf(bs[0].(map[string]any)), beneficiarioKeys) {
		t.Errorf("CPI beneficiari %v", bs)
	}
	if bytes.Contains(r.body, []byte(cb)) {
		t.Error("the CPI answer names a member not named")
	}
}

// householdTrail counts what a transfer of code's household would leave.
func householdTrail(t *testing.T, code string) string {
	t.Helper()
	var trail string
	if err := h.DB.QueryRow(context.Background(), `
		SELECT concat_ws(' ', n.servizio_competente,
			(SELECT count(*) FROM trasferimento x WHERE x.nucleo_id = n.id),
			(SELECT count(*) FROM consegna x WHERE x.nucleo_id = n.id),
			(SELECT count(*) FROM audit_log x WHERE x.nucleo_id = n.id))
		FROM nucleo n JOIN componente p ON p.nucleo_id = n.id WHERE p.cf_canonico = $1`, canonical(t, code)).Scan(&trail); err != nil {
		t.Fatal(err)
	}
	return trail
}

// TestTransferSubsetRefused: a subset naming anyone outside the members
// concerned, a code that is not one or one person twice is a 422 that
// leaves nothing; outside the household or in it makes no difference.
func TestTransferSubsetRefused(t *testing.T) {
	anpalTok := token(t, "anpal")
	_, a, b, c := mixedHousehold(t)
	_, elsewhere, _, _ := mixedHousehold(t) // concerned, in another household
	omoA, err := cf.Variant(cf.Code(canonical(t, a)), 2)
	if err != nil {
		t.Fatal(err)
	}
	before := householdTrail(t, a)
	key := "k-" + randomHex(8)
	var outside []any
	for _, tc := range []struct {
		name        string
		componenti  any
		field, code string
	}{
		{"a member for the CPI only", []string{c}, "componenti", "not_concerned"},
		{"one concerned, one not", []string{a, c}, "componenti", "not_concerned"},
		{"nobody in the data", []string{h.Fixtures.Sconosciuto[0]}, "componenti", "not_concerned"},
		{"a member of another household", []string{elsewhere}, "componenti", "not_concerned"},
		{"not a code", []string{a, "RSSMRA85T10A562X"}, "componenti[1]", "invalid"},
		{"twice", []string{a, b, a}, "componenti[2]", "duplicate"},
		{"twice, once omocodic", []string{a, string(omoA)}, "componenti[1]", "duplicate"},
		{"empty", []string{}, "componenti", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := transferCall(t, toSocial, anpalTok, key, socialBodyWith(a, tc.componenti))
			conformsToOpenAPI(t, "/function/"+toSocial, "post", r)
			p := assertProblem(t, r, http.StatusUnprocessableEntity, c, elsewhere, h.Fixtures.Sconosciuto[0])
			errs, _ := p["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["field"] != tc.field || errs[0].(map[string]any)["code"] != tc.code {
				t.Fatalf("errors %v, want %s %s", p["errors"], tc.field, tc.code)
			}
			if tc.code == "not_concerned" {
				// One answer whoever is named: nothing to learn about who is where.
				outside = append(outside, []any{p["detail"], p["errors"]})
			}
		})
	}
	for _, o := range outside[1:] {
		if fmt.Sprint(o) != fmt.Sprint(outside[0]) {
			t.Errorf("the refusals differ: %v and %v", o, outside[0])
		}
	}
	// The CPI's transfer refuses the same way.
	r := transferCall(t, toCPI, token(t, "gepi"), "", map[string]any{"codice_fiscale": a, "componenti": []string{a}})
	p := assertProblem(t, r, http.StatusUnprocessableEntity)
	if fmt.Sprint(p["errors"].([]any)[0].(map[string]any)["code"]) != "not_concerned" {
		t.Errorf("CPI: %v", p["errors"])
	}
	if after := householdTrail(t, a); after != before {
		t.Fatalf("the refusals left %q, before %q", after, before)
	}
	// Nothing kept the key either: a valid request with it is made.
	r = transferCall(t, toSocial, anpalTok, key, socialBodyWith(a, []string{a}))
	if r.status != http.StatusCreated {
		t.Fatalf("after the refusals: status %d: %s", r.status, r.body)
	}
}

// operatorCall posts a transfer as gepi-operatori's operator in role.
func operatorCall(t *testing.T, tok, role, key string, body any) reply {
	t.Helper()
	ev, err := h.Evidence("gepi-operatori", demo.Operator{UserID: "OPR0002", Location: "ATS-Roma", LoA: "LoA3", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Agid-JWT-TrackingEvidence": ev}
	if key != "" {
		hdr["Idempotency-Key"] = key
	}
	return do(t, call{url: h.URL(toCPI, ""), token: tok, contentType: "application/json", body: b, header: hdr})
}

// checkRegistryOnly checks an answer reduced to registry data: the same
// keys, the residence and the members' n. 1, null for everything else.
func checkRegistryOnly(t *testing.T, r reply, code string) {
	t.Helper()
	conformsToOpenAPI(t, "/function/"+toCPI, "post", r)
	checkMinimal(t, r.body, code, "da_convocare_cpi") // the same keys and members
	m := r.json(t)
	n := m["nucleo"].(map[string]any)
	for k, v := range n {
		if k != "residenza" && v != nil {
			t.Errorf("nucleo.%s = %v in a registry-only answer", k, v)
		}
	}
	var comune, postcode string
	if err := h.DB.QueryRow(context.Background(), `SELECT n.comune_residenza, n.cap FROM nucleo n JOIN componente p ON p.nucleo_id = n.id WHERE p.cf_canonico = $1`,
		canonical(t, code)).Scan(&comune, &postcode); err != nil {
		t.Fatal(err)
	}
	if res := n["residenza"].(map[string]any); res["comune_istat"] != comune || res["cap"] != postcode {
		t.Errorf("residenza %v, want %s %s", res, comune, postcode)
	}
	for _, b := range m["beneficiari"].([]any) {
		for _, k := range []string{"codice_fiscale", "cognome", "nome", "sesso", "data_nascita", "comune_nascita", "cittadinanza"} {
			if b.(map[string]any)[k] == nil {
				t.Errorf("beneficiario.%s is null: it is registry data", k)
			}
		}
	}
}

// TestTransferOperatorRoles: behind gepi-operatori, a coordinator gets
// registry data only (on replays too, whoever made the transfer), an
// Ambito's administrator nothing at all, a case manager everything; ANPAL
// is always told everything.
func TestTransferOperatorRoles(t *testing.T) {
	tok := token(t, "gepi-operatori")
	codes := households(t, "CPI", 3)

	// Without the evidence the client must send: refused.
	assertProblem(t, transferCall(t, toCPI, tok, "", toCPIBody(codes[0])), http.StatusUnauthorized, codes[0])

	key := "k-" + randomHex(8)
	first := operatorCall(t, tok, "COORDINATORE_PATTO", key, toCPIBody(codes[0]))
	if first.status != http.StatusCreated {
		t.Fatalf("coordinator: status %d: %s", first.status, first.body)
	}
	checkRegistryOnly(t, first, codes[0])
	var a transferAnswer
	decodeInto(t, first, &a)
	// The stored answer is the full one: a case manager replaying it gets it all.
	full := operatorCall(t, tok, "CASE_MANAGER", key, toCPIBody(codes[0]))
	if full.status != http.StatusOK {
		t.Fatalf("case manager's replay: status %d: %s", full.status, full.body)
	}
	checkMinimal(t, full.body, codes[0], "da_convocare_cpi")
	var isee string
	if err := h.DB.QueryRow(context.Background(), `SELECT n.isee::text FROM nucleo n JOIN componente p ON p.nucleo_id = n.id WHERE p.cf_canonico = $1`,
		canonical(t, codes[0])).Scan(&isee); err != nil {
		t.Fatal(err)
	}
	var replayed struct {
		Nucleo struct {
			Isee json.Number `json:"isee"`
		} `json:"nucleo"`
	}
	decodeInto(t, full, &replayed)
	if string(replayed.Nucleo.Isee) != isee {
		t.Errorf("replayed isee %s, want %s", replayed.Nucleo.Isee, isee)
	}
	// ... and the coordinator replaying it the same reduced bytes.
	again := operatorCall(t, tok, "COORDINATORE_PATTO", key, toCPIBody(codes[0]))
	if again.status != http.StatusOK || !bytes.Equal(again.body, first.body) {
		t.Errorf("coordinator's replay: status %d, same bytes %v", again.status, bytes.Equal(again.body, first.body))
	}
	eventually(t, 5*time.Second, "ANPAL's notification", func() bool { _, ok := anpal.effect(a.ID); return ok })
	body, _ := anpal.effect(a.ID)
	var n struct {
		Nucleo map[string]any `json:"nucleo"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	if n.Nucleo["isee"] == nil || n.Nucleo["protocollo_domanda"] == nil {
		t.Errorf("ANPAL's notification was reduced: %v", n.Nucleo)
	}

	// An Ambito's administrator sees no beneficiary data: refused, nothing done.
	before := householdTrail(t, codes[1])
	assertProblem(t, operatorCall(t, tok, "AMMINISTRATORE_AMBITO", "", toCPIBody(codes[1])), http.StatusForbidden, codes[1])
	if after := householdTrail(t, codes[1]); after != before {
		t.Errorf("the refused transfer left %q, before %q", after, before)
	}

	// A case manager gets the full answer.
	r := operatorCall(t, tok, "CASE_MANAGER", "", toCPIBody(codes[2]))
	if r.status != http.StatusCreated {
		t.Fatalf("case manager: status %d: %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/"+toCPI, "post", r)
	checkMinimal(t, r.body, codes[2], "da_convocare_cpi")
	for k, v := range r.json(t)["nucleo"].(map[string]any) {
		if v == nil && k != "data_decorrenza" {
			t.Errorf("nucleo.%s is null in a case manager's answer", k)
		}
	}
}
