package test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

const citizensFn = "apl-citizens"

type citizenPage struct {
	Items []struct {
		IDCittadino  int64  `json:"id_cittadino"`
		Eta          int    `json:"eta"`
		TitoloStudio string `json:"titolo_studio"`
		Filiale      string `json:"filiale"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// searchAll walks every page of a search and returns the ids, in order.
func searchAll(t *testing.T, tok string, body map[string]any) []int64 {
	t.Helper()
	var ids []int64
	body["limit"] = 40
	for pages := 0; ; pages++ {
		r := postJSON(t, h.URL(citizensFn, "/search"), tok, body)
		if r.status != http.StatusOK {
			t.Fatalf("search: %d %s", r.status, r.body)
		}
		if pages == 0 {
			conformsToOpenAPI(t, "/function/apl-citizens/search", "post", r)
		}
		var p citizenPage
		decodeInto(t, r, &p)
		for _, c := range p.Items {
			ids = append(ids, c.IDCittadino)
		}
		if p.NextCursor == nil {
			return ids
		}
		body["cursor"] = *p.NextCursor
		if pages > 1000 {
			t.Fatal("the cursor never ends")
		}
	}
}

// idsWhere lists, independently of the function, the citizens of the
// data set that match cond (over scelta_apl s, componente m, profilo p).
func idsWhere(t *testing.T, cond string, args ...any) []int64 {
	t.Helper()
	return int64s(t, `
		SELECT m.id FROM scelta_apl s JOIN componente m ON m.id = s.componente_id LEFT JOIN profilo p ON p.componente_id = m.id
		WHERE `+cond+` ORDER BY m.id`, args...)
}

func TestCitizensSearch(t *testing.T) {
	master := token(t, "apl-1001-master")
	all := searchAll(t, master, map[string]any{})
	if want := idsWhere(t, `s.apl_id = '1001' AND s.filiale IN ('1001-RM01', '1001-MI01', '1001-NA01')`); !slices.Equal(all, want) || len(all) == 0 {
		t.Fatalf("master: %d citizens, want %d", len(all), len(want))
	}
	// An operator: those who picked its branch.
	got := searchAll(t, token(t, "apl-1001-operatore"), map[string]any{})
	if want := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-RM01'`); !slices.Equal(got, want) || len(got) >= len(all) {
		t.Fatalf("operator: %d citizens, want %d of %d", len(got), len(want), len(all))
	}
	// Another agency: only who chose it; some of 1001's are not among them.
	other := searchAll(t, token(t, "apl-1002-super"), map[string]any{})
	if want := idsWhere(t, `s.apl_id = '1002' AND s.filiale IN ('1002-TO01', '1002-BO01')`); !slices.Equal(other, want) {
		t.Fatalf("agency 1002: %d citizens, want %d", len(other), len(want))
	}
	if onlyOurs := idsWhere(t, `s.apl_id = '1001' AND NOT EXISTS (SELECT 1 FROM scelta_apl o WHERE o.componente_id = m.id AND o.apl_id = '1002')`); len(onlyOurs) == 0 || slices.Contains(other, onlyOurs[0]) {
		t.Fatal("agency 1002 sees a citizen who did not choose it (or the data set has none to tell)")
	}

	// Filters, each checked against the data set computed here.
	got = searchAll(t, master, map[string]any{"eta_minima": 30, "eta_massima": 40})
	if want := idsWhere(t, `s.apl_id = '1001' AND date_part('year', age(current_date, m.data_nascita)) BETWEEN 30 AND 40`); !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("age 30-40: %d, want %d", len(got), len(want))
	}
	got = searchAll(t, master, map[string]any{"titolo_studio_minimo": "DIPLOMA"})
	if want := idsWhere(t, `s.apl_id = '1001' AND m.titolo_studio >= 4`); !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("diploma or more: %d, want %d", len(got), len(want))
	}
	// Italian full text: the plural finds the singular of the CV.
	got = searchAll(t, master, map[string]any{"parole_chiave": "muratori", "filiale": "1001-MI01"})
	if want := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-MI01' AND p.testo LIKE '%muratore%'`); !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("muratori in 1001-MI01: %d, want %d", len(got), len(want))
	}

	// The same search as one workbook.
	b := []byte(`{"titolo_studio_minimo":"DIPLOMA"}`)
	r := do(t, call{url: h.URL(citizensFn, "/search"), token: master, contentType: "application/json", body: b,
		header: map[string]string{"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}})
	if r.status != http.StatusOK {
		t.Fatalf("workbook: %d %s", r.status, r.body)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows(f.GetSheetList()[0])
	want := idsWhere(t, `s.apl_id = '1001' AND m.titolo_studio >= 4`)
	if len(rows) != len(want)+1 || rows[0][0] != "Codice fiscale" || rows[1][9] != strconv.FormatInt(want[0], 10) {
		t.Fatalf("workbook: %d rows for %d citizens, first %v", len(rows), len(want), rows[min(1, len(rows)-1)])
	}
	var audited int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = 'apl-citizens' AND action = 'citizens-export'`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited == 0 {
		t.Error("the workbook left no audit record")
	}
}

func TestCitizensErrors(t *testing.T) {
	tok := token(t, "apl-1001-operatore")
	url := h.URL(citizensFn, "/search")
	for field, body := range map[string]map[string]any{
		"eta_minima":           {"eta_minima": 10},
		"eta_massima":          {"eta_minima": 40, "eta_massima": 30},
		"titolo_studio_minimo": {"titolo_studio_minimo": "MASTER"},
		"filiale":              {"filiale": "1001-MI01"},
		"":                     {"regione": "12"}, // an unknown member is not named
		"cursor":               {"cursor": "abc"},
	} {
		m := assertProblem(t, postJSON(t, url, tok, body), http.StatusBadRequest)
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: errors %v", field, m["errors"])
		}
	}
	assertProblem(t, postJSON(t, url, token(t, "gepi"), map[string]any{}), http.StatusForbidden)
}

// TestCitizenNotes: a note stays with the agency; only a citizen who chose
// it, through the caller's branch, can be noted.
func TestCitizenNotes(t *testing.T) {
	ctx := context.Background()
	ours := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-RM01' AND NOT EXISTS (SELECT 1 FROM scelta_apl o WHERE o.componente_id = m.id AND o.apl_id = '1002')`)
	elsewhere := idsWhere(t, `s.apl_id = '1001' AND s.filiale <> '1001-RM01'`)
	if len(ours) == 0 || len(elsewhere) == 0 {
		t.Fatal("the data set has no citizens to note")
	}
	var outbox int
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM consegna`).Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	note := map[string]any{"testo": "Colloquio svolto, disponibile da gennaio", "esito": "DA_RICONTATTARE"}
	url := func(id int64) string { return h.URL(citizensFn, "/"+strconv.FormatInt(id, 10)+"/annotazioni") }
	r := postJSON(t, url(ours[0]), token(t, "apl-1001-operatore"), note)
	if r.status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-citizens/{id_cittadino}/annotazioni", "post", r)
	var stored string
	if err := h.DB.QueryRow(ctx, `SELECT apl_id FROM annotazione_apl WHERE id = $1`, int64(r.json(t)["id_annotazione"].(float64))).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != "1001" {
		t.Errorf("the note is kept for %q", stored)
	}
	var after int
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM consegna`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != outbox {
		t.Error("a note was queued for delivery: notes are never passed on")
	}
	// Not the caller's: another agency's citizen, another branch's, nobody.
	assertProblem(t, postJSON(t, url(ours[0]), token(t, "apl-1002-master"), note), http.StatusNotFound)
	assertProblem(t, postJSON(t, url(elsewhere[0]), token(t, "apl-1001-operatore"), note), http.StatusNotFound)
	assertProblem(t, postJSON(t, url(999999999), token(t, "apl-1001-master"), note), http.StatusNotFound)
	m := assertProblem(t, postJSON(t, url(ours[0]), token(t, "apl-1001-master"), map[string]any{"testo": "x", "esito": "FORSE"}), http.StatusBadRequest)
	if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != "esito" {
		t.Errorf("errors %v", m["errors"])
	}
}
