package test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

const interestsFn = "apl-interests"

type interestPage struct {
	Items []struct {
		IDManifestazione int64  `json:"id_manifestazione"`
		IDOfferta        string `json:"id_offerta"`
		Filiale          string `json:"filiale"`
		Candidato        struct {
			CodiceFiscale string `json:"codice_fiscale"`
		} `json:"candidato"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// seedInterests creates offers in three branches of two agencies and n
// interest expressions in each, spread over the last n days; it returns
// the offers' ids by branch.
func seedInterests(t *testing.T, n int) map[string]string {
	t.Helper()
	run := randomHex(4)
	ids := map[string]string{}
	for client, branches := range map[string][]string{"apl-1001-master": {"1001-RM01", "1001-MI01"}, "apl-1002-master": {"1002-TO01"}} {
		var offers []map[string]any
		for _, b := range branches {
			offers = append(offers, newOffer(t, "INT-"+b+"-"+run, b))
		}
		for i, r := range postOffers(t, token(t, client), offers...) {
			ids[branches[i]] = *r.IDOfferta
		}
	}
	for b, id := range ids {
		_, err := h.DB.Exec(context.Background(), `
			INSERT INTO manifestazione_interesse (offerta_id, componente_id, creata_il)
			SELECT $1, m.id, now() - (row_number() OVER (ORDER BY m.id)) * interval '1 day'
			FROM (SELECT id FROM componente ORDER BY id OFFSET $2 LIMIT $3) m`, id, len(b)*7%50, n)
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// allPages walks the list with the cursor and returns every item's id.
func allPages(t *testing.T, tok string, q url.Values) ([]int64, []string) {
	t.Helper()
	var ids []int64
	var offers []string
	for pages := 0; ; pages++ {
		r := do(t, call{method: http.MethodGet, url: h.URL(interestsFn, "?"+q.Encode()), token: tok})
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		if pages == 0 {
			conformsToOpenAPI(t, "/function/apl-interests", "get", r)
		}
		var p interestPage
		decodeInto(t, r, &p)
		for _, it := range p.Items {
			ids = append(ids, it.IDManifestazione)
			offers = append(offers, it.IDOfferta)
		}
		if p.NextCursor == nil {
			return ids, offers
		}
		q.Set("cursor", *p.NextCursor)
		if pages > 1000 {
			t.Fatal("the cursor never ends")
		}
	}
}

// expectedInterests counts independently what a client of agency apl acting
// for branches may see.
func expectedInterests(t *testing.T, apl string, branches []string, offer string) []int64 {
	t.Helper()
	return int64s(t, `
		SELECT mi.id FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id
		WHERE o.apl_id = $1 AND o.filiale = ANY ($2) AND ($3 = '' OR o.id::text = $3) ORDER BY mi.creata_il, mi.id`, apl, branches, offer)
}

func TestInterests(t *testing.T) {
	offers := seedInterests(t, 7)
	master := token(t, "apl-1001-master")

	// Every page in order, no gaps, no repeats, exactly the agency's.
	got, _ := allPages(t, master, url.Values{"limit": {"3"}})
	want := expectedInterests(t, "1001", []string{"1001-RM01", "1001-MI01", "1001-NA01"}, "")
	if !slices.Equal(got, want) || len(got) < 14 {
		t.Fatalf("master: %d items %v, want %d %v", len(got), got, len(want), want)
	}
	// An operator sees its branch only; another agency never sees these.
	got, offs := allPages(t, token(t, "apl-1001-operatore"), url.Values{"limit": {"4"}})
	if want := expectedInterests(t, "1001", []string{"1001-RM01"}, ""); !slices.Equal(got, want) || slices.Contains(offs, offers["1001-MI01"]) {
		t.Fatalf("operator: %v, want %v", got, want)
	}
	got, offs = allPages(t, token(t, "apl-1002-super"), url.Values{})
	if slices.Contains(offs, offers["1001-RM01"]) || slices.Contains(offs, offers["1001-MI01"]) || !slices.Equal(got, expectedInterests(t, "1002", []string{"1002-TO01", "1002-BO01"}, "")) {
		t.Fatalf("agency 1002 sees %v", offs)
	}
	// Filters: one offer; one branch; the last three days.
	got, _ = allPages(t, master, url.Values{"id_offerta": {offers["1001-MI01"]}})
	if len(got) != 7 {
		t.Errorf("one offer: %d items, want 7", len(got))
	}
	got, offs = allPages(t, master, url.Values{"filiale": {"1001-MI01"}})
	if !slices.Equal(got, expectedInterests(t, "1001", []string{"1001-MI01"}, "")) || !slices.Contains(offs, offers["1001-MI01"]) {
		t.Errorf("filiale=1001-MI01: %v", got)
	}
	got, _ = allPages(t, master, url.Values{"id_offerta": {offers["1001-RM01"]}, "dal": {daysAgo(3)}, "al": {today()}})
	if len(got) != 3 {
		t.Errorf("last three days of one offer: %d items, want 3", len(got))
	}
	// Another agency's offer as a filter finds nothing.
	if got, _ := allPages(t, master, url.Values{"id_offerta": {offers["1002-TO01"]}}); len(got) != 0 {
		t.Errorf("another agency's offer: %d items", len(got))
	}
	var audited int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = 'apl-interests' AND client_id = 'apl-1001-master'`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited == 0 {
		t.Error("no audit record of the extractions")
	}
}

func TestInterestsWorkbook(t *testing.T) {
	offers := seedInterests(t, 5)
	tok := token(t, "apl-1001-super")
	q := url.Values{"id_offerta": {offers["1001-RM01"]}}
	ids, _ := allPages(t, tok, q)
	r := do(t, call{method: http.MethodGet, url: h.URL(interestsFn, "?id_offerta="+offers["1001-RM01"]), token: tok,
		header: map[string]string{"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
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
	if len(rows) != len(ids)+1 || rows[0][0] != "Data manifestazione" || rows[0][4] != "Codice fiscale" {
		t.Fatalf("%d rows for %d interests, header %v", len(rows), len(ids), rows[0])
	}
	for i, id := range ids {
		if rows[i+1][10] != strconv.FormatInt(id, 10) || !cfPattern.MatchString(rows[i+1][4]) {
			t.Fatalf("row %d: %v, want interest %d", i+1, rows[i+1], id)
		}
	}
	if panes, err := f.GetPanes(sheetName); err != nil || !panes.Freeze {
		t.Errorf("header not frozen: %+v %v", panes, err)
	}
}

func TestInterestsErrors(t *testing.T) {
	tok := token(t, "apl-1001-operatore")
	for q, field := range map[string]string{
		"filiale=1001-MI01": "filiale", "limit=0": "limit", "dal=ieri": "dal", "cursor=xyz": "cursor", "pagina=2": "", // an unknown parameter is not named
		"id_offerta=1": "id_offerta", "dal=2026-03-02&al=2026-03-01": "al",
	} {
		m := assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(interestsFn, "?"+q), token: tok}), http.StatusBadRequest)
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: errors %v, want field %s", q, m["errors"], field)
		}
	}
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(interestsFn, ""), token: token(t, "gepi")}), http.StatusForbidden)
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(interestsFn, "")}), http.StatusUnauthorized)
}
