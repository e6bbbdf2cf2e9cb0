package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/shared/civil"
)

const equipeFn = "equipe-coordination"

// The documented paths, for the OpenAPI checks.
const (
	equipeRoot   = "/function/equipe-coordination"
	equipeCase   = "/function/equipe-coordination/{id}"
	equipeEvents = "/function/equipe-coordination/{id}/eventi"
)

type equipeMember struct {
	CodiceFiscale string `json:"codice_fiscale"`
	Cognome       string `json:"cognome"`
	Nome          string `json:"nome"`
}

type equipeEvent struct {
	IDEvento    string  `json:"id_evento"`
	Tipo        string  `json:"tipo"`
	Lato        string  `json:"lato"`
	Data        string  `json:"data"`
	Descrizione *string `json:"descrizione"`
	Esito       *string `json:"esito"`
}

type equipeCaseAnswer struct {
	IDCaso              string         `json:"id_caso"`
	Stato               string         `json:"stato"`
	PattoSottoscrittoIl *string        `json:"patto_sottoscritto_il"`
	ChiusoIl            *string        `json:"chiuso_il"`
	Motivo              *string        `json:"motivo"`
	Componenti          []equipeMember `json:"componenti"`
	Operatori           []struct {
		Codice string `json:"codice"`
		Lato   string `json:"lato"`
	} `json:"operatori"`
	Eventi []equipeEvent `json:"eventi"`
	Vista  string        `json:"vista"`
}

type equipeEventAnswer struct {
	IDCaso string `json:"id_caso"`
	equipeEvent
	StatoCaso           string  `json:"stato_caso"`
	PattoSottoscrittoIl *string `json:"patto_sottoscritto_il"`
}

type equipePage struct {
	Items      []equipeCaseAnswer `json:"items"`
	NextCursor *string            `json:"next_cursor"`
}

// equipeHousehold is a household the tests may open a case for: its
// members in order, and which of them the Comuni are to call in.
type equipeHousehold struct {
	id      int64
	members []string
	comune  []bool
}

// called are the members to be called in by the Comuni.
func (hh equipeHousehold) called() []string {
	var out []string
	for i, m := range hh.members {
		if hh.comune[i] {
			out = append(out, m)
		}
	}
	return out
}

var (
	equipeOnce  sync.Once
	equipeHHs   []equipeHousehold
	equipeTaken atomic.Int64
)

// nextHousehold hands each caller a household no other test uses: with
// two members or more, one of them at least to be called in by the Comuni.
func nextHousehold(t *testing.T) equipeHousehold {
	t.Helper()
	equipeOnce.Do(func() {
		rows, err := h.DB.Query(context.Background(), `
			SELECT n.id, array_agg(m.codice_fiscale ORDER BY m.id), array_agg(m.da_convocare_comune ORDER BY m.id)
			FROM nucleo n JOIN componente m ON m.nucleo_id = n.id
			GROUP BY n.id HAVING bool_or(m.da_convocare_comune) AND count(*) >= 2
			ORDER BY n.id LIMIT 200`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var hh equipeHousehold
			if err := rows.Scan(&hh.id, &hh.members, &hh.comune); err != nil {
				t.Fatal(err)
			}
			equipeHHs = append(equipeHHs, hh)
		}
	})
	i := int(equipeTaken.Add(1)) - 1
	if i >= len(equipeHHs) {
		t.Fatalf("only %d households for the Equipe tests", len(equipeHHs))
	}
	return equipeHHs[i]
}

// equipeCall sends body (a value, or raw bytes) with tok, an optional
// Idempotency-Key and headers; it returns the answer and the request id.
func equipeCall(t *testing.T, method, path, tok, key string, body any, hdr map[string]string) (reply, string) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	rid := "eq-" + uuid.NewString()
	headers := map[string]string{"X-Request-Id": rid}
	if key != "" {
		headers["Idempotency-Key"] = key
	}
	for k, v := range hdr {
		headers[k] = v
	}
	c := call{method: method, url: h.URL(equipeFn, path), token: tok, body: b, header: headers}
	if b != nil {
		c.contentType = "application/json"
	}
	return do(t, c), rid
}

func openBody(code string, members []string, ops ...map[string]any) map[string]any {
	m := map[string]any{"codice_fiscale": code, "operatori": ops, "motivo": "bisogni complessi: lavoro e fragilità del nucleo"}
	if members != nil {
		m["componenti"] = members
	}
	return m
}

func op(code, side string) map[string]any { return map[string]any{"codice": code, "lato": side} }

// team is an Equipe of one operator per side, with codes unique to the test.
func team() (cpi, social string, ops []map[string]any) {
	s := randomHex(4)
	cpi, social = "CPI-"+s, "SS-"+s
	return cpi, social, []map[string]any{op(cpi, "CPI"), {"codice": social, "lato": "SERVIZI_SOCIALI", "ruolo": "assistente sociale"}}
}

// yesterday is a safe event day, whatever the hour in Rome.
func yesterday() string {
	return civil.Today(time.Now().Add(-24 * time.Hour)).String()
}

func newKey() string { return "eq-" + uuid.NewString() }

// openCase opens a case for hh as GePI and checks the answer.
func openCase(t *testing.T, hh equipeHousehold, ops []map[string]any) equipeCaseAnswer {
	t.Helper()
	r, _ := equipeCall(t, http.MethodPost, "", token(t, "gepi"), newKey(), openBody(hh.members[0], nil, ops...), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, equipeRoot, "post", r)
	var c equipeCaseAnswer
	decodeInto(t, r, &c)
	return c
}

func addEvent(t *testing.T, tok, id string, body map[string]any) (reply, equipeEventAnswer) {
	t.Helper()
	r, _ := equipeCall(t, http.MethodPost, "/"+id+"/eventi", tok, newKey(), body, nil)
	var e equipeEventAnswer
	if r.status == http.StatusCreated {
		conformsToOpenAPI(t, equipeEvents, "post", r)
		decodeInto(t, r, &e)
	}
	return r, e
}

// written counts what the exchange stored for a household: cases, their
// members, operators, events, and Equipe notifications.
func written(t *testing.T, household int64) [5]int64 {
	t.Helper()
	var n [5]int64
	err := h.DB.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM equipe_caso WHERE nucleo_id = $1),
		       (SELECT count(*) FROM equipe_componente ec JOIN equipe_caso c ON c.id = ec.caso_id WHERE c.nucleo_id = $1),
		       (SELECT count(*) FROM equipe_operatore o JOIN equipe_caso c ON c.id = o.caso_id WHERE c.nucleo_id = $1),
		       (SELECT count(*) FROM equipe_evento e JOIN equipe_caso c ON c.id = e.caso_id WHERE c.nucleo_id = $1),
		       (SELECT count(*) FROM consegna WHERE tipo = 'EQUIPE' AND nucleo_id = $1)`, household).
		Scan(&n[0], &n[1], &n[2], &n[3], &n[4])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// notified waits for p to have applied the notification id, and returns it.
func notified(t *testing.T, p *fakePartner, who, id string) map[string]any {
	t.Helper()
	eventually(t, 10*time.Second, who+"'s notification "+id, func() bool { _, ok := p.effect(id); return ok })
	body, _ := p.effect(id)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if err := loadOpenAPI(t).conform(loadOpenAPI(t).at("#/components/schemas/EquipeNotification"), m, "notification"); err != nil {
		t.Errorf("notification does not match api/openapi.yaml: %v", err)
	}
	return m
}

// TestEquipeFlow: a case from its opening to its closure, each side
// reading it and adding its part, each change told to the other side.
func TestEquipeFlow(t *testing.T) {
	t.Parallel()
	gepiTok, anpalTok := token(t, "gepi"), token(t, "anpal")
	hh := nextHousehold(t)
	cpiOp, _, ops := team()
	c := openCase(t, hh, ops)
	if c.Stato != "APERTO" || c.Vista != "COMPLETA" || c.Motivo == nil || len(c.Eventi) != 0 || len(c.Operatori) != 2 {
		t.Fatalf("opened: %+v", c)
	}
	var got []string
	for _, m := range c.Componenti {
		got = append(got, m.CodiceFiscale)
	}
	if want := hh.called(); !slices.Equal(got, want) {
		t.Errorf("members %v, want the %d to be called in by the Comuni", len(got), len(want))
	}

	// ANPAL hears of the opening, with the case; GePI, who opened it, does not.
	n := notified(t, anpal, "ANPAL", c.IDCaso)
	if n["modifica"] != "APERTURA" || n["da"] != "GEPI" || n["id_caso"] != c.IDCaso || n["caso"] == nil {
		t.Errorf("opening notification: %v", n)
	}
	if _, ok := gepi.effect(c.IDCaso); ok {
		t.Error("GePI was told of its own opening")
	}

	// Both sides read it.
	for _, tok := range []string{gepiTok, anpalTok} {
		r, _ := equipeCall(t, http.MethodGet, "/"+c.IDCaso, tok, "", nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("read: %d %s", r.status, r.body)
		}
		conformsToOpenAPI(t, equipeCase, "get", r)
		var read equipeCaseAnswer
		decodeInto(t, r, &read)
		if read.IDCaso != c.IDCaso || len(read.Componenti) != len(c.Componenti) || read.Stato != "APERTO" {
			t.Errorf("read %+v", read)
		}
	}
	// An id spelled in capitals is the same case.
	if r, _ := equipeCall(t, http.MethodGet, "/"+strings.ToUpper(c.IDCaso), anpalTok, "", nil, nil); r.status != http.StatusOK {
		t.Errorf("id in capitals: %d", r.status)
	}

	day := yesterday()
	steps := []struct {
		tok, kind, by string
		extra         map[string]any
	}{
		{anpalTok, "AZIONE_CPI", "ANPAL", map[string]any{"descrizione": "orientamento e bilancio di competenze"}},
		{gepiTok, "INCONTRO", "GEPI", map[string]any{"descrizione": "incontro dell'Equipe con il nucleo"}},
		{anpalTok, "ESITO", "ANPAL", map[string]any{"esito": "disponibile a un tirocinio"}},
		{gepiTok, "SOTTOSCRIZIONE_PATTO", "GEPI", nil},
		{gepiTok, "MONITORAGGIO", "GEPI", map[string]any{"descrizione": "verifica a tre mesi"}},
		{anpalTok, "INCONTRO", "ANPAL", nil},
		{gepiTok, "CHIUSURA", "GEPI", map[string]any{"esito": "obiettivi raggiunti"}},
	}
	var ids []string
	for _, s := range steps {
		body := map[string]any{"tipo": s.kind, "data": day}
		for k, v := range s.extra {
			body[k] = v
		}
		r, e := addEvent(t, s.tok, c.IDCaso, body)
		if r.status != http.StatusCreated {
			t.Fatalf("%s by %s: %d %s", s.kind, s.by, r.status, r.body)
		}
		if e.Tipo != s.kind || e.IDCaso != c.IDCaso || e.Data != day {
			t.Errorf("event %+v", e)
		}
		switch s.kind {
		case "SOTTOSCRIZIONE_PATTO":
			if e.PattoSottoscrittoIl == nil || *e.PattoSottoscrittoIl != day {
				t.Errorf("signature not recorded: %+v", e)
			}
		case "CHIUSURA":
			if e.StatoCaso != "CHIUSO" {
				t.Errorf("closure left the case %s", e.StatoCaso)
			}
		default:
			if e.StatoCaso != "APERTO" {
				t.Errorf("%s left the case %s", s.kind, e.StatoCaso)
			}
		}
		ids = append(ids, e.IDEvento)
	}
	// Each change reached the other side, and only it.
	for i, s := range steps {
		other, self, name := anpal, gepi, "ANPAL"
		if s.by == "ANPAL" {
			other, self, name = gepi, anpal, "GePI"
		}
		n := notified(t, other, name, ids[i])
		if n["modifica"] != s.kind || n["da"] != s.by || n["evento"] == nil {
			t.Errorf("notification of %s: %v", s.kind, n)
		}
		if _, ok := self.effect(ids[i]); ok {
			t.Errorf("%s was told of its own %s", s.by, s.kind)
		}
	}

	r, _ := equipeCall(t, http.MethodGet, "/"+c.IDCaso, anpalTok, "", nil, nil)
	conformsToOpenAPI(t, equipeCase, "get", r)
	var closed equipeCaseAnswer
	decodeInto(t, r, &closed)
	var kinds []string
	for _, e := range closed.Eventi {
		kinds = append(kinds, e.Tipo)
	}
	want := []string{"AZIONE_CPI", "INCONTRO", "ESITO", "SOTTOSCRIZIONE_PATTO", "MONITORAGGIO", "INCONTRO", "CHIUSURA"}
	if !slices.Equal(kinds, want) || closed.Stato != "CHIUSO" || closed.ChiusoIl == nil || closed.PattoSottoscrittoIl == nil {
		t.Errorf("closed case: %s, events %v", closed.Stato, kinds)
	}
	if closed.Eventi[0].Lato != "CPI" || closed.Eventi[1].Lato != "SERVIZI_SOCIALI" || closed.Eventi[0].Descrizione == nil {
		t.Errorf("events' sides or content: %+v", closed.Eventi[:2])
	}

	// Nothing after the closure.
	before := written(t, hh.id)
	r, _ = addEvent(t, anpalTok, c.IDCaso, map[string]any{"tipo": "INCONTRO", "data": day})
	assertProblem(t, r, http.StatusConflict)
	conformsToOpenAPI(t, equipeEvents, "post", r)
	if after := written(t, hh.id); after != before {
		t.Errorf("a refused event wrote: %v → %v", before, after)
	}

	// Listed among the closed cases of its operator, not among the open ones.
	page := listCases(t, anpalTok, url.Values{"stato": {"CHIUSO"}, "operatore": {cpiOp}})
	if len(page.Items) != 1 || page.Items[0].IDCaso != c.IDCaso || page.NextCursor != nil {
		t.Errorf("closed cases of %s: %+v", cpiOp, page)
	}
	if page := listCases(t, gepiTok, url.Values{"operatore": {cpiOp}}); len(page.Items) != 0 {
		t.Errorf("open cases of %s: %d", cpiOp, len(page.Items))
	}

	// Every change left its audit record.
	var audited int
	if err := h.DB.QueryRow(context.Background(), `
		SELECT count(*) FROM audit_log WHERE function = $1 AND nucleo_id = $2 AND outcome LIKE 'created:%'`, equipeFn, hh.id).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 1+len(steps) {
		t.Errorf("%d audit records of changes, want %d", audited, 1+len(steps))
	}

	// Closed, the household may have a new case.
	again := openCase(t, hh, ops)
	if again.IDCaso == c.IDCaso || again.Stato != "APERTO" {
		t.Errorf("second case %+v", again)
	}
}

func listCases(t *testing.T, tok string, q url.Values) equipePage {
	t.Helper()
	r, _ := equipeCall(t, http.MethodGet, "?"+q.Encode(), tok, "", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("list %v: %d %s", q, r.status, r.body)
	}
	conformsToOpenAPI(t, equipeRoot, "get", r)
	var p equipePage
	decodeInto(t, r, &p)
	return p
}

// TestEquipeList: the open cases, oldest first, page by page, for either
// side, with an operator's filter; bad parameters are named.
func TestEquipeList(t *testing.T) {
	t.Parallel()
	gepiTok, anpalTok := token(t, "gepi"), token(t, "anpal")
	cpiOp, _, ops := team()
	var opened []string
	for range 5 {
		opened = append(opened, openCase(t, nextHousehold(t), ops).IDCaso)
	}
	var seen []string
	q := url.Values{"operatore": {cpiOp}, "limit": {"2"}}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
		p := listCases(t, anpalTok, q)
		for _, c := range p.Items {
			seen = append(seen, c.IDCaso)
			if c.Stato != "APERTO" || c.Motivo == nil || len(c.Componenti) == 0 {
				t.Errorf("listed %+v", c)
			}
		}
		if p.NextCursor == nil {
			if pages != 2 {
				t.Errorf("%d pages of 2 for 5 cases", pages+1)
			}
			break
		}
		q.Set("cursor", *p.NextCursor)
	}
	if !slices.Equal(seen, opened) {
		t.Errorf("listed %v, want %v in order", seen, opened)
	}

	// Unfiltered, GePI's listing holds them too.
	found := 0
	q = url.Values{"limit": {"200"}}
	for range 100 {
		p := listCases(t, gepiTok, q)
		for _, c := range p.Items {
			if slices.Contains(opened, c.IDCaso) {
				found++
			}
		}
		if p.NextCursor == nil {
			break
		}
		q.Set("cursor", *p.NextCursor)
	}
	if found != len(opened) {
		t.Errorf("the unfiltered listing holds %d of the %d cases", found, len(opened))
	}

	for _, bad := range []string{"limit=0", "limit=201", "limit=x", "stato=SOSPESO", "cursor=nope", "operatore=a%20b",
		"operatore=RSSMRA85T10A562S", "altro=1", "stato=APERTO&stato=CHIUSO", "operatore=%00"} {
		r, _ := equipeCall(t, http.MethodGet, "?"+bad, anpalTok, "", nil, nil)
		assertProblem(t, r, http.StatusBadRequest, "RSSMRA85T10A562S")
		conformsToOpenAPI(t, equipeRoot, "get", r)
	}
	r, _ := equipeCall(t, http.MethodGet, "", token(t, "inps"), "", nil, nil)
	assertProblem(t, r, http.StatusForbidden)
	conformsToOpenAPI(t, equipeRoot, "get", r)
}

// TestEquipeRefusals: every bad request is refused with its status, names
// no codice fiscale, and writes nothing; a replay answers the same.
func TestEquipeRefusals(t *testing.T) {
	// Not parallel: its subtests and the counts after them share one household.
	gepiTok, anpalTok := token(t, "gepi"), token(t, "anpal")
	hh := nextHousehold(t)
	other := nextHousehold(t)
	_, _, ops := team()
	code := hh.members[0]

	open := func(t *testing.T, tok, key string, body any) reply {
		t.Helper()
		r, _ := equipeCall(t, http.MethodPost, "", tok, key, body, nil)
		return r
	}
	nul := openBody(code, nil, ops...)
	nul["motivo"] = "bisogni\u0000complessi"
	for _, tt := range []struct {
		name   string
		tok    string
		key    string
		body   any
		status int
	}{
		{"unknown household", gepiTok, newKey(), openBody(h.Fixtures.Sconosciuto[0], nil, ops...), http.StatusNotFound},
		{"member of another household", gepiTok, newKey(), openBody(code, []string{hh.members[1], other.members[0]}, ops...), http.StatusUnprocessableEntity},
		{"ANPAL opens", anpalTok, newKey(), openBody(code, nil, ops...), http.StatusForbidden},
		{"no Idempotency-Key", gepiTok, "", openBody(code, nil, ops...), http.StatusBadRequest},
		{"malformed JSON", gepiTok, newKey(), []byte(`{"codice_fiscale": "` + code + `",`), http.StatusBadRequest},
		{"NUL in a string", gepiTok, newKey(), nul, http.StatusBadRequest},
		{"one side only", gepiTok, newKey(), openBody(code, nil, op("A1", "CPI"), op("A2", "CPI")), http.StatusBadRequest},
		{"unknown member of the body", gepiTok, newKey(), map[string]any{"codice_fiscale": code, "operatori": ops, "motivo": "x", code: 1}, http.StatusBadRequest},
		{"wrong scope", token(t, "inps"), newKey(), openBody(code, nil, ops...), http.StatusForbidden},
		{"no token", "", newKey(), openBody(code, nil, ops...), http.StatusUnauthorized},
	} {
		t.Run("open: "+tt.name, func(t *testing.T) {
			r := open(t, tt.tok, tt.key, tt.body)
			assertProblem(t, r, tt.status, code, other.members[0])
			conformsToOpenAPI(t, equipeRoot, "post", r)
		})
	}
	if n := written(t, hh.id); n != [5]int64{} {
		t.Fatalf("refused openings wrote %v", n)
	}

	// The same key and body: the same answer, byte for byte; another body: 422.
	key := newKey()
	body := openBody(code, []string{hh.members[1]}, ops...)
	first := open(t, gepiTok, key, body)
	if first.status != http.StatusCreated {
		t.Fatalf("open: %d %s", first.status, first.body)
	}
	replay := open(t, gepiTok, key, body)
	if replay.status != http.StatusOK || !bytes.Equal(replay.body, first.body) {
		t.Fatalf("replay: %d, same body %v", replay.status, bytes.Equal(replay.body, first.body))
	}
	conformsToOpenAPI(t, equipeRoot, "post", replay)
	var c equipeCaseAnswer
	decodeInto(t, first, &c)
	if len(c.Componenti) != 1 || c.Componenti[0].CodiceFiscale != hh.members[1] {
		t.Errorf("members named: %+v", c.Componenti)
	}
	body["motivo"] = "un altro motivo"
	r := open(t, gepiTok, key, body)
	assertProblem(t, r, http.StatusUnprocessableEntity, code)
	conformsToOpenAPI(t, equipeRoot, "post", r)
	// One open case per household.
	r = open(t, gepiTok, newKey(), openBody(hh.members[1], nil, ops...))
	assertProblem(t, r, http.StatusConflict, code, hh.members[1])
	conformsToOpenAPI(t, equipeRoot, "post", r)
	opened := written(t, hh.id)
	if opened != [5]int64{1, 1, 2, 0, 1} {
		t.Fatalf("after one opening: %v", opened)
	}

	day := yesterday()
	ev := func(t *testing.T, tok, path, key string, body any) reply {
		t.Helper()
		r, _ := equipeCall(t, http.MethodPost, path, tok, key, body, nil)
		return r
	}
	path := "/" + c.IDCaso + "/eventi"
	for _, tt := range []struct {
		name   string
		tok    string
		path   string
		key    string
		body   any
		status int
	}{
		{"GePI adds a CPI action", gepiTok, path, newKey(), map[string]any{"tipo": "AZIONE_CPI", "data": day}, http.StatusForbidden},
		{"ANPAL signs", anpalTok, path, newKey(), map[string]any{"tipo": "SOTTOSCRIZIONE_PATTO", "data": day}, http.StatusForbidden},
		{"ANPAL closes", anpalTok, path, newKey(), map[string]any{"tipo": "CHIUSURA", "data": day}, http.StatusForbidden},
		{"monitoring before the signature", gepiTok, path, newKey(), map[string]any{"tipo": "MONITORAGGIO", "data": day}, http.StatusConflict},
		{"unknown kind", gepiTok, path, newKey(), map[string]any{"tipo": "ALTRO", "data": day}, http.StatusBadRequest},
		{"outcome without esito", anpalTok, path, newKey(), map[string]any{"tipo": "ESITO", "data": day}, http.StatusBadRequest},
		{"a day in the future", anpalTok, path, newKey(), map[string]any{"tipo": "INCONTRO", "data": civil.Today(time.Now().Add(72 * time.Hour)).String()}, http.StatusBadRequest},
		{"NUL in a string", anpalTok, path, newKey(), map[string]any{"tipo": "INCONTRO", "data": day, "descrizione": "a\u0000b"}, http.StatusBadRequest},
		{"malformed JSON", anpalTok, path, newKey(), []byte(`{"tipo":`), http.StatusBadRequest},
		{"no Idempotency-Key", anpalTok, path, "", map[string]any{"tipo": "INCONTRO", "data": day}, http.StatusBadRequest},
		{"unknown case", anpalTok, "/" + uuid.NewString() + "/eventi", newKey(), map[string]any{"tipo": "INCONTRO", "data": day}, http.StatusNotFound},
		{"malformed case id", anpalTok, "/not-a-uuid/eventi", newKey(), map[string]any{"tipo": "INCONTRO", "data": day}, http.StatusNotFound},
		{"wrong scope", token(t, "inps"), path, newKey(), map[string]any{"tipo": "INCONTRO", "data": day}, http.StatusForbidden},
	} {
		t.Run("event: "+tt.name, func(t *testing.T) {
			r := ev(t, tt.tok, tt.path, tt.key, tt.body)
			assertProblem(t, r, tt.status, code)
			conformsToOpenAPI(t, equipeEvents, "post", r)
		})
	}
	if n := written(t, hh.id); n != opened {
		t.Fatalf("refused events wrote: %v → %v", opened, n)
	}

	// An event's replay, and its key reused with another body.
	key = newKey()
	eb := map[string]any{"tipo": "INCONTRO", "data": day, "descrizione": "primo incontro"}
	first = ev(t, anpalTok, path, key, eb)
	replay = ev(t, anpalTok, "/"+strings.ToUpper(c.IDCaso)+"/eventi", key, eb)
	if first.status != http.StatusCreated || replay.status != http.StatusOK || !bytes.Equal(first.body, replay.body) {
		t.Fatalf("event replay: %d then %d", first.status, replay.status)
	}
	conformsToOpenAPI(t, equipeEvents, "post", replay)
	eb["descrizione"] = "altro"
	r = ev(t, anpalTok, path, key, eb)
	assertProblem(t, r, http.StatusUnprocessableEntity)
	// The same key on another case is another request: that case does not exist.
	r = ev(t, anpalTok, "/"+uuid.NewString()+"/eventi", key, eb)
	assertProblem(t, r, http.StatusNotFound)
	if n := written(t, hh.id); n[3] != 1 || n[4] != 2 {
		t.Fatalf("after one event and its replays: %v", n)
	}
	var e equipeEventAnswer
	decodeInto(t, first, &e)
	notified(t, gepi, "GePI", e.IDEvento)

	// Reads: unknown or malformed ids, another organisation.
	for _, p := range []string{"/" + uuid.NewString(), "/123", "/" + strings.ReplaceAll(c.IDCaso, "-", "")} {
		r, _ := equipeCall(t, http.MethodGet, p, gepiTok, "", nil, nil)
		assertProblem(t, r, http.StatusNotFound)
		conformsToOpenAPI(t, equipeCase, "get", r)
	}
	r, _ = equipeCall(t, http.MethodGet, "/"+c.IDCaso, token(t, "inps"), "", nil, nil)
	assertProblem(t, r, http.StatusForbidden)
	conformsToOpenAPI(t, equipeCase, "get", r)
}

// TestEquipeRoles: a GePI operator sees what their role allows; the audit
// records name them.
func TestEquipeRoles(t *testing.T) {
	t.Parallel()
	gepiTok := token(t, "gepi")
	hh := nextHousehold(t)
	_, socialOp, ops := team()
	c := openCase(t, hh, ops)
	if r, _ := addEvent(t, gepiTok, c.IDCaso, map[string]any{"tipo": "INCONTRO", "data": yesterday(), "descrizione": "colloquio riservato"}); r.status != http.StatusCreated {
		t.Fatalf("event: %d %s", r.status, r.body)
	}
	tok := token(t, trackedClient)
	as := func(role, id string) map[string]string {
		return map[string]string{"Agid-JWT-TrackingEvidence": evidence(t, demo.Operator{UserID: id, Role: role})}
	}

	// The coordinator: who and who works on it, not why nor what was done.
	r, rid := equipeCall(t, http.MethodGet, "/"+c.IDCaso, tok, "", nil, as("COORDINATORE_PATTO", "OPR-COORD"))
	if r.status != http.StatusOK {
		t.Fatalf("coordinator: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, equipeCase, "get", r)
	var reduced equipeCaseAnswer
	decodeInto(t, r, &reduced)
	if reduced.Vista != "ANAGRAFICA" || reduced.Motivo != nil || len(reduced.Componenti) == 0 || reduced.Componenti[0].Cognome == "" ||
		len(reduced.Operatori) != 2 || len(reduced.Eventi) != 1 || reduced.Eventi[0].Descrizione != nil || reduced.Eventi[0].Tipo != "INCONTRO" {
		t.Errorf("coordinator's view: %s", r.body)
	}
	if bytes.Contains(r.body, []byte("riservato")) || bytes.Contains(r.body, []byte("bisogni")) {
		t.Error("the coordinator's view holds the events' content or the reason")
	}
	if a := auditOf(t, rid); a.n != 1 || a.user == nil || *a.user != "OPR-COORD" || *a.role != "COORDINATORE_PATTO" {
		t.Errorf("coordinator's audit record: %+v", a)
	}
	p := listCasesWith(t, tok, url.Values{"operatore": {socialOp}}, as("COORDINATORE_PATTO", "OPR-COORD"))
	if len(p.Items) != 1 || p.Items[0].Motivo != nil || p.Items[0].Vista != "ANAGRAFICA" {
		t.Errorf("coordinator's listing: %+v", p)
	}
	// Writes reveal everything: not the coordinator's.
	r, _ = equipeCall(t, http.MethodPost, "/"+c.IDCaso+"/eventi", tok, newKey(), map[string]any{"tipo": "INCONTRO", "data": yesterday()}, as("COORDINATORE_PATTO", "OPR-COORD"))
	assertProblem(t, r, http.StatusForbidden)

	// The Ambito's administrator: nothing.
	for _, path := range []string{"/" + c.IDCaso, "?operatore=" + socialOp} {
		r, rid := equipeCall(t, http.MethodGet, path, tok, "", nil, as("AMMINISTRATORE_AMBITO", "OPR-ADMIN"))
		assertProblem(t, r, http.StatusForbidden, hh.members[0])
		if a := auditOf(t, rid); a.n != 0 {
			t.Errorf("a refused read left %d audit records", a.n)
		}
	}

	// The case manager: everything, and their changes are theirs in the trail.
	r, rid = equipeCall(t, http.MethodGet, "/"+c.IDCaso, tok, "", nil, as("CASE_MANAGER", "OPR0001"))
	var full equipeCaseAnswer
	decodeInto(t, r, &full)
	if r.status != http.StatusOK || full.Vista != "COMPLETA" || full.Motivo == nil || full.Eventi[0].Descrizione == nil {
		t.Errorf("case manager's view: %d %s", r.status, r.body)
	}
	if a := auditOf(t, rid); a.n != 1 || a.user == nil || *a.user != "OPR0001" || *a.role != "CASE_MANAGER" {
		t.Errorf("case manager's audit record: %+v", a)
	}
	r, rid = equipeCall(t, http.MethodPost, "/"+c.IDCaso+"/eventi", tok, newKey(), map[string]any{"tipo": "SOTTOSCRIZIONE_PATTO", "data": yesterday()}, as("CASE_MANAGER", "OPR0001"))
	if r.status != http.StatusCreated {
		t.Fatalf("case manager's event: %d %s", r.status, r.body)
	}
	if a := auditOf(t, rid); a.n != 1 || a.user == nil || *a.user != "OPR0001" || *a.role != "CASE_MANAGER" {
		t.Errorf("the event's audit record: %+v", a)
	}
	// Without evidence, the tracked client is refused.
	r, _ = equipeCall(t, http.MethodGet, "/"+c.IDCaso, tok, "", nil, nil)
	assertProblem(t, r, http.StatusUnauthorized)
}

func listCasesWith(t *testing.T, tok string, q url.Values, hdr map[string]string) equipePage {
	t.Helper()
	r, _ := equipeCall(t, http.MethodGet, "?"+q.Encode(), tok, "", nil, hdr)
	if r.status != http.StatusOK {
		t.Fatalf("list %v: %d %s", q, r.status, r.body)
	}
	conformsToOpenAPI(t, equipeRoot, "get", r)
	var p equipePage
	decodeInto(t, r, &p)
	return p
}
