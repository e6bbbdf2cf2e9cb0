package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const offersFn = "apl-offers"

// anyComune is a comune of the data set, for offers.
func anyComune(t *testing.T) string {
	t.Helper()
	var c string
	if err := h.DB.QueryRow(context.Background(), `SELECT codice_istat FROM comune ORDER BY codice_istat LIMIT 1`).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// newOffer is a valid published offer of branch with reference rif.
func newOffer(t *testing.T, rif, branch string) map[string]any {
	t.Helper()
	return map[string]any{
		"riferimento_apl": rif, "filiale": branch, "titolo": "Magazziniere", "descrizione": "Carico e scarico merci, turni diurni",
		"comune": anyComune(t), "qualifica": "magazziniere", "tipo_contratto": "tempo determinato", "numero_posti": 2,
		"titolo_studio_minimo": "LICENZA_MEDIA", "stato": "PUBBLICATA",
		"data_pubblicazione": daysAgo(1), "data_fine_pubblicazione": time.Now().In(rome).AddDate(0, 1, 0).Format(time.DateOnly),
	}
}

type offerResult struct {
	RiferimentoAPL string  `json:"riferimento_apl"`
	IDOfferta      *string `json:"id_offerta"`
	Esito          string  `json:"esito"`
	Errors         []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

// postOffers sends a bulk call and returns its results.
func postOffers(t *testing.T, tok string, items ...map[string]any) []offerResult {
	t.Helper()
	r := postJSON(t, h.URL(offersFn, ""), tok, map[string]any{"items": items})
	if r.status != http.StatusOK {
		t.Fatalf("bulk offers: status %d: %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-offers", "post", r)
	var out struct{ Items []offerResult }
	decodeInto(t, r, &out)
	if len(out.Items) != len(items) {
		t.Fatalf("%d results for %d offers", len(out.Items), len(items))
	}
	return out.Items
}

func fieldsOf(r offerResult) string {
	var f []string
	for _, e := range r.Errors {
		f = append(f, e.Field)
	}
	return strings.Join(f, ",")
}

func TestOffersBulk(t *testing.T) {
	tok := token(t, "apl-1001-master")
	run := randomHex(4)
	bad := newOffer(t, "bad-"+run, "1001-RM01")
	delete(bad, "titolo")
	bad["comune"] = "999999"
	res := postOffers(t, tok,
		newOffer(t, "A-"+run, "1001-RM01"),
		newOffer(t, "B-"+run, "1001-MI01"),
		bad,
		newOffer(t, "A-"+run, "1001-RM01"), // the same offer twice in one call
		map[string]any{"riferimento_apl": "C-" + run, "numero_posti": "due"},
	)
	want := []string{"CREATA", "CREATA", "ERRATA", "ESISTENTE", "ERRATA"}
	for i, r := range res {
		if r.Esito != want[i] {
			t.Fatalf("offer %d: %s, want %s (%+v)", i, r.Esito, want[i], r)
		}
	}
	if *res[3].IDOfferta != *res[0].IDOfferta {
		t.Error("an offer sent twice got two ids")
	}
	if res[2].IDOfferta != nil || fieldsOf(res[2]) != "titolo,comune" {
		t.Errorf("the bad offer: id %v, fields %s", res[2].IDOfferta, fieldsOf(res[2]))
	}
	if fieldsOf(res[4]) != "numero_posti" {
		t.Errorf("the malformed offer names %s", fieldsOf(res[4]))
	}

	// Sent again in another call: the same offer, never a duplicate.
	again := postOffers(t, tok, newOffer(t, "A-"+run, "1001-RM01"))
	if again[0].Esito != "ESISTENTE" || *again[0].IDOfferta != *res[0].IDOfferta {
		t.Fatalf("sent again: %+v", again[0])
	}
	var n int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM offerta WHERE apl_id = '1001' AND riferimento_apl LIKE '%-' || $1`, run).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d offers stored, want 2", n)
	}

	// Read back, by id and by reference.
	r := do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/"+*res[0].IDOfferta), token: tok})
	if r.status != http.StatusOK {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-offers/{id_offerta}", "get", r)
	var got map[string]any
	decodeInto(t, r, &got)
	if got["riferimento_apl"] != "A-"+run || got["stato"] != "PUBBLICATA" || got["numero_posti"] != float64(2) {
		t.Errorf("read back %s", r.body)
	}
	r = do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/rif/A-"+run), token: tok})
	if r.status != http.StatusOK || r.json(t)["id_offerta"] != *res[0].IDOfferta {
		t.Fatalf("by reference: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-offers/rif/{riferimento_apl}", "get", r)

	var audited int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = 'apl-offers' AND action = 'offers-create' AND client_id = 'apl-1001-master'`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited < 2 {
		t.Errorf("%d audit records of bulk calls", audited)
	}
}

func TestOffersIdempotency(t *testing.T) {
	tok := token(t, "apl-1001-super")
	run := randomHex(4)
	body, _ := json.Marshal(map[string]any{"items": []any{newOffer(t, "I-"+run, "1001-NA01")}})
	key := map[string]string{"Idempotency-Key": "off-" + run}
	first := do(t, call{url: h.URL(offersFn, ""), token: tok, contentType: "application/json", body: body, header: key})
	again := do(t, call{url: h.URL(offersFn, ""), token: tok, contentType: "application/json", body: body, header: key})
	if first.status != http.StatusOK || again.status != http.StatusOK || !bytes.Equal(first.body, again.body) {
		t.Fatalf("first %d %s, again %d %s", first.status, first.body, again.status, again.body)
	}
	other, _ := json.Marshal(map[string]any{"items": []any{newOffer(t, "J-"+run, "1001-NA01")}})
	assertProblem(t, do(t, call{url: h.URL(offersFn, ""), token: tok, contentType: "application/json", body: other, header: key}), http.StatusUnprocessableEntity)
}

func TestOffersErrors(t *testing.T) {
	tok := token(t, "apl-1001-master")
	url := h.URL(offersFn, "")
	many := make([]any, 1001)
	for i := range many {
		many[i] = map[string]any{}
	}
	cases := []struct {
		name   string
		r      reply
		status int
		field  string
	}{
		{"no items", postJSON(t, url, tok, map[string]any{"items": []any{}}), http.StatusBadRequest, "items"},
		{"1001 items", postJSON(t, url, tok, map[string]any{"items": many}), http.StatusBadRequest, "items"},
		{"unknown member", postJSON(t, url, tok, map[string]any{"items": []any{}, "apl": "1002"}), http.StatusBadRequest, ""}, // not named
		{"not JSON", do(t, call{url: url, token: tok, contentType: "application/json", body: []byte("{")}), http.StatusBadRequest, ""},
		{"form", do(t, call{url: url, token: tok, contentType: "application/x-www-form-urlencoded", body: []byte("a=1")}), http.StatusUnsupportedMediaType, ""},
		{"over 10 MiB", do(t, call{url: url, token: tok, contentType: "application/json", body: bytes.Repeat([]byte(" "), 10<<20+1)}), http.StatusRequestEntityTooLarge, ""},
		{"no token", do(t, call{url: url, contentType: "application/json", body: []byte(`{"items":[]}`)}), http.StatusUnauthorized, ""},
		{"GePI", postJSON(t, url, token(t, "gepi"), map[string]any{"items": []any{}}), http.StatusForbidden, ""},
		{"unknown offer", do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/00000000-0000-7000-8000-000000000000"), token: tok}), http.StatusNotFound, ""},
		{"not an id", do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/zzz"), token: tok}), http.StatusNotFound, ""},
		{"DELETE", do(t, call{method: http.MethodDelete, url: h.URL(offersFn, "/00000000-0000-7000-8000-000000000000"), token: tok}), http.StatusMethodNotAllowed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := assertProblem(t, c.r, c.status)
			if c.field != "" {
				if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
					t.Errorf("errors %v, want field %s", m["errors"], c.field)
				}
			}
		})
	}
}

// TestOffersTenancy: an operator sees and acts for its branches only; an
// agency never sees another's offers, and a hidden offer is a 404 like a
// missing one.
func TestOffersTenancy(t *testing.T) {
	master := token(t, "apl-1001-master")
	run := randomHex(4)
	res := postOffers(t, master, newOffer(t, "RM-"+run, "1001-RM01"), newOffer(t, "MI-"+run, "1001-MI01"))
	rm, mi := *res[0].IDOfferta, *res[1].IDOfferta

	operator := token(t, "apl-1001-operatore") // acts for 1001-RM01 only
	if r := do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/"+rm), token: operator}); r.status != http.StatusOK {
		t.Fatalf("the operator's own branch: %d", r.status)
	}
	patchBody := []byte(`{"stato":"SOSPESA"}`)
	for _, c := range []struct {
		who, tok, id, rif string
	}{
		{"operator, another branch", operator, mi, "MI-" + run},
		{"another agency's master", token(t, "apl-1002-master"), rm, "RM-" + run},
		{"another agency's operator", token(t, "apl-1002-operatore"), mi, "MI-" + run},
	} {
		t.Run(c.who, func(t *testing.T) {
			assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/"+c.id), token: c.tok}), http.StatusNotFound)
			assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, "/rif/"+c.rif), token: c.tok}), http.StatusNotFound)
			assertProblem(t, do(t, call{method: http.MethodPatch, url: h.URL(offersFn, "/"+c.id), token: c.tok,
				contentType: "application/merge-patch+json", body: patchBody}), http.StatusNotFound)
		})
	}
	var stato string
	if err := h.DB.QueryRow(context.Background(), `SELECT stato FROM offerta WHERE id = $1`, mi).Scan(&stato); err != nil {
		t.Fatal(err)
	}
	if stato != "PUBBLICATA" {
		t.Fatalf("a refused PATCH changed the offer: %s", stato)
	}

	// The operator cannot create for another branch, nor learn the id of
	// another branch's offer by sending its reference.
	out := postOffers(t, operator, newOffer(t, "OP-"+run, "1001-MI01"), newOffer(t, "MI-"+run, "1001-RM01"))
	if out[0].Esito != "ERRATA" || fieldsOf(out[0]) != "filiale" {
		t.Errorf("operator, another branch: %+v", out[0])
	}
	if out[1].Esito != "ERRATA" || out[1].IDOfferta != nil || fieldsOf(out[1]) != "riferimento_apl" {
		t.Errorf("operator, another branch's reference: %+v", out[1])
	}
	// Another agency has its own references: the same one is a new offer.
	other := postOffers(t, token(t, "apl-1002-super"), newOffer(t, "RM-"+run, "1002-TO01"))
	if other[0].Esito != "CREATA" || *other[0].IDOfferta == rm {
		t.Errorf("another agency, the same reference: %+v", other[0])
	}
}

func TestOfferPatch(t *testing.T) {
	tok := token(t, "apl-1001-master")
	run := randomHex(4)
	expired := newOffer(t, "EXP-"+run, "1001-RM01")
	expired["data_pubblicazione"], expired["data_fine_pubblicazione"] = daysAgo(30), daysAgo(1)
	id := *postOffers(t, tok, expired)[0].IDOfferta
	url := h.URL(offersFn, "/"+id)
	patch := func(body string) reply {
		return do(t, call{method: http.MethodPatch, url: url, token: tok, contentType: "application/merge-patch+json", body: []byte(body)})
	}
	stateOf := func(r reply) string {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		return r.json(t)["stato"].(string)
	}
	if s := stateOf(do(t, call{method: http.MethodGet, url: url, token: tok})); s != "SCADUTA" {
		t.Fatalf("past its end the offer reads %s", s)
	}
	assertProblem(t, do(t, call{method: http.MethodPatch, url: url, token: tok, contentType: "application/json", body: []byte(`{"stato":"SOSPESA"}`)}), http.StatusUnsupportedMediaType)
	for body, field := range map[string]string{
		`{"stato":"SCADUTA"}`:                      "stato",
		`{"stato":"APERTA"}`:                       "stato",
		`{"stato":"PUBBLICATA"}`:                   "data_fine_pubblicazione", // still past its end
		`{"data_fine_pubblicazione":"2000-01-01"}`: "data_fine_pubblicazione",
		`{"titolo":"altro"}`:                       "", // not a member of a patch: not named
		`{"data_fine_pubblicazione":"domani"}`:     "",
	} {
		m := assertProblem(t, patch(body), http.StatusBadRequest)
		if field != "" {
			if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
				t.Errorf("%s: errors %v, want field %s", body, m["errors"], field)
			}
		}
	}
	// Republished by moving its end.
	later := time.Now().In(rome).AddDate(0, 0, 20).Format(time.DateOnly)
	r := patch(`{"data_fine_pubblicazione":"` + later + `"}`)
	if s := stateOf(r); s != "PUBBLICATA" || r.json(t)["data_fine_pubblicazione"] != later {
		t.Fatalf("republished: %s", r.body)
	}
	conformsToOpenAPI(t, "/function/apl-offers/{id_offerta}", "patch", r)
	// A null removes the end.
	if r := patch(`{"data_fine_pubblicazione":null}`); r.json(t)["data_fine_pubblicazione"] != nil {
		t.Fatalf("null end: %s", r.body)
	}
	if s := stateOf(patch(`{"stato":"CHIUSA"}`)); s != "CHIUSA" {
		t.Fatalf("closed: %s", s)
	}
	assertProblem(t, patch(`{"stato":"PUBBLICATA"}`), http.StatusConflict)
}

// TestOfferRefusal: a candidate's refusal is recorded once and reaches INPS
// (as a conditionality event) and ANPAL; only a candidate of the offer can be named, and another
// branch's or agency's offer is a 404.
func TestOfferRefusal(t *testing.T) {
	ctx := context.Background()
	tok := token(t, "apl-1001-master")
	run := randomHex(4)
	id := *postOffers(t, tok, newOffer(t, "RIF-"+run, "1001-RM01"))[0].IDOfferta
	var candidate, other string
	err := h.DB.QueryRow(ctx, `
		WITH c AS (INSERT INTO manifestazione_interesse (offerta_id, componente_id)
		           SELECT $1, id FROM componente ORDER BY id DESC LIMIT 1 RETURNING componente_id)
		SELECT m.codice_fiscale, (SELECT o.codice_fiscale FROM componente o WHERE o.id <> m.id
		                          AND NOT EXISTS (SELECT 1 FROM scelta_apl s WHERE s.componente_id = o.id AND s.apl_id = '1001')
		                          ORDER BY o.id DESC LIMIT 1) -- neither a candidate nor a PAD chooser of the agency
		FROM c JOIN componente m ON m.id = c.componente_id`, id).Scan(&candidate, &other)
	if err != nil {
		t.Fatal(err)
	}
	url := h.URL(offersFn, "/"+id+"/rifiuti")
	body := map[string]any{"codice_fiscale": candidate, "data": today(), "motivo": "Orario incompatibile con la cura dei figli"}
	b, _ := json.Marshal(body)
	key := map[string]string{"Idempotency-Key": "rif-" + run}
	first := do(t, call{url: url, token: tok, contentType: "application/json", body: b, header: key})
	if first.status != http.StatusCreated {
		t.Fatalf("refusal: %d %s", first.status, first.body)
	}
	conformsToOpenAPI(t, "/function/apl-offers/{id_offerta}/rifiuti", "post", first)
	again := do(t, call{url: url, token: tok, contentType: "application/json", body: b, header: key})
	if again.status != http.StatusOK || !bytes.Equal(again.body, first.body) {
		t.Fatalf("replay: %d %s", again.status, again.body)
	}
	assertProblem(t, postJSON(t, url, tok, body), http.StatusConflict)
	refusal := first.json(t)["id_rifiuto"].(string)

	// Both benefit systems receive it, keyed by the refusal's id: ANPAL the
	// refusal itself, INPS a conditionality event naming the offer.
	for name, p := range map[string]*fakePartner{"INPS": inps, "ANPAL": anpal} {
		eventually(t, 10*time.Second, name+" to receive the refusal", func() bool { _, ok := p.effect(refusal); return ok })
		got, _ := p.effect(refusal)
		var n map[string]any
		if err := json.Unmarshal(got, &n); err != nil {
			t.Fatal(err)
		}
		switch name {
		case "ANPAL":
			if n["id_offerta"] != id || n["apl"] != "1001" || n["motivo"] != body["motivo"] || n["codice_fiscale"] == nil || n["riferimento_apl"] != "RIF-"+run {
				t.Errorf("%s received %s", name, got)
			}
		case "INPS":
			if n["id_evento"] != refusal || n["tipo"] != "RIFIUTO_OFFERTA_CONGRUA" || n["riferimento"] != id || n["segnalante"] != "APL:1001" ||
				n["note"] != body["motivo"] || n["codice_fiscale"] == nil || n["data_evento"] != today() {
				t.Errorf("%s received %s", name, got)
			}
		}
	}
	// The worker records each delivery after the partner has answered: wait
	// on the record, not on the partner.
	var delivered int
	eventually(t, 10*time.Second, "both deliveries recorded", func() bool {
		if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM consegna WHERE id = $1 AND stato = 'CONSEGNATA'
			AND (destinatario, tipo) IN (('ANPAL', 'RIFIUTO_OFFERTA'), ('INPS', 'CONDIZIONALITA'))`, refusal).Scan(&delivered); err != nil {
			t.Fatal(err)
		}
		return delivered >= 2
	})
	if delivered != 2 {
		t.Errorf("%d deliveries recorded, want 2", delivered)
	}
	if n := countRows(t, `SELECT count(*) FROM consegna WHERE id = $1`, refusal); n != 2 {
		t.Errorf("%d notifications of the refusal, want 2", n)
	}

	// Neither a candidate of the offer nor a PAD chooser of the agency: the
	// same answer whoever it is.
	m := assertProblem(t, postJSON(t, url, tok, map[string]any{"codice_fiscale": other, "data": today(), "motivo": "x"}), http.StatusUnprocessableEntity)
	if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != "codice_fiscale" {
		t.Errorf("errors %v", m["errors"])
	}
	for q, field := range map[string]map[string]any{
		"codice_fiscale": {"codice_fiscale": "RSSMRA85T10A562X", "data": today(), "motivo": "x"},
		"data":           {"codice_fiscale": candidate, "data": "2999-01-01", "motivo": "x"},
		"motivo":         {"codice_fiscale": candidate, "data": today(), "motivo": "  "},
	} {
		m := assertProblem(t, postJSON(t, url, tok, field), http.StatusBadRequest)
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != q {
			t.Errorf("%s: errors %v", q, m["errors"])
		}
	}
	for _, client := range []string{"apl-1001-operatore", "apl-1002-master"} {
		// The operator acts for 1001-RM01: give it an offer of another branch.
		target := id
		if client == "apl-1001-operatore" {
			target = *postOffers(t, tok, newOffer(t, "RIF2-"+run, "1001-MI01"))[0].IDOfferta
		}
		assertProblem(t, postJSON(t, h.URL(offersFn, "/"+target+"/rifiuti"), token(t, client), body), http.StatusNotFound)
	}
	var audited int
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'offer-refusal' AND outcome = 'recorded:' || $1 AND subject_ref IS NOT NULL`, refusal).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Errorf("%d audit records of the refusal", audited)
	}
}
