package test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

const reportFn = "apl-daily-report"

// fireReports is the cron-connector's daily call.
func fireReports(t *testing.T) map[string]int {
	t.Helper()
	r := fireScheduled(t, reportFn)
	if r.status != http.StatusOK {
		t.Fatalf("scheduled run: %d %s", r.status, r.body)
	}
	var counts map[string]int
	decodeInto(t, r, &counts)
	return counts
}

// romeDay is [start, end) of the day n days ago in Rome.
func romeDay(n int) (string, time.Time, time.Time) {
	y, m, d := time.Now().In(rome).Date()
	start := time.Date(y, m, d-n, 0, 0, 0, 0, rome)
	return start.Format(time.DateOnly), start, time.Date(y, m, d-n+1, 0, 0, 0, 0, rome)
}

type reportSummary struct {
	IDReport  string `json:"id_report"`
	Stato     string `json:"stato"`
	Riepilogo struct {
		Filiali           int `json:"filiali"`
		CittadiniTotali   int `json:"cittadini_totali"`
		CittadiniNuovi    int `json:"cittadini_nuovi"`
		CandidatureTotali int `json:"candidature_totali"`
		CandidatureNuove  int `json:"candidature_nuove"`
		OffertePubblicate int `json:"offerte_pubblicate"`
		OfferteInScadenza int `json:"offerte_in_scadenza"`
	} `json:"riepilogo"`
}

func getReport(t *testing.T, tok, day string) reportSummary {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: h.URL(reportFn, "/reports?data="+day), token: tok})
	if r.status != http.StatusOK {
		t.Fatalf("report of %s: %d %s", day, r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-daily-report/reports", "get", r)
	var s reportSummary
	decodeInto(t, r, &s)
	return s
}

func countOf(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := h.DB.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDailyReport: yesterday's figures match counts made here from the data
// set; the workbook reads back; the agency's webhook gets a signed notice;
// another agency and an operator see nothing of it.
func TestDailyReport(t *testing.T) {
	ctx := context.Background()
	if _, err := h.DB.Exec(ctx, `DELETE FROM report_apl`); err != nil {
		t.Fatal(err)
	}
	day, start, end := romeDay(1)
	// Something new yesterday: a citizen's choice and an interest.
	var offer string
	var person int64
	if err := h.DB.QueryRow(ctx, `SELECT id::text FROM offerta WHERE apl_id = '1001' AND stato = 'PUBBLICATA' ORDER BY id LIMIT 1`).Scan(&offer); err != nil {
		t.Fatal(err)
	}
	if err := h.DB.QueryRow(ctx, `SELECT id FROM componente WHERE id NOT IN (SELECT componente_id FROM scelta_apl WHERE apl_id = '1001') ORDER BY id DESC LIMIT 1`).Scan(&person); err != nil {
		t.Fatal(err)
	}
	_, err := h.DB.Exec(ctx, `
		INSERT INTO scelta_apl (componente_id, apl_id, filiale, scelta_il) VALUES ($1, '1001', '1001-MI01', $2);
		`, person, start.Add(10*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.Exec(ctx, `INSERT INTO manifestazione_interesse (offerta_id, componente_id, creata_il) VALUES ($1, $2, $3)`, offer, person, start.Add(11*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The agency's webhook.
	var mu sync.Mutex
	var hooks []*http.Request
	var hookBodies [][]byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks, hookBodies = append(hooks, r), append(hookBodies, b)
		mu.Unlock()
	}))
	defer hook.Close()
	if _, err := h.DB.Exec(ctx, `UPDATE apl SET webhook_url = $1 WHERE id = '1001'`, hook.URL); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := h.DB.Exec(ctx, `UPDATE apl SET webhook_url = NULL WHERE id = '1001'`); err != nil {
			t.Error(err)
		}
	}()

	agencies := countOf(t, `SELECT count(*) FROM apl`)
	if c := fireReports(t); c["prodotti"] != agencies || c["falliti"] != 0 {
		t.Fatalf("first run: %v for %d agencies", c, agencies)
	}
	master := token(t, "apl-1001-master")
	s := getReport(t, master, day)
	want := map[string][2]int{
		"cittadini_totali":    {s.Riepilogo.CittadiniTotali, countOf(t, `SELECT count(*) FROM scelta_apl WHERE apl_id = '1001' AND scelta_il < $1`, end)},
		"cittadini_nuovi":     {s.Riepilogo.CittadiniNuovi, countOf(t, `SELECT count(*) FROM scelta_apl WHERE apl_id = '1001' AND scelta_il >= $1 AND scelta_il < $2`, start, end)},
		"candidature_totali":  {s.Riepilogo.CandidatureTotali, countOf(t, `SELECT count(*) FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id WHERE o.apl_id = '1001' AND mi.creata_il < $1`, end)},
		"candidature_nuove":   {s.Riepilogo.CandidatureNuove, countOf(t, `SELECT count(*) FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id WHERE o.apl_id = '1001' AND mi.creata_il >= $1 AND mi.creata_il < $2`, start, end)},
		"offerte_pubblicate":  {s.Riepilogo.OffertePubblicate, countOf(t, `SELECT count(*) FROM offerta WHERE apl_id = '1001' AND stato = 'PUBBLICATA' AND (data_fine_pubblicazione IS NULL OR data_fine_pubblicazione >= $1::date) AND creato_il < $2`, day, end)},
		"offerte_in_scadenza": {s.Riepilogo.OfferteInScadenza, countOf(t, `SELECT count(*) FROM offerta WHERE apl_id = '1001' AND stato = 'PUBBLICATA' AND creato_il < $2 AND data_fine_pubblicazione > $1::date AND data_fine_pubblicazione <= $1::date + 7`, day, end)},
		"filiali":             {s.Riepilogo.Filiali, countOf(t, `SELECT count(*) FROM apl_filiale WHERE apl_id = '1001'`)},
	}
	for name, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s: the report says %d, the data set %d", name, v[0], v[1])
		}
	}
	if s.Stato != "PRONTO" || s.Riepilogo.CittadiniNuovi < 1 || s.Riepilogo.CandidatureNuove < 1 {
		t.Errorf("report %+v", s)
	}

	// The workbook: the summary first, a sheet per list, frozen headers.
	r := do(t, call{method: http.MethodGet, url: h.URL(reportFn, "/reports/"+day+"/download"), token: master})
	if r.status != http.StatusOK {
		t.Fatalf("download: %d %s", r.status, r.body)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	sheets := f.GetSheetList()
	if len(sheets) != 6 || sheets[0] != "Riepilogo" {
		t.Fatalf("sheets %v", sheets)
	}
	rows, _ := f.GetRows("Cittadini per filiale")
	total := 0
	for _, row := range rows[1:] {
		n, _ := strconv.Atoi(row[1])
		total += n
	}
	if rows[0][0] != "Filiale" || total != s.Riepilogo.CittadiniTotali {
		t.Errorf("citizens sheet: header %v, total %d, summary %d", rows[0], total, s.Riepilogo.CittadiniTotali)
	}
	if panes, err := f.GetPanes("Candidature per offerta"); err != nil || !panes.Freeze {
		t.Errorf("header not frozen: %+v %v", panes, err)
	}

	// The webhook: signed with the service's published key, keyed by the report.
	eventually(t, 10*time.Second, "the agency's webhook", func() bool { mu.Lock(); defer mu.Unlock(); return len(hooks) > 0 })
	mu.Lock()
	got, body := hooks[0], hookBodies[0]
	mu.Unlock()
	if got.Header.Get("Idempotency-Key") != s.IDReport {
		t.Errorf("webhook key %q, report %s", got.Header.Get("Idempotency-Key"), s.IDReport)
	}
	if payload := verifyDocument(t, got.Header.Get("X-Rdc-Signature"), "rdc-webhook+jws"); !bytes.Equal(payload, body) {
		t.Errorf("the signature covers %s, the body is %s", payload, body)
	}
	var notice map[string]any
	if err := json.Unmarshal(body, &notice); err != nil {
		t.Fatal(err)
	}
	if notice["apl"] != "1001" || notice["data"] != day {
		t.Errorf("webhook body %s", body)
	}

	// Another agency gets its own report, an operator none.
	other := getReport(t, token(t, "apl-1002-master"), day)
	if other.IDReport == s.IDReport || other.Riepilogo.CittadiniTotali != countOf(t, `SELECT count(*) FROM scelta_apl WHERE apl_id = '1002' AND scelta_il < $1`, end) {
		t.Errorf("agency 1002 got %+v", other)
	}
	for _, url := range []string{"/reports?data=" + day, "/reports/" + day + "/download"} {
		assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(reportFn, url), token: token(t, "apl-1001-operatore")}), http.StatusForbidden)
	}
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(reportFn, "/reports?data="+daysAgo(400)), token: master}), http.StatusNotFound)
}

// TestDailyReportOnce: two runs at once, or a second run, make each report
// once; a run makes the days a stopped system missed.
func TestDailyReportOnce(t *testing.T) {
	ctx := context.Background()
	day, _, _ := romeDay(1)
	fireReports(t) // whatever is due now is made
	if _, err := h.DB.Exec(ctx, `DELETE FROM report_apl WHERE apl_id = '1001' AND giorno = $1`, day); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]map[string]int, 2)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = fireReports(t) }()
	}
	wg.Wait()
	if made := results[0]["prodotti"] + results[1]["prodotti"]; made != 1 {
		t.Fatalf("two concurrent runs made %d reports, want 1 (%v)", made, results)
	}
	if n := countOf(t, `SELECT count(*) FROM report_apl WHERE apl_id = '1001' AND giorno = $1 AND stato = 'PRONTO'`, day); n != 1 {
		t.Fatalf("%d reports of the day", n)
	}
	if c := fireReports(t); c["prodotti"] != 0 {
		t.Fatalf("a second run made %d more", c["prodotti"])
	}

	// The system was down: the last report of agency 1002 is of four days ago.
	d4, _, _ := romeDay(4)
	if _, err := h.DB.Exec(ctx, `DELETE FROM report_apl WHERE apl_id = '1002'`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.Exec(ctx, `INSERT INTO report_apl (apl_id, giorno, id, stato) VALUES ('1002', $1, gen_random_uuid(), 'PRONTO')`, d4); err != nil {
		t.Fatal(err)
	}
	if c := fireReports(t); c["prodotti"] != 3 {
		t.Fatalf("catch-up made %d reports, want 3 (%v)", c["prodotti"], c)
	}
	for n := 1; n <= 3; n++ {
		d, _, _ := romeDay(n)
		if s := getReport(t, token(t, "apl-1002-super"), d); s.Stato != "PRONTO" {
			t.Errorf("missed day %s: %s", d, s.Stato)
		}
	}
	d5, _, _ := romeDay(5)
	if n := countOf(t, `SELECT count(*) FROM report_apl WHERE apl_id = '1002' AND giorno = $1`, d5); n != 0 {
		t.Errorf("the run went back before the last report")
	}
}

func TestDailyReportOnDemand(t *testing.T) {
	master := token(t, "apl-1001-master")
	d, _, _ := romeDay(6)
	r := postJSON(t, h.URL(reportFn, ""), master, map[string]any{"data": d})
	if r.status != http.StatusOK {
		t.Fatalf("on demand: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-daily-report", "post", r)
	first := r.json(t)["id_report"]
	if again := postJSON(t, h.URL(reportFn, ""), token(t, "apl-1001-super"), map[string]any{"data": d}); again.json(t)["id_report"] != first {
		t.Error("asked again, the day's report was made again")
	}
	assertProblem(t, postJSON(t, h.URL(reportFn, ""), token(t, "apl-1001-operatore"), map[string]any{}), http.StatusForbidden)
	assertProblem(t, postJSON(t, h.URL(reportFn, ""), master, map[string]any{"data": today()}), http.StatusBadRequest)
	assertProblem(t, postJSON(t, h.URL(reportFn, ""), master, map[string]any{"giorno": d}), http.StatusBadRequest)
	assertProblem(t, postJSON(t, h.URL(reportFn, ""), token(t, "gepi"), map[string]any{}), http.StatusForbidden)
}
