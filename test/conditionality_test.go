package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

const conditionalityFn = "conditionality-events"

// conditionalityPeople are persons of the data set no other test reports
// events about, handed out one per use: an event is unique per person,
// kind, day and reporter.
var conditionalityNext atomic.Int64

func conditionalityPerson(t *testing.T) string {
	t.Helper()
	var pool []string
	for _, l := range [][]string{h.Fixtures.SenzaDid, h.Fixtures.DidRevocata, h.Fixtures.DidAnnullata, h.Fixtures.DidNonAmmessa,
		h.Fixtures.DidSospesa, h.Fixtures.PattoNonAttivo} {
		pool = append(pool, l...)
	}
	i := int(conditionalityNext.Add(1)) - 1
	if i >= len(pool) {
		t.Fatalf("only %d persons for the conditionality tests", len(pool))
	}
	return pool[i]
}

func reportEvent(t *testing.T, tok, key string, body any) reply {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	c := call{url: h.URL(conditionalityFn, ""), token: tok, contentType: "application/json", body: b}
	if key != "" {
		c.header = map[string]string{"Idempotency-Key": key}
	}
	return do(t, c)
}

func eventBody(code, tipo, day string) map[string]any {
	return map[string]any{"codice_fiscale": code, "tipo": tipo, "data_evento": day}
}

// eventsOf counts the events recorded about a person, and their
// notifications.
func eventsOf(t *testing.T, code string) (events, notices int64) {
	t.Helper()
	events = countRows(t, `SELECT count(*) FROM evento_condizionalita e JOIN componente m ON m.id = e.componente_id WHERE m.cf_canonico = upper($1)`, code)
	notices = countRows(t, `SELECT count(*) FROM consegna c JOIN evento_condizionalita e ON e.id = c.id
		JOIN componente m ON m.id = e.componente_id WHERE m.cf_canonico = upper($1) AND c.tipo = 'CONDIZIONALITA'`, code)
	return events, notices
}

// awaitDelivered waits for INPS's delivery of event id to be recorded, then
// checks it arrived once, as INPS's partner applies it.
func awaitDelivered(t *testing.T, id string) map[string]any {
	t.Helper()
	eventually(t, 10*time.Second, "the delivery of event "+id+" to INPS", func() bool {
		return countRows(t, `SELECT count(*) FROM consegna WHERE id = $1 AND destinatario = 'INPS' AND tipo = 'CONDIZIONALITA' AND stato = 'CONSEGNATA'`, id) == 1
	})
	if n := countRows(t, `SELECT count(*) FROM consegna WHERE id = $1 AND destinatario = 'INPS'`, id); n != 1 {
		t.Fatalf("%d notifications of event %s to INPS, want 1", n, id)
	}
	got, ok := inps.effect(id)
	if !ok {
		t.Fatalf("INPS has not applied event %s", id)
	}
	var n map[string]any
	if err := json.Unmarshal(got, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConditionalityReport: each side reports each kind it may, INPS hears
// of each event once, a replay answers the same bytes, and each write
// leaves its audit record.
func TestConditionalityReport(t *testing.T) {
	ctx := context.Background()
	sides := []struct {
		client, org, lato string
		kinds             []string
	}{
		{"anpal", "ANPAL", "CPI", []string{"MANCATA_PRESENTAZIONE_CONVOCAZIONE", "MANCATA_SOTTOSCRIZIONE_PATTO", "RIFIUTO_OFFERTA_CONGRUA",
			"ASSUNZIONE_OFFERTA_CONGRUA", "MANCATA_COMUNICAZIONE_VARIAZIONE"}},
		{"gepi", "GEPI", "COMUNE", []string{"MANCATA_PRESENTAZIONE_CONVOCAZIONE", "MANCATA_SOTTOSCRIZIONE_PATTO", "MANCATA_PARTECIPAZIONE_PUC",
			"MANCATA_COMUNICAZIONE_VARIAZIONE"}},
	}
	for _, s := range sides {
		tok := token(t, s.client)
		for _, kind := range s.kinds {
			code := conditionalityPerson(t)
			body := eventBody(code, kind, daysAgo(2))
			body["riferimento"], body["note"] = "CONV-"+randomHex(3), "Convocazione del giorno,\nnessuna giustificazione"
			key := uuid.NewString()
			r := reportEvent(t, tok, key, body)
			if r.status != http.StatusCreated {
				t.Fatalf("%s %s: %d %s", s.client, kind, r.status, r.body)
			}
			conformsToOpenAPI(t, "/function/conditionality-events", "post", r)
			a := r.json(t)
			id, _ := a["id_evento"].(string)
			if a["tipo"] != kind || a["data_evento"] != daysAgo(2) || a["destinatario"] != "INPS" || uuid.Validate(id) != nil {
				t.Fatalf("answer %s", r.body)
			}
			if strings.Contains(string(r.body), code) {
				t.Errorf("the answer repeats the codice fiscale: %s", r.body)
			}
			var lato, segnalante, client string
			if err := h.DB.QueryRow(ctx, `SELECT lato, segnalante, client_id FROM evento_condizionalita WHERE id = $1`, id).Scan(&lato, &segnalante, &client); err != nil {
				t.Fatal(err)
			}
			if lato != s.lato || segnalante != s.org || client != s.client {
				t.Errorf("stored %s %s %s", lato, segnalante, client)
			}
			n := awaitDelivered(t, id)
			var issued string
			if err := h.DB.QueryRow(ctx, `SELECT codice_fiscale FROM componente WHERE cf_canonico = $1`, code).Scan(&issued); err != nil {
				t.Fatal(err)
			}
			if n["id_evento"] != id || n["tipo"] != kind || n["codice_fiscale"] != issued || n["lato"] != s.lato || n["segnalante"] != s.org ||
				n["riferimento"] != body["riferimento"] || n["note"] != body["note"] || n["data_evento"] != daysAgo(2) {
				t.Errorf("INPS received %v", n)
			}

			// The same key and body: the first answer, nothing written twice.
			again := reportEvent(t, tok, key, body)
			if again.status != http.StatusOK || !bytes.Equal(again.body, r.body) {
				t.Fatalf("replay: %d %s, want 200 %s", again.status, again.body, r.body)
			}
			conformsToOpenAPI(t, "/function/conditionality-events", "post", again)
			if e, c := eventsOf(t, code); e != 1 || c != 1 {
				t.Fatalf("after a replay: %d events, %d notifications", e, c)
			}
			for outcome, want := range map[string]int64{"recorded:" + id: 1, "replayed:" + id: 1} {
				if got := countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1 AND action = 'conditionality-event'
					AND outcome = $2 AND subject_ref IS NOT NULL AND nucleo_id IS NOT NULL AND client_id = $3`, conditionalityFn, outcome, s.client); got != want {
					t.Errorf("%d audit records %s, want %d", got, outcome, want)
				}
			}
		}
	}

	// The same key with another body is what shared/idempotency says: 422.
	tok := token(t, "gepi")
	code := conditionalityPerson(t)
	key := uuid.NewString()
	if r := reportEvent(t, tok, key, eventBody(code, "MANCATA_SOTTOSCRIZIONE_PATTO", today())); r.status != http.StatusCreated {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r := reportEvent(t, tok, key, eventBody(code, "MANCATA_SOTTOSCRIZIONE_PATTO", daysAgo(1)))
	assertProblem(t, r, http.StatusUnprocessableEntity, code)
	conformsToOpenAPI(t, "/function/conditionality-events", "post", r)
	// The same fact under another key: already recorded.
	r = reportEvent(t, tok, uuid.NewString(), eventBody(code, "MANCATA_SOTTOSCRIZIONE_PATTO", today()))
	assertProblem(t, r, http.StatusConflict, code)
	conformsToOpenAPI(t, "/function/conditionality-events", "post", r)
	if e, c := eventsOf(t, code); e != 1 || c != 1 {
		t.Fatalf("%d events, %d notifications, want 1 and 1", e, c)
	}
	// Another spelling of the code names the same person: the same fact again.
	r = reportEvent(t, tok, uuid.NewString(), eventBody(strings.ToLower(code), "MANCATA_SOTTOSCRIZIONE_PATTO", today()))
	assertProblem(t, r, http.StatusConflict, code)
}

// TestConditionalityRefused: every bad report is refused with the answer
// the contract names, leaves no event, notification or key behind, and
// repeats nothing the caller sent.
func TestConditionalityRefused(t *testing.T) {
	gepi, anpal := token(t, "gepi"), token(t, "anpal")
	code := conditionalityPerson(t)
	ok := func() map[string]any { return eventBody(code, "MANCATA_PRESENTAZIONE_CONVOCAZIONE", today()) }
	with := func(k string, v any) []byte {
		b := ok()
		b[k] = v
		out, _ := json.Marshal(b)
		return out
	}
	raw := func(v any) []byte { b, _ := json.Marshal(v); return b }
	tomorrow := time.Now().In(rome).AddDate(0, 0, 1).Format(time.DateOnly)
	unknown := h.Fixtures.Sconosciuto[0]
	cases := []struct {
		name        string
		tok         string
		contentType string
		body        []byte
		noKey       bool
		status      int
		field       string // the field named in errors, when one is
		code        string // its code
	}{
		{name: "malformed JSON", tok: gepi, body: []byte(`{"codice_fiscale":`), status: 400},
		{name: "not an object", tok: gepi, body: []byte(`[1]`), status: 400},
		{name: "two values", tok: gepi, body: append(raw(ok()), raw(ok())...), status: 400},
		{name: "NUL in a string", tok: gepi, body: with("note", "prima\x00dopo"), status: 400, field: "note", code: "control_character"},
		{name: "NUL in the code", tok: gepi, body: with("codice_fiscale", code+"\x00"), status: 400, field: "codice_fiscale", code: "control_character"},
		{name: "unknown member", tok: gepi, body: with("motivo", "x"), status: 400},
		{name: "a member named like a code", tok: gepi, body: with(code, "x"), status: 400},
		{name: "unknown kind", tok: gepi, body: with("tipo", "SANZIONE"), status: 400, field: "tipo", code: "invalid"},
		{name: "kind as a number", tok: gepi, body: with("tipo", 3), status: 400, field: "tipo", code: "type"},
		{name: "kind not for the Comune", tok: gepi, body: with("tipo", "ASSUNZIONE_OFFERTA_CONGRUA"), status: 422, field: "tipo", code: "not_allowed"},
		{name: "kind not for the CPI", tok: anpal, body: with("tipo", "MANCATA_PARTECIPAZIONE_PUC"), status: 422, field: "tipo", code: "not_allowed"},
		{name: "future date", tok: gepi, body: with("data_evento", tomorrow), status: 422, field: "data_evento", code: "future"},
		{name: "not a date", tok: gepi, body: with("data_evento", "ieri"), status: 400, field: "data_evento", code: "invalid"},
		{name: "before the RdC", tok: gepi, body: with("data_evento", "2018-06-01"), status: 400, field: "data_evento", code: "invalid"},
		{name: "bad reference", tok: gepi, body: with("riferimento", "con spazi"), status: 400, field: "riferimento", code: "invalid"},
		{name: "invalid codice fiscale", tok: gepi, body: with("codice_fiscale", code[:15]+"0"), status: 400, field: "codice_fiscale", code: "invalid"},
		{name: "missing Idempotency-Key", tok: gepi, body: raw(ok()), noKey: true, status: 400, field: "Idempotency-Key", code: "required"},
		{name: "not JSON", tok: gepi, contentType: "text/plain", body: raw(ok()), status: 415},
		{name: "no token", body: raw(ok()), status: 401},
		{name: "wrong scope", tok: token(t, "mlps"), body: raw(ok()), status: 403},
		{name: "INPS reports", tok: token(t, "inps"), body: raw(ok()), status: 403},
		{name: "an agency reports here", tok: token(t, "apl-1001-super"), body: raw(ok()), status: 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "refused-" + randomHex(8)
			cl := call{url: h.URL(conditionalityFn, ""), token: c.tok, contentType: "application/json", body: c.body}
			if c.contentType != "" {
				cl.contentType = c.contentType
			}
			if !c.noKey {
				cl.header = map[string]string{"Idempotency-Key": key}
			}
			r := do(t, cl)
			m := assertProblem(t, r, c.status, code, code[:11])
			conformsToOpenAPI(t, "/function/conditionality-events", "post", r)
			if c.field != "" {
				found := false
				for _, e := range m["errors"].([]any) {
					fe := e.(map[string]any)
					found = found || fe["field"] == c.field && fe["code"] == c.code
				}
				if !found {
					t.Errorf("errors %v, want %s %s", m["errors"], c.field, c.code)
				}
			}
			if n := countRows(t, `SELECT count(*) FROM idempotenza WHERE chiave = $1`, key); n != 0 {
				t.Errorf("a refused report kept its key")
			}
		})
	}
	if e, n := eventsOf(t, code); e != 0 || n != 0 {
		t.Fatalf("refused reports wrote %d events and %d notifications", e, n)
	}

	// Nobody in the data set: 404, and the attempt is traced.
	before := countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1 AND action = 'conditionality-event' AND outcome = 'not_found' AND subject_ref IS NOT NULL`, conditionalityFn)
	key := "unknown-" + randomHex(8)
	r := reportEvent(t, gepi, key, eventBody(unknown, "MANCATA_PRESENTAZIONE_CONVOCAZIONE", today()))
	assertProblem(t, r, http.StatusNotFound, unknown)
	conformsToOpenAPI(t, "/function/conditionality-events", "post", r)
	if after := countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1 AND action = 'conditionality-event' AND outcome = 'not_found' AND subject_ref IS NOT NULL`, conditionalityFn); after != before+1 {
		t.Errorf("%d audit records of the unknown person, want 1", after-before)
	}
	if n := countRows(t, `SELECT count(*) FROM idempotenza WHERE chiave = $1`, key); n != 0 {
		t.Errorf("a 404 kept its key")
	}
}

// listEvents pages through INPS's list with query q, limit at a time, and
// returns every item by id and the number of pages.
func listEvents(t *testing.T, tok string, q url.Values, limit int) (map[string]map[string]any, int) {
	t.Helper()
	q.Set("limit", strconv.Itoa(limit))
	all := map[string]map[string]any{}
	pages := 0
	for {
		r := do(t, call{method: http.MethodGet, url: h.URL(conditionalityFn, "/?"+q.Encode()), token: tok})
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		conformsToOpenAPI(t, "/function/conditionality-events", "get", r)
		pages++
		var p struct {
			Items      []map[string]any `json:"items"`
			NextCursor *string          `json:"next_cursor"`
		}
		decodeInto(t, r, &p)
		if len(p.Items) > limit {
			t.Fatalf("%d items in a page of %d", len(p.Items), limit)
		}
		for _, it := range p.Items {
			id := it["id_evento"].(string)
			if all[id] != nil {
				t.Fatalf("event %s on two pages", id)
			}
			all[id] = it
		}
		if p.NextCursor == nil {
			return all, pages
		}
		q.Set("cursor", *p.NextCursor)
		if pages > 1000 {
			t.Fatal("the list does not end")
		}
	}
}

// TestConditionalityList: INPS pages through the events, acknowledges one
// twice with the same answer, and every page and acknowledgement leaves
// its audit record; nobody else lists or acknowledges.
func TestConditionalityList(t *testing.T) {
	anpal, inpsTok := token(t, "anpal"), token(t, "inps")
	var ids []string
	codes := map[string]string{}
	for range 5 {
		code := conditionalityPerson(t)
		r := reportEvent(t, anpal, uuid.NewString(), eventBody(code, "MANCATA_PRESENTAZIONE_CONVOCAZIONE", daysAgo(3)))
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		id := r.json(t)["id_evento"].(string)
		ids = append(ids, id)
		codes[id] = code
	}
	audited := func(action string) int64 {
		return countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1 AND action = $2 AND client_id = 'inps'`, conditionalityFn, action)
	}
	listed := audited("conditionality-list")
	all, pages := listEvents(t, inpsTok, url.Values{"stato": {"TUTTI"}, "dal": {today()}, "al": {today()}}, 2)
	for _, id := range ids {
		it := all[id]
		if it == nil {
			t.Fatalf("event %s not listed", id)
		}
		var issued string
		if err := h.DB.QueryRow(context.Background(), `SELECT codice_fiscale FROM componente WHERE cf_canonico = $1`, codes[id]).Scan(&issued); err != nil {
			t.Fatal(err)
		}
		if it["codice_fiscale"] != issued || it["tipo"] != "MANCATA_PRESENTAZIONE_CONVOCAZIONE" || it["data_evento"] != daysAgo(3) {
			t.Errorf("item %v", it)
		}
		if it["lato"] != "CPI" || it["segnalante"] != "ANPAL" || it["riscontrato_il"] != nil {
			t.Errorf("item %v", it)
		}
	}
	if pages < 3 {
		t.Errorf("%d events in %d pages of 2", len(all), pages)
	}
	if got := audited("conditionality-list"); got != listed+int64(pages) {
		t.Errorf("%d audit records for %d pages", got-listed, pages)
	}
	if rows := countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1 AND action = 'conditionality-list' AND outcome LIKE 'rows:%' AND subject_ref IS NULL`, conditionalityFn); rows < int64(pages) {
		t.Errorf("list records without their count")
	}

	// Acknowledge one, twice: the same time both times.
	target := ids[0]
	ack := func(tok, id string) reply {
		return do(t, call{url: h.URL(conditionalityFn, "/"+id+"/riscontro"), token: tok})
	}
	acks := audited("conditionality-ack")
	first := ack(inpsTok, target)
	if first.status != http.StatusOK {
		t.Fatalf("ack: %d %s", first.status, first.body)
	}
	conformsToOpenAPI(t, "/function/conditionality-events/{id_evento}/riscontro", "post", first)
	second := ack(inpsTok, strings.ToUpper(target))
	if second.status != http.StatusOK || second.json(t)["riscontrato_il"] != first.json(t)["riscontrato_il"] || second.json(t)["id_evento"] != target {
		t.Fatalf("second ack: %d %s, first %s", second.status, second.body, first.body)
	}
	if got := audited("conditionality-ack"); got != acks+2 {
		t.Errorf("%d audit records for two acks", got-acks)
	}
	if n := countRows(t, `SELECT count(*) FROM audit_log WHERE function = $1 AND action = 'conditionality-ack' AND outcome = $2 AND subject_ref IS NOT NULL`,
		conditionalityFn, "already_acknowledged:"+target); n != 1 {
		t.Errorf("%d records of the repeated ack", n)
	}
	// It leaves the default list and shows among the acknowledged.
	pending, _ := listEvents(t, inpsTok, url.Values{"dal": {today()}}, 1000)
	done, _ := listEvents(t, inpsTok, url.Values{"stato": {"RISCONTRATO"}, "dal": {today()}}, 1000)
	if pending[target] != nil || done[target] == nil || done[target]["riscontrato_il"] != first.json(t)["riscontrato_il"] {
		t.Fatalf("after the ack: pending %v, acknowledged %v", pending[target], done[target])
	}
	for _, id := range ids[1:] {
		if pending[id] == nil || done[id] != nil {
			t.Errorf("event %s not pending", id)
		}
	}

	// Unknown and malformed ids: 404, traced.
	for _, id := range []string{uuid.NewString(), "42", "not-an-id"} {
		r := ack(inpsTok, id)
		assertProblem(t, r, http.StatusNotFound)
		conformsToOpenAPI(t, "/function/conditionality-events/{id_evento}/riscontro", "post", r)
	}
	if got := audited("conditionality-ack"); got != acks+5 {
		t.Errorf("%d audit records for five acks", got-acks)
	}
	// Nobody but INPS lists or acknowledges.
	for _, client := range []string{"gepi", "anpal", "mlps", "apl-1001-super"} {
		tok := token(t, client)
		r := do(t, call{method: http.MethodGet, url: h.URL(conditionalityFn, ""), token: tok})
		assertProblem(t, r, http.StatusForbidden)
		conformsToOpenAPI(t, "/function/conditionality-events", "get", r)
		r = ack(tok, ids[1])
		assertProblem(t, r, http.StatusForbidden)
		conformsToOpenAPI(t, "/function/conditionality-events/{id_evento}/riscontro", "post", r)
	}
	if n := countRows(t, `SELECT count(*) FROM evento_condizionalita WHERE id = $1 AND riscontrato_il IS NOT NULL`, ids[1]); n != 0 {
		t.Fatal("a refused ack acknowledged the event")
	}
	// Bad parameters name themselves; one the list does not take is not named.
	for query, field := range map[string]string{
		"limit=0": "limit", "limit=1001": "limit", "limit=x": "limit", "stato=APERTI": "stato", "cursor=abc": "cursor",
		"dal=2026-02-30": "dal", "dal=2026-03-02&al=2026-03-01": "al", "stato=%00": "stato", codes[ids[0]] + "=1": "",
	} {
		r := do(t, call{method: http.MethodGet, url: h.URL(conditionalityFn, "/?"+query), token: inpsTok})
		m := assertProblem(t, r, http.StatusBadRequest, codes[ids[0]])
		conformsToOpenAPI(t, "/function/conditionality-events", "get", r)
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: errors %v", query, m["errors"])
		}
	}
}

// TestConditionalityAplRefusal: an agency's refusal of an offer is one of
// INPS's conditionality events, under the refusal's id, which INPS lists
// and acknowledges like any other.
func TestConditionalityAplRefusal(t *testing.T) {
	ctx := context.Background()
	tok := token(t, "apl-1001-super")
	run := randomHex(4)
	offer := *postOffers(t, token(t, "apl-1001-master"), newOffer(t, "COND-"+run, "1001-RM01"))[0].IDOfferta
	code := conditionalityPerson(t)
	var member int64
	if err := h.DB.QueryRow(ctx, `SELECT id FROM componente WHERE cf_canonico = $1`, code).Scan(&member); err != nil {
		t.Fatal(err)
	}
	candidateOf(t, member, offer)
	r := do(t, withKey(h.URL(offersFn, "/"+offer+"/rifiuti"), tok, "cond-"+run,
		[]byte(`{"codice_fiscale":"`+code+`","data":"`+daysAgo(1)+`","motivo":"Sede troppo lontana"}`)))
	if r.status != http.StatusCreated {
		t.Fatalf("refusal: %d %s", r.status, r.body)
	}
	refusal := r.json(t)["id_rifiuto"].(string)
	n := awaitDelivered(t, refusal)
	if n["tipo"] != "RIFIUTO_OFFERTA_CONGRUA" || n["lato"] != "APL" || n["segnalante"] != "APL:1001" || n["riferimento"] != offer ||
		n["note"] != "Sede troppo lontana" || n["data_evento"] != daysAgo(1) {
		t.Errorf("INPS received %v", n)
	}
	all, _ := listEvents(t, token(t, "inps"), url.Values{"dal": {today()}}, 100)
	it := all[refusal]
	if it == nil {
		t.Fatal("the refusal is not in INPS's list")
	}
	if it["tipo"] != "RIFIUTO_OFFERTA_CONGRUA" || it["riferimento"] != offer || it["segnalante"] != "APL:1001" || it["codice_fiscale"] == nil {
		t.Errorf("item %v", it)
	}
	if a := do(t, call{url: h.URL(conditionalityFn, "/"+refusal+"/riscontro"), token: token(t, "inps")}); a.status != http.StatusOK {
		t.Fatalf("ack: %d %s", a.status, a.body)
	}
	// ANPAL still gets the refusal itself.
	eventually(t, 10*time.Second, "ANPAL to receive the refusal", func() bool { _, ok := anpal.effect(refusal); return ok })
}
