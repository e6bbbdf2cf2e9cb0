package test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

type aplNotePage struct {
	Items []struct {
		IDAnnotazione int64  `json:"id_annotazione"`
		IDCittadino   int64  `json:"id_cittadino"`
		Filiale       string `json:"filiale"`
		Esito         string `json:"esito"`
		Testo         string `json:"testo"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// aplNoteIDs walks every page of a notes list and returns the note ids.
func aplNoteIDs(t *testing.T, path, tok string, q url.Values) []int64 {
	t.Helper()
	q.Set("limit", "3")
	var ids []int64
	for pages := 0; ; pages++ {
		r := aplGet(t, path+"?"+q.Encode(), tok, "")
		if r.status != http.StatusOK {
			t.Fatalf("notes: %d %s", r.status, r.body)
		}
		if pages == 0 {
			spec := "/function/apl-citizens/annotazioni"
			if path != "/annotazioni" {
				spec = "/function/apl-citizens/{id_cittadino}/annotazioni"
			}
			conformsToOpenAPI(t, spec, "get", r)
		}
		var p aplNotePage
		decodeInto(t, r, &p)
		for _, n := range p.Items {
			ids = append(ids, n.IDAnnotazione)
		}
		if p.NextCursor == nil {
			return ids
		}
		q.Set("cursor", *p.NextCursor)
		if pages > 1000 {
			t.Fatal("the cursor never ends")
		}
	}
}

// aplNote writes a note and returns its id.
func aplNote(t *testing.T, tok string, citizen int64, text, outcome string) int64 {
	t.Helper()
	r := postJSON(t, h.URL(citizensFn, citizenPath(citizen, "/annotazioni")), tok, map[string]any{"testo": text, "esito": outcome})
	if r.status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.status, r.body)
	}
	return int64(r.json(t)["id_annotazione"].(float64))
}

func TestAplNotesList(t *testing.T) {
	op, master, other := token(t, "apl-1001-operatore"), token(t, "apl-1001-master"), token(t, "apl-1002-master")
	// A citizen both agencies see (1001 through the operator's branch), and one of 1001's other branches.
	shared := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-RM01' AND EXISTS (SELECT 1 FROM scelta_apl o WHERE o.componente_id = m.id AND o.apl_id = '1002')`)
	elsewhere := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-MI01'`)
	if len(shared) == 0 || len(elsewhere) == 0 {
		t.Fatal("the data set has no citizen both agencies see")
	}
	c := shared[0]
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	mine := []int64{
		aplNote(t, op, c, "Colloquio svolto "+stamp, "POSITIVO"),
		aplNote(t, master, c, "Richiamato, non disponibile "+stamp, "DA_RICONTATTARE"),
	}
	theirs := aplNote(t, other, c, "Nota dell'altra agenzia "+stamp, "NEGATIVO")
	far := aplNote(t, master, elsewhere[0], "Colloquio a Milano "+stamp, "NON_PRESENTATO")

	// One citizen's notes: the agency's own, whoever of it wrote them.
	audited := aplAudits(t, "citizen-notes-read", "", c)
	got := aplNoteIDs(t, citizenPath(c, "/annotazioni"), op, url.Values{})
	want := int64s(t, `SELECT id FROM annotazione_apl WHERE apl_id = '1001' AND componente_id = $1 ORDER BY id`, c)
	if !slices.Equal(got, want) || !slices.Contains(got, mine[0]) || !slices.Contains(got, mine[1]) || slices.Contains(got, theirs) {
		t.Errorf("1001's notes on the citizen: %v, want %v (not %d)", got, want, theirs)
	}
	if aplAudits(t, "citizen-notes-read", "", c) <= audited {
		t.Error("reading a citizen's notes left no audit record")
	}
	got = aplNoteIDs(t, citizenPath(c, "/annotazioni"), other, url.Values{})
	if want := int64s(t, `SELECT id FROM annotazione_apl WHERE apl_id = '1002' AND componente_id = $1 ORDER BY id`, c); !slices.Equal(got, want) || slices.Contains(got, mine[0]) {
		t.Errorf("1002's notes on the citizen: %v, want %v", got, want)
	}
	got = aplNoteIDs(t, citizenPath(c, "/annotazioni"), op, url.Values{"esito": {"POSITIVO"}})
	if want := int64s(t, `SELECT id FROM annotazione_apl WHERE apl_id = '1001' AND componente_id = $1 AND esito = 'POSITIVO' ORDER BY id`, c); !slices.Equal(got, want) || !slices.Contains(got, mine[0]) {
		t.Errorf("POSITIVO: %v, want %v", got, want)
	}

	// The agency's notes: the operator's branch only; the master's every branch.
	byBranch := `SELECT n.id FROM annotazione_apl n JOIN scelta_apl s ON s.componente_id = n.componente_id AND s.apl_id = n.apl_id
		WHERE n.apl_id = '1001' AND s.filiale = ANY ($1) ORDER BY n.id`
	got = aplNoteIDs(t, "/annotazioni", op, url.Values{})
	if want := int64s(t, byBranch, []string{"1001-RM01"}); !slices.Equal(got, want) || slices.Contains(got, far) || slices.Contains(got, theirs) {
		t.Errorf("operator: %d notes, want %d", len(got), len(want))
	}
	all := aplNoteIDs(t, "/annotazioni", master, url.Values{})
	if want := int64s(t, byBranch, []string{"1001-RM01", "1001-MI01", "1001-NA01"}); !slices.Equal(all, want) || !slices.Contains(all, far) || slices.Contains(all, theirs) {
		t.Errorf("master: %d notes, want %d", len(all), len(want))
	}
	rome, _ := time.LoadLocation("Europe/Rome")
	today := time.Now().In(rome).Format(time.DateOnly)
	got = aplNoteIDs(t, "/annotazioni", master, url.Values{"dal": {today}, "al": {today}, "esito": {"NON_PRESENTATO"}, "filiale": {"1001-MI01"}})
	if want := int64s(t, `SELECT n.id FROM annotazione_apl n JOIN scelta_apl s ON s.componente_id = n.componente_id AND s.apl_id = n.apl_id
		WHERE n.apl_id = '1001' AND s.filiale = '1001-MI01' AND n.esito = 'NON_PRESENTATO' AND (n.creata_il AT TIME ZONE 'Europe/Rome')::date = $1::date ORDER BY n.id`, today); !slices.Equal(got, want) || !slices.Contains(got, far) {
		t.Errorf("today's NON_PRESENTATO in 1001-MI01: %v, want %v", got, want)
	}
	if got := aplNoteIDs(t, "/annotazioni", master, url.Values{"dal": {"2000-01-01"}, "al": {"2000-01-31"}}); len(got) != 0 {
		t.Errorf("notes in 2000: %v", got)
	}

	// The same list as one workbook, read back.
	r := aplGet(t, "/annotazioni", master, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	if r.status != http.StatusOK {
		t.Fatalf("workbook: %d %s", r.status, r.body)
	}
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="annotazioni.xlsx"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(f.GetSheetList()[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(all)+1 || rows[0][0] != "Data annotazione" || rows[0][9] != "Id annotazione" {
		t.Fatalf("workbook: %d rows for %d notes; header %v", len(rows), len(all), rows[0])
	}
	for i, id := range all {
		if rows[i+1][9] != strconv.FormatInt(id, 10) {
			t.Fatalf("row %d is note %s, want %d", i+1, rows[i+1][9], id)
		}
		if id == far {
			var cf string
			if err := h.DB.QueryRow(context.Background(), `SELECT codice_fiscale FROM componente WHERE id = $1`, elsewhere[0]).Scan(&cf); err != nil {
				t.Fatal(err)
			}
			if row := rows[i+1]; row[1] != cf || row[4] != "1001-MI01" || row[5] != "NON_PRESENTATO" || row[6] != "Colloquio a Milano "+stamp {
				t.Errorf("the note's row: %v", row)
			}
		}
	}
	var exported int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = 'apl-citizens' AND action = 'notes-export'`).Scan(&exported); err != nil {
		t.Fatal(err)
	}
	if exported == 0 {
		t.Error("the workbook left no audit record")
	}
}

func TestAplNotesErrors(t *testing.T) {
	op := token(t, "apl-1001-operatore")
	for query, field := range map[string]string{
		"?filiale=1001-MI01":               "filiale",
		"?esito=FORSE":                     "esito",
		"?esito=POS%00ITIVO":               "esito",
		"?dal=2026-02-30":                  "dal",
		"?dal=2026-02-02&al=2026-02-01":    "al",
		"?cursor=abc":                      "cursor",
		"?limit=0":                         "limit",
		"?codice_fiscale=RSSMRA85T10A562S": "",
	} {
		m := assertProblem(t, aplGet(t, "/annotazioni"+query, op, ""), http.StatusBadRequest, "RSSMRA85T10A562S")
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: errors %v", query, m["errors"])
		}
	}
	ours, _ := cvCitizens(t)
	// One citizen's list takes no branch: the citizen has one.
	m := assertProblem(t, aplGet(t, citizenPath(ours, "/annotazioni")+"?filiale=1001-RM01", op, ""), http.StatusBadRequest)
	if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != "" {
		t.Errorf("errors %v", m["errors"])
	}
	assertProblem(t, aplGet(t, "/annotazioni", token(t, "gepi"), ""), http.StatusForbidden)
}
