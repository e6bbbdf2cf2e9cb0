package test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/rdc-interop/faas/shared/files"
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

// reportTrend is a figure over the report's windows.
type reportTrend struct {
	Ieri        int `json:"ieri"`
	GiornoPrima int `json:"giorno_prima"`
	Ultimi7     int `json:"ultimi_7_giorni"`
	Ultimi30    int `json:"ultimi_30_giorni"`
}

type reportFigures struct {
	Filiali           int `json:"filiali"`
	CittadiniTotali   int `json:"cittadini_totali"`
	CittadiniNuovi    int `json:"cittadini_nuovi"`
	CandidatureTotali int `json:"candidature_totali"`
	CandidatureNuove  int `json:"candidature_nuove"`
	OffertePubblicate int `json:"offerte_pubblicate"`
	OfferteInScadenza int `json:"offerte_in_scadenza"`
	Andamento         struct {
		Cittadini   reportTrend `json:"cittadini"`
		Candidature reportTrend `json:"candidature"`
	} `json:"andamento"`
}

type reportSummary struct {
	IDReport  string        `json:"id_report"`
	Stato     string        `json:"stato"`
	Riepilogo reportFigures `json:"riepilogo"`
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

	// The trend: the windows end with the day, each bound a midnight in Rome.
	_, prevStart, _ := romeDay(2)
	_, weekStart, _ := romeDay(7)
	_, monthStart, _ := romeDay(30)
	interestsIn := func(from time.Time) int {
		return countOf(t, `SELECT count(*) FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id
			WHERE o.apl_id = '1001' AND mi.creata_il >= $1 AND mi.creata_il < $2`, from, end)
	}
	citizensIn := func(from, to time.Time) int {
		return countOf(t, `SELECT count(*) FROM scelta_apl WHERE apl_id = '1001' AND scelta_il >= $1 AND scelta_il < $2`, from, to)
	}
	wantTrend := map[string][2]reportTrend{
		"candidature": {s.Riepilogo.Andamento.Candidature, {Ieri: s.Riepilogo.CandidatureNuove,
			GiornoPrima: interestsIn(prevStart) - interestsIn(start), Ultimi7: interestsIn(weekStart), Ultimi30: interestsIn(monthStart)}},
		"cittadini": {s.Riepilogo.Andamento.Cittadini, {Ieri: s.Riepilogo.CittadiniNuovi,
			GiornoPrima: citizensIn(prevStart, start), Ultimi7: citizensIn(weekStart, end), Ultimi30: citizensIn(monthStart, end)}},
	}
	for name, v := range wantTrend {
		if v[0] != v[1] {
			t.Errorf("trend of %s: the report says %+v, the data set %+v", name, v[0], v[1])
		}
	}

	// The workbook: the summary first, with the trend and the chart, a
	// sheet per list, frozen headers.
	r := do(t, call{method: http.MethodGet, url: h.URL(reportFn, "/reports/"+day+"/download"), token: master})
	if r.status != http.StatusOK {
		t.Fatalf("download: %d %s", r.status, r.body)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	sheets := f.GetSheetList()
	if len(sheets) != 7 || sheets[0] != "Riepilogo" {
		t.Fatalf("sheets %v", sheets)
	}
	summaryRows, _ := f.GetRows("Riepilogo")
	a := s.Riepilogo.Andamento
	for k, want := range map[int][]int{
		3: {s.Riepilogo.CittadiniTotali, a.Cittadini.Ieri, a.Cittadini.GiornoPrima, a.Cittadini.Ultimi7, a.Cittadini.Ultimi30},
		4: {s.Riepilogo.CandidatureTotali, a.Candidature.Ieri, a.Candidature.GiornoPrima, a.Candidature.Ultimi7, a.Candidature.Ultimi30},
	} {
		for i, n := range want {
			if got := summaryRows[k][i+1]; got != strconv.Itoa(n) {
				t.Errorf("summary row %d (%s), column %d: %s, want %d", k+1, summaryRows[k][0], i+2, got, n)
			}
		}
	}
	if summaryRows[2][2] != "Ieri" || summaryRows[2][5] != "Ultimi 30 giorni" {
		t.Errorf("summary header %v", summaryRows[2])
	}
	chartOnFirstSheet(t, r.body)
	rows, _ := f.GetRows("Cittadini per filiale")
	total := 0
	branches := map[string][2]string{}
	bs, err := h.DB.Query(ctx, `SELECT f.codice, f.denominazione, coalesce(c.nome, '') FROM apl_filiale f LEFT JOIN comune c ON c.codice_istat = f.comune WHERE f.apl_id = '1001'`)
	if err != nil {
		t.Fatal(err)
	}
	for bs.Next() {
		var code, name, town string
		if err := bs.Scan(&code, &name, &town); err != nil {
			t.Fatal(err)
		}
		branches[code] = [2]string{name, town}
	}
	named := 0
	for _, row := range rows[1:] {
		n, _ := strconv.Atoi(row[3])
		total += n
		want, ok := branches[row[0]]
		if !ok || row[1] != want[0] || (want[1] != "" && row[2] != want[1]) {
			t.Errorf("branch row %v, the data set %v", row, want)
		}
		if want[1] != "" {
			named++
		}
	}
	if rows[0][0] != "Filiale" || rows[0][1] != "Denominazione" || rows[0][2] != "Comune" || total != s.Riepilogo.CittadiniTotali || len(rows) != len(branches)+1 {
		t.Errorf("citizens sheet: header %v, total %d, summary %d, %d rows", rows[0], total, s.Riepilogo.CittadiniTotali, len(rows))
	}
	if named == 0 {
		t.Error("no branch of the data set has a town: the test shows nothing of the comuni")
	}
	if panes, err := f.GetPanes("Candidature per offerta"); err != nil || !panes.Freeze {
		t.Errorf("header not frozen: %+v %v", panes, err)
	}
	// The offers ending soon, by reference and title, on their sheet and the summary.
	soon, _ := f.GetRows("Offerte in scadenza")
	ending, err := h.DB.Query(ctx, `SELECT riferimento_apl, titolo FROM offerta WHERE apl_id = '1001' AND stato = 'PUBBLICATA' AND creato_il < $2
		AND data_fine_pubblicazione > $1::date AND data_fine_pubblicazione <= $1::date + 7 ORDER BY data_fine_pubblicazione, riferimento_apl`, day, end)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for ending.Next() {
		var ref, title string
		if err := ending.Scan(&ref, &title); err != nil {
			t.Fatal(err)
		}
		k++
		if k >= len(soon) || soon[k][0] != ref || soon[k][1] != title {
			t.Errorf("offer ending soon %d: %s %q, the sheet %v", k, ref, title, soon[min(k, len(soon)-1)])
		}
	}
	if k != s.Riepilogo.OfferteInScadenza || len(soon) != k+1 {
		t.Errorf("%d offers ending soon, the summary says %d, the sheet lists %d", k, s.Riepilogo.OfferteInScadenza, len(soon)-1)
	}
	if k > 0 && !slices.ContainsFunc(summaryRows, func(row []string) bool { return len(row) > 1 && row[0] == soon[1][0] && row[1] == soon[1][1] }) {
		t.Error("the summary does not list the offers ending soon")
	}

	// The JSON twin says what the workbook does.
	twin := reportTwin(t, "apl-1001/"+day+".json")
	if twin.Riepilogo != s.Riepilogo || twin.APL != "1001" || twin.Data != day {
		t.Errorf("twin summary %+v, answered %+v", twin.Riepilogo, s.Riepilogo)
	}
	interestRows, _ := f.GetRows("Candidature per filiale")
	if len(twin.Candidature) != len(interestRows)-1 {
		t.Fatalf("twin has %d branches, the sheet %d", len(twin.Candidature), len(interestRows)-1)
	}
	for i, b := range twin.Candidature {
		row := interestRows[i+1]
		want := []string{b.Filiale, b.Denominazione, b.Comune, strconv.Itoa(b.Totale), strconv.Itoa(b.Andamento.Ieri),
			strconv.Itoa(b.Andamento.GiornoPrima), strconv.Itoa(b.Andamento.Ultimi7), strconv.Itoa(b.Andamento.Ultimi30)}
		if !slices.Equal(row, want) {
			t.Errorf("branch %d: sheet %v, twin %v", i, row, want)
		}
	}
	seriesRows, _ := f.GetRows("Andamento 30 giorni")
	if len(twin.Serie.Giorni) != 30 || twin.Serie.Giorni[29] != day || len(seriesRows) != 31 || seriesRows[30][0] != day {
		t.Errorf("series: twin days %v, sheet %d rows", twin.Serie.Giorni, len(seriesRows))
	}
	month := 0
	for _, b := range twin.Serie.Filiali {
		for _, n := range b.Valori {
			month += n
		}
	}
	if month != a.Candidature.Ultimi30 {
		t.Errorf("the series add up to %d, the 30 days' interests are %d", month, a.Candidature.Ultimi30)
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

// reportTwinShape is the part of the JSON twin the test compares.
type reportTwinShape struct {
	APL         string        `json:"apl"`
	Data        string        `json:"data"`
	Riepilogo   reportFigures `json:"riepilogo"`
	Candidature []struct {
		Filiale       string      `json:"filiale"`
		Denominazione string      `json:"denominazione"`
		Comune        string      `json:"comune"`
		Totale        int         `json:"totale"`
		Andamento     reportTrend `json:"andamento"`
	} `json:"candidature_per_filiale"`
	Serie struct {
		Giorni  []string `json:"giorni"`
		Filiali []struct {
			Filiale string `json:"filiale"`
			Valori  []int  `json:"valori"`
		} `json:"filiali"`
	} `json:"candidature_30_giorni"`
}

// reportTwin reads a report's JSON twin where the function stored it.
func reportTwin(t *testing.T, name string) reportTwinShape {
	t.Helper()
	store, err := files.Open(h.Config, "reports")
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := store.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("twin %s: %v", name, err)
	}
	defer body.Close()
	var twin reportTwinShape
	if err := json.NewDecoder(body).Decode(&twin); err != nil {
		t.Fatal(err)
	}
	return twin
}

// chartOnFirstSheet: the workbook's first sheet draws a chart (its
// drawing holds one), which excelize cannot read back.
func chartOnFirstSheet(t *testing.T, book []byte) {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(book), int64(len(book)))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		f, err := z.Open(name)
		if err != nil {
			return ""
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return string(b)
	}
	rels := read("xl/worksheets/_rels/sheet1.xml.rels")
	if !strings.Contains(rels, "drawings/drawing1.xml") || !strings.Contains(read("xl/drawings/_rels/drawing1.xml.rels"), "charts/chart1.xml") {
		t.Fatalf("no chart on the first sheet: %s", rels)
	}
	if chart := read("xl/charts/chart1.xml"); !strings.Contains(chart, "lineChart>") || !strings.Contains(chart, "Andamento 30 giorni") {
		t.Errorf("the chart is not the 30 days' lines: %.300s", chart)
	}
}
