package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/rdc-interop/faas/shared/cf"
)

const xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

type listedOffer struct {
	IDOfferta         string  `json:"id_offerta"`
	RiferimentoAPL    string  `json:"riferimento_apl"`
	Filiale           string  `json:"filiale"`
	Titolo            string  `json:"titolo"`
	Stato             string  `json:"stato"`
	DataPubblicazione *string `json:"data_pubblicazione"`
}

type offersPage struct {
	Items      []listedOffer `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

// listOffers walks the whole list with the cursor and returns the offers in
// order; the first page is checked against the OpenAPI document.
func listOffers(t *testing.T, tok string, q url.Values) []listedOffer {
	t.Helper()
	var out []listedOffer
	for pages := 0; ; pages++ {
		r := do(t, call{method: http.MethodGet, url: h.URL(offersFn, "?"+q.Encode()), token: tok})
		if r.status != http.StatusOK {
			t.Fatalf("list %s: %d %s", q.Encode(), r.status, r.body)
		}
		if pages == 0 {
			conformsToOpenAPI(t, "/function/apl-offers", "get", r)
		}
		var p offersPage
		decodeInto(t, r, &p)
		if limit, _ := strconv.Atoi(q.Get("limit")); limit > 0 && len(p.Items) > limit {
			t.Fatalf("a page of %d offers, limit %d", len(p.Items), limit)
		}
		out = append(out, p.Items...)
		if p.NextCursor == nil {
			return out
		}
		q.Set("cursor", *p.NextCursor)
		if pages > 1000 {
			t.Fatal("the cursor never ends")
		}
	}
}

func idsOf(offers []listedOffer) []string {
	ids := make([]string, len(offers))
	for i, o := range offers {
		ids[i] = o.IDOfferta
	}
	return ids
}

// expectedOffers is what a client of agency 1001 acting for branches sees
// among the offers whose reference starts with prefix, read independently
// of the function, in id order.
func expectedOffers(t *testing.T, apl string, branches []string, prefix string) []string {
	t.Helper()
	rows, err := h.DB.Query(context.Background(), `
		SELECT id::text FROM offerta WHERE apl_id = $1 AND filiale = ANY ($2) AND left(riferimento_apl, length($3)) = $3 ORDER BY id`,
		apl, branches, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// seedOfferList creates, under references starting with the returned
// prefix, offers of agency 1001 in two branches in every state (a draft
// without dates, a published one, one not yet visible, an expired one, a
// suspended and a closed one), and one of agency 1002 with the same prefix.
func seedOfferList(t *testing.T) (prefix string, byRef map[string]string) {
	t.Helper()
	prefix = "LST-" + randomHex(4) + "-"
	inDays := func(n int) string { return time.Now().In(rome).AddDate(0, 0, n).Format(time.DateOnly) }
	var items []map[string]any
	add := func(name, branch, stato string, from, to any) {
		o := newOffer(t, prefix+name, branch)
		o["stato"], o["data_pubblicazione"], o["data_fine_pubblicazione"] = stato, from, to
		items = append(items, o)
	}
	add("draft", "1001-RM01", "BOZZA", nil, nil)
	add("live-rm", "1001-RM01", "PUBBLICATA", daysAgo(10), inDays(10))
	add("live-mi", "1001-MI01", "PUBBLICATA", daysAgo(3), nil)
	add("future", "1001-MI01", "PUBBLICATA", inDays(5), inDays(30))
	add("expired", "1001-RM01", "PUBBLICATA", daysAgo(30), daysAgo(1))
	add("ends-today", "1001-RM01", "PUBBLICATA", daysAgo(30), today())
	add("suspended", "1001-MI01", "SOSPESA", daysAgo(20), nil)
	add("closed", "1001-RM01", "CHIUSA", daysAgo(40), daysAgo(35))
	byRef = map[string]string{}
	for _, r := range postOffers(t, token(t, "apl-1001-master"), items...) {
		if r.Esito != "CREATA" {
			t.Fatalf("seed offer %s: %+v", r.RiferimentoAPL, r)
		}
		byRef[r.RiferimentoAPL[len(prefix):]] = *r.IDOfferta
	}
	other := postOffers(t, token(t, "apl-1002-master"), newOffer(t, prefix+"other", "1002-TO01"))
	byRef["other"] = *other[0].IDOfferta
	return prefix, byRef
}

// TestOffersList: the list pages to the end in order with no gaps or
// repeats, each filter selects what it says, SCADUTA is the state as of
// today, and an agency or branch never sees another's offers.
func TestOffersList(t *testing.T) {
	prefix, ids := seedOfferList(t)
	master := token(t, "apl-1001-master")
	all := []string{"1001-RM01", "1001-MI01", "1001-NA01"}
	q := func(kv ...string) url.Values {
		v := url.Values{"riferimento": {prefix + "*"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	names := func(offers []listedOffer) []string {
		var out []string
		for _, o := range offers {
			out = append(out, o.RiferimentoAPL[len(prefix):])
		}
		slices.Sort(out)
		return out
	}

	// Paging to the end, pages of 3 then of 1: the same offers, the
	// agency's only, in id order.
	want := expectedOffers(t, "1001", all, prefix)
	if len(want) != 8 {
		t.Fatalf("seeded %d offers, want 8", len(want))
	}
	for _, limit := range []string{"3", "1", "1000"} {
		if got := idsOf(listOffers(t, master, q("limit", limit))); !slices.Equal(got, want) {
			t.Fatalf("limit %s: %v, want %v", limit, got, want)
		}
	}
	if slices.Contains(want, ids["other"]) {
		t.Fatal("agency 1002's offer in agency 1001's list")
	}

	// States as of today: past its end a published offer is SCADUTA (the
	// last day included is still PUBBLICATA); one whose start is ahead is
	// PUBBLICATA, with its start telling when it shows.
	for stato, want := range map[string][]string{
		"BOZZA":      {"draft"},
		"PUBBLICATA": {"ends-today", "future", "live-mi", "live-rm"},
		"SCADUTA":    {"expired"},
		"SOSPESA":    {"suspended"},
		"CHIUSA":     {"closed"},
	} {
		got := listOffers(t, master, q("stato", stato))
		if !slices.Equal(names(got), want) {
			t.Errorf("stato=%s: %v, want %v", stato, names(got), want)
		}
		for _, o := range got {
			if o.Stato != stato {
				t.Errorf("stato=%s lists %s as %s", stato, o.RiferimentoAPL, o.Stato)
			}
		}
	}
	for _, c := range []struct {
		query url.Values
		want  []string
	}{
		{q("filiale", "1001-MI01"), []string{"future", "live-mi", "suspended"}},
		{q("pubblicazione_dal", daysAgo(10), "pubblicazione_al", daysAgo(3)), []string{"live-mi", "live-rm"}},
		{q("pubblicazione_dal", daysAgo(3)), []string{"future", "live-mi"}},
		{q("pubblicazione_al", daysAgo(30)), []string{"closed", "ends-today", "expired"}},
		{q("stato", "PUBBLICATA", "filiale", "1001-RM01"), []string{"ends-today", "live-rm"}},
		{url.Values{"riferimento": {prefix + "live-mi"}}, []string{"live-mi"}},
		{url.Values{"riferimento": {prefix + "live-*"}}, []string{"live-mi", "live-rm"}},
		{url.Values{"riferimento": {prefix + "live"}}, nil}, // exact: no such reference
	} {
		if got := names(listOffers(t, master, c.query)); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query.Encode(), got, c.want)
		}
	}

	// An operator sees its branch only, and asking for another branch is
	// the same 400 as asking for one that does not exist.
	operator := token(t, "apl-1001-operatore")
	if got, want := idsOf(listOffers(t, operator, q("limit", "2"))), expectedOffers(t, "1001", []string{"1001-RM01"}, prefix); !slices.Equal(got, want) || len(got) != 5 {
		t.Errorf("operator: %v, want %v", got, want)
	}
	other := do(t, call{method: http.MethodGet, url: h.URL(offersFn, "?filiale=1001-MI01"), token: operator})
	missing := do(t, call{method: http.MethodGet, url: h.URL(offersFn, "?filiale=1009-XX01"), token: operator})
	assertProblem(t, other, http.StatusBadRequest)
	assertProblem(t, missing, http.StatusBadRequest)
	if a, b := withoutRequest(t, other), withoutRequest(t, missing); a != b {
		t.Errorf("another branch %s, a branch that does not exist %s", a, b)
	}
	// Another agency: its own offer only, the same prefix notwithstanding;
	// a branch of agency 1001 is not one it acts for.
	if got := idsOf(listOffers(t, token(t, "apl-1002-super"), q())); !slices.Equal(got, []string{ids["other"]}) {
		t.Errorf("agency 1002: %v, want only %s", got, ids["other"])
	}
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, "?filiale=1001-RM01"), token: token(t, "apl-1002-master")}), http.StatusBadRequest)

	// Every listing is audited, with no personal data (its size only).
	var audited, personal int
	if err := h.DB.QueryRow(context.Background(), `
		SELECT count(*), count(*) FILTER (WHERE subject_ref IS NOT NULL OR outcome !~ '^rows:[0-9]+$')
		FROM audit_log WHERE function = 'apl-offers' AND action = 'offers-list' AND client_id = 'apl-1001-master'`).Scan(&audited, &personal); err != nil {
		t.Fatal(err)
	}
	if audited < 10 || personal != 0 {
		t.Errorf("%d audit records of the listings, %d with more than a count", audited, personal)
	}
}

// withoutRequest is a problem body without what differs between any two
// requests (the request id, the instance).
func withoutRequest(t *testing.T, r reply) string {
	t.Helper()
	m := r.json(t)
	delete(m, "request_id")
	delete(m, "instance")
	b, _ := json.Marshal(m)
	return string(b)
}

// TestOffersListWorkbook: the same list as one Excel workbook, read back:
// a header, then the offers of the JSON list in the same order.
func TestOffersListWorkbook(t *testing.T) {
	prefix, _ := seedOfferList(t)
	tok := token(t, "apl-1001-super")
	q := url.Values{"riferimento": {prefix + "*"}, "filiale": {"1001-RM01"}}
	listed := listOffers(t, tok, q)
	q.Del("cursor")
	r := do(t, call{method: http.MethodGet, url: h.URL(offersFn, "?"+q.Encode()), token: tok, header: map[string]string{"Accept": xlsx}})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != xlsx {
		t.Fatalf("workbook: %d %s", r.status, r.header.Get("Content-Type"))
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	sheetName := f.GetSheetList()[0]
	rows, err := f.GetRows(sheetName)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 5 || len(rows) != len(listed)+1 || rows[0][0] != "Riferimento" || rows[0][3] != "Stato" || rows[0][14] != "Id offerta" {
		t.Fatalf("%d rows for %d offers, header %v", len(rows), len(listed), rows[0])
	}
	for i, o := range listed {
		row := rows[i+1]
		from := ""
		if o.DataPubblicazione != nil {
			from = *o.DataPubblicazione
		}
		if len(row) < 15 || row[0] != o.RiferimentoAPL || row[1] != o.Filiale || row[2] != o.Titolo || row[3] != o.Stato || row[4] != from || row[14] != o.IDOfferta {
			t.Fatalf("row %d: %v, want %+v", i+1, row, o)
		}
	}
	if panes, err := f.GetPanes(sheetName); err != nil || !panes.Freeze {
		t.Errorf("header not frozen: %+v %v", panes, err)
	}
	var audited int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = 'apl-offers' AND action = 'offers-export' AND client_id = 'apl-1001-super'`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited == 0 {
		t.Error("no audit record of the workbook")
	}
}

// TestOffersListErrors: every bad parameter is a 400 naming it, an unknown
// one is refused without its name or value, and nothing sent is echoed.
func TestOffersListErrors(t *testing.T) {
	tok := token(t, "apl-1001-operatore")
	code := "RSSMRA85T10A562S"
	for q, field := range map[string]string{
		"cursor=xyz":                      "cursor",
		"cursor=" + url.QueryEscape(code): "cursor",
		"pubblicazione_dal=ieri":          "pubblicazione_dal",
		"pubblicazione_al=2026-02-30":     "pubblicazione_al",
		"pubblicazione_dal=2026-03-02&pubblicazione_al=2026-03-01": "pubblicazione_al",
		code + "=1":                   "", // an unknown parameter: not named
		"pagina=" + code:              "",
		"riferimento=R%00":            "riferimento",
		"riferimento=" + code + "%00": "riferimento",
		"stato=APERTA":                "stato",
		"limit=0":                     "limit",
		"limit=1001":                  "limit",
		"filiale=1001-MI01":           "filiale",
		"stato=BOZZA&stato=CHIUSA":    "stato",
	} {
		m := assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, "?"+q), token: tok}), http.StatusBadRequest, code, "pagina", "APERTA", "ieri")
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: errors %v, want field %q", q, m["errors"], field)
		}
	}
	// The workbook takes the same parameters.
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, "?cursor=xyz"), token: tok, header: map[string]string{"Accept": xlsx}}), http.StatusBadRequest)
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, ""), token: token(t, "gepi")}), http.StatusForbidden)
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(offersFn, "")}), http.StatusUnauthorized)
}

// TestOfferPublishDraft: a draft created without dates is published by one
// patch giving its start with the state; a bad patch changes nothing, and
// a published offer's start no longer moves.
func TestOfferPublishDraft(t *testing.T) {
	ctx := context.Background()
	tok := token(t, "apl-1001-master")
	run := randomHex(4)
	draft := newOffer(t, "DRAFT-"+run, "1001-RM01")
	draft["stato"], draft["data_pubblicazione"], draft["data_fine_pubblicazione"] = "BOZZA", nil, nil
	id := *postOffers(t, tok, draft)[0].IDOfferta
	target := h.URL(offersFn, "/"+id)
	patch := func(body string) reply {
		return do(t, call{method: http.MethodPatch, url: target, token: tok, contentType: "application/merge-patch+json", body: []byte(body)})
	}
	stored := func() string {
		var s string
		if err := h.DB.QueryRow(ctx, `SELECT concat_ws('|', stato, data_pubblicazione, data_fine_pubblicazione, aggiornato_il) FROM offerta WHERE id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := stored()
	later := time.Now().In(rome).AddDate(0, 1, 0).Format(time.DateOnly)
	for body, c := range map[string]struct {
		status int
		field  string
	}{
		`{"stato":"PUBBLICATA"}`:                                   {http.StatusBadRequest, "data_pubblicazione"},
		`{"stato":"PUBBLICATA","data_pubblicazione":null}`:         {http.StatusBadRequest, "data_pubblicazione"},
		`{"stato":"PUBBLICATA","data_pubblicazione":"ieri"}`:       {http.StatusBadRequest, ""},
		`{"stato":"PUBBLICATA","data_pubblicazione":"2026-02-30"}`: {http.StatusBadRequest, ""},
		fmt.Sprintf(`{"stato":"PUBBLICATA","data_pubblicazione":%q,"data_fine_pubblicazione":%q}`, today(), daysAgo(1)):    {http.StatusBadRequest, "data_fine_pubblicazione"},
		fmt.Sprintf(`{"stato":"PUBBLICATA","data_pubblicazione":%q,"data_fine_pubblicazione":%q}`, daysAgo(5), daysAgo(1)): {http.StatusBadRequest, "data_fine_pubblicazione"},
		fmt.Sprintf(`{"stato":"SCADUTA","data_pubblicazione":%q}`, today()):                                                {http.StatusBadRequest, "stato"},
	} {
		m := assertProblem(t, patch(body), c.status)
		if c.field != "" {
			if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
				t.Errorf("%s: errors %v, want field %s", body, m["errors"], c.field)
			}
		}
		if s := stored(); s != before {
			t.Fatalf("%s was refused but changed the offer: %s, was %s", body, s, before)
		}
	}

	r := patch(fmt.Sprintf(`{"stato":"PUBBLICATA","data_pubblicazione":%q,"data_fine_pubblicazione":%q}`, today(), later))
	if r.status != http.StatusOK {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-offers/{id_offerta}", "patch", r)
	if m := r.json(t); m["stato"] != "PUBBLICATA" || m["data_pubblicazione"] != today() || m["data_fine_pubblicazione"] != later {
		t.Fatalf("published: %s", r.body)
	}
	if got := listOffers(t, tok, url.Values{"riferimento": {"DRAFT-" + run}, "stato": {"PUBBLICATA"}}); len(got) != 1 || got[0].IDOfferta != id {
		t.Fatalf("the published draft is not listed as PUBBLICATA: %+v", got)
	}
	// Its start is now history: moving or removing it is a 409, repeating
	// it is no change.
	after := stored()
	for _, body := range []string{fmt.Sprintf(`{"data_pubblicazione":%q}`, daysAgo(1)), `{"data_pubblicazione":null}`} {
		assertProblem(t, patch(body), http.StatusConflict)
		if s := stored(); s != after {
			t.Fatalf("%s was refused but changed the offer", body)
		}
	}
	if r := patch(fmt.Sprintf(`{"data_pubblicazione":%q,"stato":"SOSPESA"}`, today())); r.status != http.StatusOK || r.json(t)["stato"] != "SOSPESA" {
		t.Fatalf("the same start with a suspension: %d %s", r.status, r.body)
	}
}

// TestOfferRefusalPADChooser: a citizen who chose the agency in the PAD
// may be named in a refusal without having expressed interest; for an
// operator the choice must be of its branch. Anyone else (a chooser of
// another branch for an operator, a person who never chose the agency, a
// code no one has) gets one and the same 422.
func TestOfferRefusalPADChooser(t *testing.T) {
	ctx := context.Background()
	master := token(t, "apl-1001-master")
	run := randomHex(4)
	id := *postOffers(t, master, newOffer(t, "PAD-"+run, "1001-RM01"))[0].IDOfferta
	person := func(where string) string {
		t.Helper()
		var code string
		if err := h.DB.QueryRow(ctx, `SELECT m.codice_fiscale FROM componente m WHERE `+where+` ORDER BY m.id DESC LIMIT 1`).Scan(&code); err != nil {
			t.Fatalf("no person %s: %v", where, err)
		}
		return code
	}
	rm := person(`EXISTS (SELECT 1 FROM scelta_apl s WHERE s.componente_id = m.id AND s.apl_id = '1001' AND s.filiale = '1001-RM01')`)
	mi := person(`EXISTS (SELECT 1 FROM scelta_apl s WHERE s.componente_id = m.id AND s.apl_id = '1001' AND s.filiale = '1001-MI01')`)
	stranger := person(`NOT EXISTS (SELECT 1 FROM scelta_apl s WHERE s.componente_id = m.id AND s.apl_id = '1001')
		AND NOT EXISTS (SELECT 1 FROM manifestazione_interesse mi WHERE mi.componente_id = m.id)`)
	unknown := unknownCode(t)

	target := h.URL(offersFn, "/"+id+"/rifiuti")
	refuse := func(tok, code string) reply {
		b, _ := json.Marshal(map[string]any{"codice_fiscale": code, "data": today(), "motivo": "Sede troppo lontana"})
		return do(t, call{url: target, token: tok, contentType: "application/json", body: b, header: map[string]string{"Idempotency-Key": "pad-" + randomHex(8)}})
	}
	operator := token(t, "apl-1001-operatore") // acts for 1001-RM01

	// Refused alike: the same body, whoever it is.
	var bodies []string
	for _, c := range []struct{ who, tok, code string }{
		{"a chooser of another branch, to the operator", operator, mi},
		{"a person who never chose the agency", master, stranger},
		{"a code no one has", master, unknown},
		{"a person who never chose the agency, to the operator", operator, stranger},
	} {
		r := refuse(c.tok, c.code)
		assertProblem(t, r, http.StatusUnprocessableEntity, c.code)
		bodies = append(bodies, withoutRequest(t, r))
		if bodies[len(bodies)-1] != bodies[0] {
			t.Errorf("%s: %s, unlike %s", c.who, bodies[len(bodies)-1], bodies[0])
		}
	}
	if n := countRows(t, `SELECT count(*) FROM rifiuto_offerta WHERE offerta_id = $1`, id); n != 0 {
		t.Fatalf("%d refusals recorded by refused calls", n)
	}

	// Accepted: the operator's own branch's chooser, and, from the master
	// (every branch), a chooser of another branch.
	for _, c := range []struct{ who, tok, code string }{{"operator, its branch's chooser", operator, rm}, {"master, another branch's chooser", master, mi}} {
		r := refuse(c.tok, c.code)
		if r.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", c.who, r.status, r.body)
		}
		conformsToOpenAPI(t, "/function/apl-offers/{id_offerta}/rifiuti", "post", r)
		refusal := r.json(t)["id_rifiuto"].(string)
		eventually(t, 10*time.Second, "ANPAL to receive the refusal", func() bool { _, ok := anpal.effect(refusal); return ok })
	}
	if n := countRows(t, `SELECT count(*) FROM rifiuto_offerta WHERE offerta_id = $1`, id); n != 2 {
		t.Fatalf("%d refusals recorded, want 2", n)
	}
}

// unknownCode is a well-formed codice fiscale no one in the data set has.
func unknownCode(t *testing.T) string {
	t.Helper()
	for i := range 100 {
		first := fmt.Sprintf("QZXWKJ%02dA01H501", 10+i)
		c, err := cf.CheckLetter(first)
		if err != nil {
			t.Fatal(err)
		}
		code := first + string(c)
		if _, err := cf.Parse(code); err != nil {
			t.Fatalf("%s: %v", cf.Code(code).Masked(), err)
		}
		if countRows(t, `SELECT count(*) FROM componente WHERE cf_canonico = $1`, code) == 0 {
			return code
		}
	}
	t.Fatal("every code taken")
	return ""
}
