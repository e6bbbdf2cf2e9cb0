package test

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// aplGet reads a path of apl-citizens with a token and an Accept header.
func aplGet(t *testing.T, path, tok, accept string) reply {
	t.Helper()
	c := call{method: http.MethodGet, url: h.URL(citizensFn, path), token: tok}
	if accept != "" {
		c.header = map[string]string{"Accept": accept}
	}
	return do(t, c)
}

func citizenPath(id int64, tail string) string { return "/" + strconv.FormatInt(id, 10) + tail }

// aplAudits counts apl-citizens' audit records of an action on a subject's
// household (any outcome with ""): the trace a read must leave before it answers.
func aplAudits(t *testing.T, action, outcome string, citizen int64) int {
	t.Helper()
	var n int
	if err := h.DB.QueryRow(context.Background(), `
		SELECT count(*) FROM audit_log a JOIN componente m ON m.nucleo_id = a.nucleo_id
		WHERE a.function = 'apl-citizens' AND a.action = $1 AND ($2 = '' OR a.outcome = $2) AND m.id = $3 AND a.subject_ref IS NOT NULL`,
		action, outcome, citizen).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pdfShownText is the text a PDF shows, read back the way a viewer would:
// each content stream inflated (fpdf compresses them with zlib), the
// strings of its text-showing operators ("(...) Tj") unescaped and decoded
// from WinAnsi (the core fonts' encoding; its Latin-1 part is all an
// Italian text needs), joined by spaces with white space collapsed. The
// function keeps compression on: the test reads what a client receives.
func pdfShownText(t *testing.T, pdf []byte) string {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf[max(0, len(pdf)-64):], []byte("%%EOF")) {
		t.Fatalf("not a whole PDF: %d bytes", len(pdf))
	}
	var out []string
	// The end of line before endstream stays in the capture (zlib ignores
	// what follows its checksum): an optional \r there would take a
	// checksum's last byte 0x0D, one stream in 256.
	for _, m := range regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`).FindAllSubmatch(pdf, -1) {
		zr, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue // not a compressed stream
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			continue
		}
		for _, s := range regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`).FindAllSubmatch(b, -1) {
			var r []rune
			for i := 0; i < len(s[1]); i++ {
				if s[1][i] == '\\' && i+1 < len(s[1]) {
					i++
				}
				r = append(r, rune(s[1][i]))
			}
			out = append(out, string(r))
		}
	}
	if len(out) == 0 {
		t.Fatal("the PDF shows no text")
	}
	return strings.Join(strings.Fields(strings.Join(out, " ")), " ")
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// assertSameNotFound: an answer is the 404 of a citizen who does not
// exist, member for member but the request id.
func assertSameNotFound(t *testing.T, what string, got, missing reply) {
	t.Helper()
	a, b := assertProblem(t, got, http.StatusNotFound), assertProblem(t, missing, http.StatusNotFound)
	delete(a, "request_id")
	delete(b, "request_id")
	if len(a) != len(b) {
		t.Errorf("%s: %v, a missing citizen %v", what, a, b)
	}
	for k, v := range b {
		if a[k] != v {
			t.Errorf("%s: %s is %v, for a missing citizen %v", what, k, a[k], v)
		}
	}
}

// cvCitizens are, in the data set, a citizen the 1001 operator (branch
// 1001-RM01) sees and agency 1002 does not, and one of 1001 in another branch.
func cvCitizens(t *testing.T) (ours, elsewhere int64) {
	t.Helper()
	a := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-RM01' AND p.testo IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM scelta_apl o WHERE o.componente_id = m.id AND o.apl_id = '1002')`)
	b := idsWhere(t, `s.apl_id = '1001' AND s.filiale <> '1001-RM01' AND p.testo IS NOT NULL`)
	if len(a) == 0 || len(b) == 0 {
		t.Fatal("the data set has no citizens with a CV to read")
	}
	return a[0], b[0]
}

func TestAplCVRead(t *testing.T) {
	ctx := context.Background()
	ours, _ := cvCitizens(t)
	op := token(t, "apl-1001-operatore")
	// Accented letters, as an Italian CV has them; put back afterwards.
	var before string
	if err := h.DB.QueryRow(ctx, `SELECT testo FROM profilo WHERE componente_id = $1`, ours).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.Exec(ctx, `UPDATE profilo SET testo = $2 WHERE componente_id = $1`, ours, before+" Disponibilità immediata; è già attivo (città: Forlì)."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = h.DB.Exec(ctx, `UPDATE profilo SET testo = $2 WHERE componente_id = $1`, ours, before) })
	var cognome, nome, testo, filiale string
	if err := h.DB.QueryRow(ctx, `SELECT m.cognome, m.nome, p.testo, s.filiale FROM componente m JOIN profilo p ON p.componente_id = m.id
		JOIN scelta_apl s ON s.componente_id = m.id AND s.apl_id = '1001' WHERE m.id = $1`, ours).Scan(&cognome, &nome, &testo, &filiale); err != nil {
		t.Fatal(err)
	}

	// JSON.
	audited := aplAudits(t, "citizen-cv", "json", ours)
	r := aplGet(t, citizenPath(ours, "/cv"), op, "")
	if r.status != http.StatusOK {
		t.Fatalf("cv: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/apl-citizens/{id_cittadino}/cv", "get", r)
	var cv struct {
		IDCittadino                   int64 `json:"id_cittadino"`
		Cognome, Nome, Testo, Filiale string
		TitoloStudio                  string `json:"titolo_studio"`
	}
	decodeInto(t, r, &cv)
	if cv.IDCittadino != ours || cv.Testo != testo || cv.Cognome != cognome || cv.Nome != nome || cv.Filiale != filiale || cv.TitoloStudio == "" {
		t.Errorf("cv %+v, want %q %q %q", cv, cognome, nome, testo)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if aplAudits(t, "citizen-cv", "json", ours) != audited+1 {
		t.Error("reading the CV left no audit record")
	}

	// PDF: the same CV, read back from the file.
	audited = aplAudits(t, "citizen-cv", "pdf", ours)
	r = aplGet(t, citizenPath(ours, "/cv"), op, "application/pdf")
	if r.status != http.StatusOK {
		t.Fatalf("cv pdf: %d %s", r.status, r.body)
	}
	assertPDFHeaders(t, r, "cv.pdf")
	text := pdfShownText(t, r.body)
	for _, want := range []string{"Curriculum vitae", cognome + " " + nome, collapse(testo), "Disponibilità immediata; è già attivo (città: Forlì)."} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF does not show %q; it shows %q", want, text)
		}
	}
	if aplAudits(t, "citizen-cv", "pdf", ours) != audited+1 {
		t.Error("the CV's PDF left no audit record")
	}
}

func assertPDFHeaders(t *testing.T, r reply, name string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="`+name+`"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}

func TestAplCVPAD(t *testing.T) {
	ctx := context.Background()
	ours, _ := cvCitizens(t)
	op := token(t, "apl-1001-operatore")
	// SIISL's PAD for the citizen, unless the data set has one already.
	signed := time.Date(2026, 1, 7, 9, 30, 0, 0, time.UTC)
	var inserted bool
	if err := h.DB.QueryRow(ctx, `WITH i AS (INSERT INTO pad (componente_id, sottoscritto_il) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM i)`, ours, signed).Scan(&inserted); err != nil {
		t.Fatal(err)
	}
	if inserted {
		t.Cleanup(func() { _, _ = h.DB.Exec(ctx, `DELETE FROM pad WHERE componente_id = $1`, ours) })
	}
	var cf, agency, branch, branchName string
	var at time.Time
	if err := h.DB.QueryRow(ctx, `SELECT m.codice_fiscale, pd.sottoscritto_il, a.denominazione, f.codice, f.denominazione
		FROM componente m JOIN pad pd ON pd.componente_id = m.id JOIN scelta_apl s ON s.componente_id = m.id AND s.apl_id = '1001'
		JOIN apl a ON a.id = s.apl_id JOIN apl_filiale f ON f.codice = s.filiale WHERE m.id = $1`, ours).Scan(&cf, &at, &agency, &branch, &branchName); err != nil {
		t.Fatal(err)
	}
	rome, _ := time.LoadLocation("Europe/Rome")
	audited := aplAudits(t, "citizen-pad", "pdf", ours)
	r := aplGet(t, citizenPath(ours, "/pad"), op, "")
	if r.status != http.StatusOK {
		t.Fatalf("pad: %d %s", r.status, r.body)
	}
	assertPDFHeaders(t, r, "pad.pdf")
	text := pdfShownText(t, r.body)
	for _, want := range []string{"Patto di attivazione digitale", cf, "Sottoscritto il " + at.In(rome).Format("02/01/2006 15:04"), agency, branch + " - " + branchName} {
		if !strings.Contains(text, want) {
			t.Errorf("the PAD does not show %q; it shows %q", want, text)
		}
	}
	// Never another agency's choice: none of the citizen's other agencies or branches.
	rows, err := h.DB.Query(ctx, `SELECT a.denominazione, s.filiale FROM scelta_apl s JOIN apl a ON a.id = s.apl_id WHERE s.componente_id = $1 AND s.apl_id <> '1001'`, ours)
	if err != nil {
		t.Fatal(err)
	}
	var others int
	for rows.Next() {
		var name, code string
		if err := rows.Scan(&name, &code); err != nil {
			t.Fatal(err)
		}
		others++
		if strings.Contains(text, name) || strings.Contains(text, code) {
			t.Errorf("the PAD shows another agency's choice (%s)", code)
		}
	}
	rows.Close()
	if others == 0 {
		t.Log("the citizen chose no other agency: the PAD's leaving them out is not exercised")
	}
	if aplAudits(t, "citizen-pad", "pdf", ours) != audited+1 {
		t.Error("the PAD's PDF left no audit record")
	}
	// A citizen the agency sees but whose PAD SIISL has not sent.
	noPAD := idsWhere(t, `s.apl_id = '1001' AND s.filiale = '1001-RM01' AND NOT EXISTS (SELECT 1 FROM pad WHERE pad.componente_id = m.id)`)
	if len(noPAD) > 0 {
		assertProblem(t, aplGet(t, citizenPath(noPAD[0], "/pad"), op, ""), http.StatusNotFound)
	}
}

// TestAplCVTenancy: another agency, an operator's other branch, a bad id:
// each the 404 of a citizen who does not exist, on every read.
func TestAplCVTenancy(t *testing.T) {
	ours, elsewhere := cvCitizens(t)
	master, op, other := token(t, "apl-1001-master"), token(t, "apl-1001-operatore"), token(t, "apl-1002-master")
	for _, tail := range []string{"/cv", "/pad", "/annotazioni"} {
		missing := aplGet(t, "/999999999"+tail, master, "")
		assertSameNotFound(t, "agency 1002 "+tail, aplGet(t, citizenPath(ours, tail), other, ""), missing)
		assertSameNotFound(t, "another branch "+tail, aplGet(t, citizenPath(elsewhere, tail), op, ""), missing)
		assertSameNotFound(t, "another branch as PDF "+tail, aplGet(t, citizenPath(elsewhere, tail), op, "application/pdf"), missing)
		for _, bad := range []string{"abc", "0", "-1", "0" + strconv.FormatInt(ours, 10), "%00", strconv.FormatInt(ours, 10) + "%00", "RSSMRA85T10A562S"} {
			assertSameNotFound(t, "id "+bad+tail, aplGet(t, "/"+bad+tail, master, ""), missing)
		}
	}
	// The master sees the other branch's citizen.
	if r := aplGet(t, citizenPath(elsewhere, "/cv"), master, ""); r.status != http.StatusOK {
		t.Errorf("master: %d %s", r.status, r.body)
	}
	// A parameter the route does not take, unnamed.
	m := assertProblem(t, aplGet(t, citizenPath(ours, "/cv")+"?codice_fiscale=RSSMRA85T10A562S", op, ""), http.StatusBadRequest, "RSSMRA85T10A562S", "codice_fiscale")
	if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != "" {
		t.Errorf("errors %v", m["errors"])
	}
	assertProblem(t, aplGet(t, citizenPath(ours, "/cv"), token(t, "gepi"), ""), http.StatusForbidden)
}
