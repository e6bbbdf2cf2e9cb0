package test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/parquet-go/parquet-go"

	"github.com/rdc-interop/faas/shared/disclosure"
	"github.com/rdc-interop/faas/shared/files"
)

const exportFn = "anonymised-export"

type exportItem struct {
	IDExport       string  `json:"id_export"`
	Tipo           string  `json:"tipo"`
	Stato          string  `json:"stato"`
	Progresso      int64   `json:"progresso"`
	Righe          *int64  `json:"righe"`
	RigheSoppresse *int64  `json:"righe_soppresse"`
	K              *int    `json:"k"`
	ScaricatoIl    *string `json:"scaricato_il"`
	Modello        struct {
		K            int               `json:"k"`
		Soppressione float64           `json:"soppressione_massima"`
		L            int               `json:"l"`
		Nodo         map[string]string `json:"nodo"`
		Rispettato   bool              `json:"rispettato"`
		Persone      int64             `json:"persone"`
		Soppresse    int64             `json:"soppresse"`
		Perdita      struct {
			Valore float64 `json:"valore"`
		} `json:"perdita"`
		Rischio struct {
			Massimo float64 `json:"massimo"`
		} `json:"rischio"`
	} `json:"modello"`
}

func today() string { return time.Now().In(rome).Format(time.DateOnly) }

// daysAgo is a period's start n days back.
func daysAgo(n int) string { return time.Now().In(rome).AddDate(0, 0, -n).Format(time.DateOnly) }

// startExport asks for an export and returns its id.
func startExport(t *testing.T, tok, tipo, da, a string) string {
	t.Helper()
	return requestExport(t, tok, map[string]any{"tipo": tipo, "periodo": map[string]string{"da": da, "a": a}})
}

func requestExport(t *testing.T, tok string, body map[string]any) string {
	t.Helper()
	r := postJSON(t, h.URL(exportFn, ""), tok, body)
	if r.status != http.StatusAccepted {
		t.Fatalf("export request: status %d: %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/anonymised-export", "post", r)
	var acc struct {
		IDExport string `json:"id_export"`
		Stato    string `json:"stato"`
	}
	decodeInto(t, r, &acc)
	if acc.IDExport == "" || acc.Stato != "IN_CODA" {
		t.Fatalf("accepted %s", r.body)
	}
	return acc.IDExport
}

// waitExport polls until the job has ended.
func waitExport(t *testing.T, tok, id string) exportItem {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id), token: tok})
		if r.status != http.StatusOK {
			t.Fatalf("export %s: status %d: %s", id, r.status, r.body)
		}
		var it exportItem
		decodeInto(t, r, &it)
		if it.Stato != "IN_CODA" && it.Stato != "IN_CORSO" {
			return it
		}
		if time.Now().After(deadline) {
			t.Fatalf("export %s still %s", id, it.Stato)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// downloadExport downloads and reads the gzip CSV.
func downloadExport(t *testing.T, tok, id string) [][]string {
	t.Helper()
	r := downloadFile(t, tok, id, "application/gzip")
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func downloadFile(t *testing.T, tok, id, contentType string) reply {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id+"/download"), token: tok})
	if r.status != http.StatusOK {
		t.Fatalf("download: status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != contentType {
		t.Fatalf("download: Content-Type %q, want %q", ct, contentType)
	}
	return r
}

func readyExport(t *testing.T, client, tipo, da, a string) (string, string, exportItem) {
	t.Helper()
	tok := token(t, client)
	id := startExport(t, tok, tipo, da, a)
	it := waitExport(t, tok, id)
	if it.Stato != "PRONTO" {
		t.Fatalf("export ended %s", it.Stato)
	}
	return tok, id, it
}

var cfPattern = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-EHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)

func TestExportMicrodata(t *testing.T) {
	tok, id, it := readyExport(t, "mlps", "microdati", daysAgo(300), today())
	recs := downloadExport(t, tok, id)
	header, rows := recs[0], recs[1:]
	want := []string{"pseudonimo", "territorio", "sesso", "fascia_eta", "cittadinanza", "fascia_isee", "fascia_beneficio",
		"mese_presentazione", "stato_did", "patto_lavoro_attivo", "patto_inclusione_attivo", "trasferimenti_periodo"}
	if strings.Join(header, ",") != strings.Join(want, ",") {
		t.Fatalf("header %v", header)
	}
	if it.Righe == nil || int(*it.Righe) != len(rows) || it.K == nil || *it.K != 5 {
		t.Fatalf("listing says %v rows, k %v; the file has %d", it.Righe, it.K, len(rows))
	}
	// Everyone of the period is counted: released or suppressed. The
	// period's people are those of households whose benefit was active on
	// some day of it (docs/anonymisation.md#the-period).
	var persons int64
	if err := h.DB.QueryRow(context.Background(), `
		SELECT count(*) FROM componente m JOIN nucleo n ON n.id = m.nucleo_id
		WHERE n.data_decorrenza <= $2::date AND coalesce(n.data_cessazione, 'infinity') >= $1::date`, daysAgo(300), today()).Scan(&persons); err != nil {
		t.Fatal(err)
	}
	if *it.Righe+*it.RigheSoppresse != persons {
		t.Errorf("%d released + %d suppressed, %d persons", *it.Righe, *it.RigheSoppresse, persons)
	}
	if len(rows) == 0 {
		t.Fatal("nothing released")
	}
	t.Logf("%d persons: %d released, %d suppressed (k = 5)", persons, *it.Righe, *it.RigheSoppresse)

	// No direct identifier of the input is anywhere in the output.
	identifiers := map[string]bool{}
	q, err := h.DB.Query(context.Background(), `
		SELECT m.codice_fiscale, m.cf_canonico, m.cognome, m.nome, coalesce(m.email, ''), coalesce(m.telefono, ''),
		       n.indirizzo, n.protocollo_domanda, m.data_nascita::text
		FROM componente m JOIN nucleo n ON n.id = m.nucleo_id`)
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		v := make([]string, 9)
		if err := q.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]); err != nil {
			t.Fatal(err)
		}
		for _, s := range v {
			if s != "" {
				identifiers[s] = true
			}
		}
	}
	q.Close()
	for _, row := range rows {
		for _, f := range row {
			if identifiers[f] || cfPattern.MatchString(f) {
				t.Fatalf("the export holds a direct identifier")
			}
		}
	}
	// Each released row generalises its own person's data at the levels
	// the manifest names, computed here independently of the function.
	if it.Modello.K != 5 || len(it.Modello.Nodo) != 7 || !it.Modello.Rispettato {
		t.Fatalf("the listing's model: %+v", it.Modello)
	}
	checkGeneralisation(t, "MLPS", rows, it.Modello.Nodo)
	checkPrivacy(t, header, rows, 5, 0, nil)
	if float64(*it.RigheSoppresse) > 0.05*float64(persons) {
		t.Errorf("%d of %d withheld, over the 5%% budget", *it.RigheSoppresse, persons)
	}

	// Downloaded once: the file is gone, a second download is 410, a receipt is signed.
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id+"/download"), token: tok}), http.StatusGone)
	if _, _, err := exportStore(t).Open(context.Background(), "mlps/"+id+".csv.gz"); !errors.Is(err, files.ErrNotFound) {
		t.Errorf("the file is still in MinIO after its download (%v)", err)
	}
	r := do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id+"/receipt"), token: tok})
	if r.status != http.StatusOK {
		t.Fatalf("receipt: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/anonymised-export/exports/{id}/receipt", "get", r)
	conformsToOpenAPI(t, "/function/anonymised-export/exports/{id}", "get",
		do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id), token: tok}))
	conformsToOpenAPI(t, "/function/anonymised-export/exports", "get",
		do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports"), token: tok}))
	var rc struct {
		IDExport string `json:"id_export"`
		SHA256   string `json:"sha256"`
		Byte     int64  `json:"byte"`
		Righe    int64  `json:"righe"`
		Firma    string `json:"firma"`
	}
	decodeInto(t, r, &rc)
	parts := strings.Split(rc.Firma, ".")
	if len(parts) != 3 || rc.IDExport != id || rc.Righe != int64(len(rows)) || len(rc.SHA256) != 64 {
		t.Fatalf("receipt %s", r.body)
	}
	payload := verifyDocument(t, rc.Firma, "rdc-receipt+jws")
	var signed map[string]any
	if err := json.Unmarshal(payload, &signed); err != nil {
		t.Fatal(err)
	}
	if signed["id_export"] != id || signed["sha256"] != rc.SHA256 {
		t.Errorf("the signature covers %s", payload)
	}
	var audited int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = 'anonymised-export' AND outcome LIKE '%' || $1`, id).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited < 3 { // request, generation, download started, downloaded
		t.Errorf("%d audit records for the export", audited)
	}
}

// checkGeneralisation finds each row's person through the recipient's
// pseudonym key and checks its quasi-identifiers against the person's data
// generalised at the levels node names, with the levels' rules written out
// here, independently of the function's hierarchies.
func checkGeneralisation(t *testing.T, org string, rows [][]string, node map[string]string) {
	t.Helper()
	cfg := h.Config // the functions' own settings
	master, err := cfg.Secrets.Get("export-pseudonym-key", "EXPORT_PSEUDONYM_KEY")
	if err != nil {
		t.Fatal(err)
	}
	pseud, err := disclosure.NewPseudonymizer(disclosure.DeriveKey([]byte(master), org, 1))
	if err != nil {
		t.Fatal(err)
	}
	end, _ := time.Parse(time.DateOnly, today())
	eu := map[string]bool{}
	for _, c := range strings.Fields("AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL LVA LTU LUX MLT NLD POL PRT ROU SVK SVN ESP SWE") {
		eu[c] = true
	}
	nuts1 := map[string]string{}
	for area, regions := range map[string]string{"ITC": "01 02 03 07", "ITH": "04 05 06 08", "ITI": "09 10 11 12", "ITF": "13 14 15 16 17 18", "ITG": "19 20"} {
		for _, r := range strings.Fields(regions) {
			nuts1[r] = area
		}
	}
	band := func(v float64, limits []float64, labels []string) string {
		for i, l := range limits {
			if v < l {
				return labels[i]
			}
		}
		return labels[len(labels)-1]
	}
	span := func(age, width, open int) string {
		if age >= open {
			return fmt.Sprintf("%d+", open)
		}
		return fmt.Sprintf("%d-%d", age/width*width, age/width*width+width-1)
	}
	level := func(attr string, labels map[string]string) string {
		l, ok := labels[node[attr]]
		if !ok {
			t.Fatalf("%s at level %q: no such level", attr, node[attr])
		}
		return l
	}
	want := map[string][]string{} // pseudonym → territory, sex, age, citizenship, isee, benefit, month
	q, err := h.DB.Query(context.Background(), `
		SELECT m.cf_canonico, c.provincia, c.regione, m.sesso, m.data_nascita, m.cittadinanza, n.isee::float8, n.importo_beneficio::float8, n.data_presentazione
		FROM componente m JOIN nucleo n ON n.id = m.nucleo_id JOIN comune c ON c.codice_istat = n.comune_residenza`)
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var cf, prov, reg, sex, cit string
		var born, presented time.Time
		var isee, benefit float64
		if err := q.Scan(&cf, &prov, &reg, &sex, &born, &cit, &isee, &benefit, &presented); err != nil {
			t.Fatal(err)
		}
		age := end.Year() - born.Year()
		if end.Month() < born.Month() || end.Month() == born.Month() && end.Day() < born.Day() {
			age--
		}
		citizenship := "EXTRA_UE"
		if cit == "ITA" {
			citizenship = "IT"
		} else if eu[cit] {
			citizenship = "UE"
		}
		abroad := "ESTERO"
		if cit == "ITA" {
			abroad = "IT"
		}
		m := int(presented.Month())
		want[pseud.Of(cf)] = []string{
			level("territorio", map[string]string{"provincia": prov, "regione": "REGIONE-" + reg, "macroarea (NUTS 1)": nuts1[reg], "Italia": "ITALIA"}),
			level("sesso", map[string]string{"valore": sex, "tutti": "*"}),
			level("fascia_eta", map[string]string{"5 anni": span(age, 5, 75), "10 anni": span(age, 10, 70), "20 anni": span(age, 20, 60), "tutti": "*"}),
			level("cittadinanza", map[string]string{"IT/UE/EXTRA_UE": citizenship, "IT/ESTERO": abroad, "tutti": "*"}),
			level("fascia_isee", map[string]string{
				"fine":  band(isee, []float64{3000, 6000, 9360}, []string{"0-2999", "3000-5999", "6000-9359", "9360+"}),
				"ampia": band(isee, []float64{6000}, []string{"0-5999", "6000+"}), "tutti": "*"}),
			level("fascia_beneficio", map[string]string{
				"fine":  band(benefit, []float64{250, 500, 750, 1000}, []string{"0-249", "250-499", "500-749", "750-999", "1000+"}),
				"ampia": band(benefit, []float64{500}, []string{"0-499", "500+"}), "tutti": "*"}),
			level("mese_presentazione", map[string]string{"mese": presented.Format("2006-01"),
				"trimestre": fmt.Sprintf("%d-T%d", presented.Year(), (m+2)/3), "semestre": fmt.Sprintf("%d-S%d", presented.Year(), (m+5)/6),
				"anno": strconv.Itoa(presented.Year()), "tutti": "*"}),
		}
	}
	q.Close()
	for _, row := range rows {
		w, ok := want[row[0]]
		if !ok {
			t.Fatal("a row's pseudonym matches no person under the recipient's key")
		}
		if got := strings.Join(row[1:8], ","); got != strings.Join(w, ",") {
			t.Fatalf("quasi-identifiers %s, the person's data generalise to %s at %v", got, strings.Join(w, ","), node)
		}
	}
}

// checkPrivacy checks a released file against its model, knowing nothing
// of how it was made: every combination of the quasi-identifiers is shared
// by at least k rows, and, with l > 1, holds at least l distinct values of
// each sensitive column.
func checkPrivacy(t *testing.T, header []string, rows [][]string, k, l int, sensitive []string) {
	t.Helper()
	qi := []string{"territorio", "sesso", "fascia_eta", "cittadinanza", "fascia_isee", "fascia_beneficio", "mese_presentazione"}
	col := func(name string) int {
		i := slices.Index(header, name)
		if i < 0 {
			t.Fatalf("no column %s in %v", name, header)
		}
		return i
	}
	type class struct {
		n      int
		values []map[string]bool
	}
	classes := map[string]*class{}
	for _, row := range rows {
		key := make([]string, len(qi))
		for i, name := range qi {
			key[i] = row[col(name)]
		}
		c := classes[strings.Join(key, "|")]
		if c == nil {
			c = &class{}
			for range sensitive {
				c.values = append(c.values, map[string]bool{})
			}
			classes[strings.Join(key, "|")] = c
		}
		c.n++
		for i, name := range sensitive {
			c.values[i][row[col(name)]] = true
		}
	}
	for key, c := range classes {
		if c.n < k {
			t.Fatalf("class %s has %d rows, k = %d", key, c.n, k)
		}
		for i, name := range sensitive {
			if l > 1 && len(c.values[i]) < l {
				t.Fatalf("class %s has %d distinct %s, l = %d", key, len(c.values[i]), name, l)
			}
		}
	}
}

// verifyWithJWKS checks a JWS against the keys the token endpoint publishes
// and returns its payload.
func verifyWithJWKS(t *testing.T, compact string) []byte {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: h.URL("oauth-token", "/jwks")})
	var set jose.JSONWebKeySet
	decodeInto(t, r, &set)
	sig, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
	if err != nil {
		t.Fatalf("receipt signature: %v", err)
	}
	keys := set.Key(sig.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		t.Fatal("the receipt is signed by a key the JWKS does not publish")
	}
	payload, err := sig.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("receipt signature does not verify: %v", err)
	}
	return payload
}

// exportStore opens the exports bucket directly, for checks the API cannot make.
func exportStore(t *testing.T) *files.Store {
	t.Helper()
	cfg := h.Config // the functions' own settings
	s, err := files.Open(cfg, "exports")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pseudonyms(rows [][]string) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows[1:] {
		out[r[0]] = true
	}
	return out
}

func TestExportPseudonymsAndTerritory(t *testing.T) {
	tokM, idM1, _ := readyExport(t, "mlps", "microdati", daysAgo(300), today())
	_, idM2, _ := readyExport(t, "mlps", "microdati", daysAgo(300), daysAgo(1))
	tokR, idR, _ := readyExport(t, "regione-12", "microdati", daysAgo(300), today())
	m1, m2 := pseudonyms(downloadExport(t, tokM, idM1)), pseudonyms(downloadExport(t, tokM, idM2))
	rrows := downloadExport(t, tokR, idR)
	checkPrivacy(t, rrows[0], rrows[1:], 5, 0, nil)
	r := pseudonyms(rrows)
	same := 0
	for p := range m1 {
		if m2[p] {
			same++
		}
		if r[p] {
			t.Fatal("the Ministry and a Region share a pseudonym")
		}
	}
	if same < len(m1)/2 {
		t.Errorf("only %d of %d pseudonyms recur across two periods for one recipient", same, len(m1))
	}
	// Region 12 gets its own territory and nothing else.
	provinces := map[string]bool{"REGIONE-12": true}
	q, _ := h.DB.Query(context.Background(), `SELECT DISTINCT provincia FROM comune WHERE regione = '12'`)
	for q.Next() {
		var p string
		if err := q.Scan(&p); err != nil {
			t.Fatal(err)
		}
		provinces[p] = true
	}
	q.Close()
	for _, row := range rrows[1:] {
		if !provinces[row[1]] {
			t.Fatalf("Region 12's export holds territory %s", row[1])
		}
	}
}

func TestExportTenancy(t *testing.T) {
	_, id12, _ := readyExport(t, "regione-12", "aggregati", daysAgo(300), today())
	tok15 := token(t, "regione-15")
	for _, path := range []string{"/exports/" + id12, "/exports/" + id12 + "/download", "/exports/" + id12 + "/receipt"} {
		assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(exportFn, path), token: tok15}), http.StatusNotFound)
	}
	r := do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports"), token: tok15})
	if r.status != http.StatusOK || bytes.Contains(r.body, []byte(id12)) {
		t.Fatalf("Region 15's listing: %d, holds Region 12's export: %v", r.status, bytes.Contains(r.body, []byte(id12)))
	}
	r = do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports"), token: token(t, "regione-12")})
	if !bytes.Contains(r.body, []byte(id12)) {
		t.Fatal("Region 12 does not see its own export")
	}
	// GePI holds no export scope.
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports"), token: token(t, "gepi")}), http.StatusForbidden)
}

func TestExportAggregates(t *testing.T) {
	tok, id, _ := readyExport(t, "mlps", "aggregati", daysAgo(300), today())
	recs := downloadExport(t, tok, id)
	if strings.Join(recs[0], ",") != "territorio,sesso,fascia_eta,stato_did,patto_lavoro,persone" {
		t.Fatalf("header %v", recs[0])
	}
	type line struct{ hidden int }
	rows := map[string]*line{}  // territorio|sesso|eta
	cols := map[string]*line{}  // did|patto
	totals := map[string]bool{} // lines whose total is published
	for _, r := range recs[1:] {
		v := r[5]
		if v != "x" {
			if n, _ := json.Number(v).Int64(); n > 0 && n < 3 {
				t.Fatalf("published a count of %d", n)
			}
		}
		rk, ck := r[0]+"|"+r[1]+"|"+r[2], r[3]+"|"+r[4]
		switch {
		case r[3] == "TOTALE":
			totals["r:"+rk] = v != "x"
		case r[0] == "TOTALE":
			totals["c:"+ck] = v != "x"
		default:
			if rows[rk] == nil {
				rows[rk] = &line{}
			}
			if cols[ck] == nil {
				cols[ck] = &line{}
			}
			if v == "x" {
				rows[rk].hidden++
				cols[ck].hidden++
			}
		}
	}
	for k, l := range rows {
		if totals["r:"+k] && l.hidden == 1 {
			t.Fatalf("row %s: one withheld cell beside its published total", k)
		}
	}
	for k, l := range cols {
		if totals["c:"+k] && l.hidden == 1 {
			t.Fatalf("column %s: one withheld cell beside its published total", k)
		}
	}
}

func TestExportErrors(t *testing.T) {
	tok := token(t, "regione-15")
	url := h.URL(exportFn, "")
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"bad tipo", map[string]any{"tipo": "tutto", "periodo": map[string]string{"da": "2024-01-01", "a": "2024-01-31"}}, "tipo"},
		{"no periodo", map[string]any{"tipo": "microdati"}, "periodo"},
		{"a before da", map[string]any{"tipo": "microdati", "periodo": map[string]string{"da": "2024-02-01", "a": "2024-01-31"}}, "periodo.a"},
		{"future", map[string]any{"tipo": "microdati", "periodo": map[string]string{"da": "2024-02-01", "a": "2999-01-31"}}, "periodo.a"},
		{"territory in the body", map[string]any{"tipo": "microdati", "regione": "12", "periodo": map[string]string{"da": "2024-02-01", "a": "2024-03-01"}}, ""}, // not named
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := assertProblem(t, postJSON(t, url, tok, c.body), http.StatusBadRequest)
			if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
				t.Errorf("errors %v, want field %s", m["errors"], c.field)
			}
		})
	}
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/00000000-0000-0000-0000-000000000000"), token: tok}), http.StatusNotFound)

	// One job per recipient, kind and period at a time.
	_, err := h.DB.Exec(context.Background(), `
		INSERT INTO export (id, org, client_id, tipo, da, a, stato) VALUES (gen_random_uuid(), 'REGIONE:15', 'x', 'microdati', '2023-01-01', '2023-01-31', 'IN_CORSO')`)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"tipo": "microdati", "periodo": map[string]string{"da": "2023-01-01", "a": "2023-01-31"}}
	assertProblem(t, postJSON(t, url, tok, body), http.StatusConflict)

	// The same Idempotency-Key answers the first request again.
	b, _ := json.Marshal(map[string]any{"tipo": "aggregati", "periodo": map[string]string{"da": "2023-01-01", "a": "2023-01-31"}})
	key := map[string]string{"Idempotency-Key": "exp-" + randomHex(6)}
	first := do(t, call{url: url, token: tok, contentType: "application/json", body: b, header: key})
	again := do(t, call{url: url, token: tok, contentType: "application/json", body: b, header: key})
	if first.status != http.StatusAccepted || again.status != http.StatusOK ||
		first.json(t)["id_export"] != again.json(t)["id_export"] {
		t.Fatalf("first %d %s, again %d %s", first.status, first.body, again.status, again.body)
	}
}

// TestExportAllowedAddresses: a client with registered addresses downloads
// only from them (docs/domain.md#secure-bulk-transfer-and-visibility).
func TestExportAllowedAddresses(t *testing.T) {
	tok, id, _ := readyExport(t, "regione-15", "aggregati", daysAgo(30), today())
	set := func(cidrs string) {
		if _, err := h.DB.Exec(context.Background(), `UPDATE oauth_client SET allowed_cidrs = $1::cidr[] WHERE client_id = 'regione-15'`, cidrs); err != nil {
			t.Fatal(err)
		}
	}
	defer set("{}")
	// A registration's change reaches the functions by a notice: wait for
	// it on a harmless call before trying the download.
	status := func() int {
		return do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id), token: tok}).status
	}
	set("{10.0.0.0/8}")
	eventually(t, 30*time.Second, "the new addresses applied", func() bool { return status() == http.StatusForbidden })
	url := h.URL(exportFn, "/exports/"+id+"/download")
	assertProblem(t, do(t, call{method: http.MethodGet, url: url, token: tok}), http.StatusForbidden)
	// Every call of the client is refused from there now, so the state is read directly.
	var stato string
	if err := h.DB.QueryRow(context.Background(), `SELECT stato FROM export WHERE id = $1`, id).Scan(&stato); err != nil || stato != "PRONTO" {
		t.Fatalf("a refused download changed the export: %s (%v)", stato, err)
	}
	set("{127.0.0.0/8, 10.0.0.0/8}")
	eventually(t, 30*time.Second, "the new addresses applied", func() bool { return status() == http.StatusOK })
	if r := do(t, call{method: http.MethodGet, url: url, token: tok}); r.status != http.StatusOK {
		t.Fatalf("from an allowed address: %d %s", r.status, r.body)
	}
}

func TestExportSurvivesMinIOOutage(t *testing.T) {
	if h.MinIO == nil {
		t.Fatal("the harness has no MinIO")
	}
	tok := token(t, "regione-15")
	h.MinIO.Cut()
	defer h.MinIO.Restore()
	id := startExport(t, tok, "microdati", daysAgo(300), today())
	it := waitExport(t, tok, id)
	h.MinIO.Restore()
	if it.Stato != "FALLITO" {
		t.Fatalf("with MinIO down the job ended %s", it.Stato)
	}
	if _, _, err := exportStore(t).Open(context.Background(), "regione-15/"+id+".csv.gz"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("a failed job left an object (%v)", err)
	}
	// Asked again, it is made.
	id2 := startExport(t, tok, "microdati", daysAgo(300), today())
	if it := waitExport(t, tok, id2); it.Stato != "PRONTO" {
		t.Fatalf("after MinIO came back the job ended %s", it.Stato)
	}
}

// TestExportStopsMidRun: PostgreSQL or MinIO stopping while a job runs
// fails the job, leaves no object, and the same export succeeds when asked
// again once the service is back.
func TestExportStopsMidRun(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		// The job counts its classes, then blocks on a table its last query
		// reads, held here; the database stops while it waits.
		ctx := context.Background()
		lock, err := h.DB.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Rollback(ctx)
		if _, err := lock.Exec(ctx, `LOCK TABLE trasferimento IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		tok := token(t, "mlps")
		id := startExport(t, tok, "microdati", daysAgo(320), daysAgo(1))
		eventually(t, 30*time.Second, "the job to wait on the lock mid-run", func() bool {
			var waiting bool
			if err := h.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ultimo_did%')`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			return waiting
		})
		h.Postgres.Cut()
		defer h.Postgres.Restore()
		lock.Rollback(ctx)
		time.Sleep(300 * time.Millisecond)
		h.Postgres.Restore()
		failedThenRetried(t, tok, id, "database unavailable")
	})
	t.Run("minio", func(t *testing.T) {
		// The upload starts once the file is written: the storage stops in
		// the middle of the request, and stays down until the job has given
		// up, beyond the client's own retries.
		tok := token(t, "mlps")
		id := startExport(t, tok, "microdati", daysAgo(320), daysAgo(1))
		defer h.MinIO.Restore()
		select {
		case <-h.MinIO.CutAfter(1 << 10):
		case <-time.After(30 * time.Second):
			t.Fatal("MinIO was never stopped: the job sent it less than 1 KiB")
		}
		it := waitExport(t, tok, id)
		h.MinIO.Restore()
		if it.Stato != "FALLITO" {
			t.Fatalf("with MinIO stopped mid-run the job ended %s", it.Stato)
		}
		failedThenRetried(t, tok, id, "file storage unavailable")
	})
}

// TestExportJobsWait: a replica runs EXPORT_MAX_JOBS jobs at once (1 in the
// tests); the next one waits, queued, and runs when a slot frees.
func TestExportJobsWait(t *testing.T) {
	ctx := context.Background()
	lock, err := h.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `LOCK TABLE trasferimento IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	mlps, region := token(t, "mlps"), token(t, "regione-12")
	first := startExport(t, mlps, "microdati", daysAgo(330), daysAgo(2))
	eventually(t, 30*time.Second, "the first job to hold its slot", func() bool {
		var waiting bool
		if err := h.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ultimo_did%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		return waiting
	})
	second := startExport(t, region, "aggregati", daysAgo(330), daysAgo(2))
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		if st := exportState(t, region, second); st != "IN_CODA" {
			t.Fatalf("with the only slot taken, the second job is %s", st)
		}
	}
	lock.Rollback(ctx)
	if it := waitExport(t, mlps, first); it.Stato != "PRONTO" {
		t.Fatalf("first job: %s", it.Stato)
	}
	if it := waitExport(t, region, second); it.Stato != "PRONTO" {
		t.Fatalf("second job: %s", it.Stato)
	}
}

// exportState reads a job's state once.
func exportState(t *testing.T, tok, id string) string {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id), token: tok})
	var it exportItem
	decodeInto(t, r, &it)
	return it.Stato
}

// failedThenRetried checks a job failed for why, left no object, and that
// the same export, asked again, is made.
func failedThenRetried(t *testing.T, tok, id, why string) {
	t.Helper()
	it := waitExport(t, tok, id)
	if it.Stato != "FALLITO" {
		t.Fatalf("the job ended %s", it.Stato)
	}
	var errore string
	var da, a time.Time
	if err := h.DB.QueryRow(context.Background(), `SELECT errore, da, a FROM export WHERE id = $1`, id).Scan(&errore, &da, &a); err != nil {
		t.Fatal(err)
	}
	if errore != why {
		t.Errorf("the job failed with %q, want %q", errore, why)
	}
	if _, _, err := exportStore(t).Open(context.Background(), "mlps/"+id+".csv.gz"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("a failed job left an object (%v)", err)
	}
	again := startExport(t, tok, "microdati", da.Format(time.DateOnly), a.Format(time.DateOnly))
	if it := waitExport(t, tok, again); it.Stato != "PRONTO" {
		t.Fatalf("asked again once the service was back, the job ended %s", it.Stato)
	}
}

// TestExportParquet: an export asked as Parquet holds the same rows as the
// gzip CSV of the same period, typed, with the data dictionary in the file's
// metadata; a withheld aggregate cell is a null where the CSV has x.
func TestExportParquet(t *testing.T) {
	for _, tipo := range []string{"microdati", "aggregati"} {
		t.Run(tipo, func(t *testing.T) {
			tok := token(t, "regione-12")
			da, a := daysAgo(250), daysAgo(3)
			csvID := startExport(t, tok, tipo, da, a)
			if it := waitExport(t, tok, csvID); it.Stato != "PRONTO" {
				t.Fatalf("CSV export ended %s", it.Stato)
			}
			want := downloadExport(t, tok, csvID)
			pqID := requestExport(t, tok, map[string]any{"tipo": tipo, "periodo": map[string]string{"da": da, "a": a}, "formato": "parquet"})
			it := waitExport(t, tok, pqID)
			if it.Stato != "PRONTO" {
				t.Fatalf("Parquet export ended %s", it.Stato)
			}
			r := downloadFile(t, tok, pqID, "application/vnd.apache.parquet")
			if cd := r.header.Get("Content-Disposition"); !strings.Contains(cd, pqID+".parquet") {
				t.Errorf("Content-Disposition %q", cd)
			}
			got, dictionary := readParquet(t, r.body, want[0])
			if tipo == "microdati" {
				checkPrivacy(t, want[0], got, 5, 0, nil)
			}
			if names := dictionaryNames(t, dictionary); strings.Join(names, ",") != strings.Join(want[0], ",") {
				t.Errorf("the file's dictionary names %v, the CSV header is %v", names, want[0])
			}
			if it.Righe == nil || (tipo == "microdati" && int(*it.Righe) != len(got)) {
				t.Errorf("the listing says %v rows, the file has %d", it.Righe, len(got))
			}
			sortRows(got)
			sortRows(want[1:])
			if len(got) != len(want)-1 {
				t.Fatalf("Parquet has %d rows, CSV %d", len(got), len(want)-1)
			}
			for i := range got {
				if strings.Join(got[i], ",") != strings.Join(want[i+1], ",") {
					t.Fatalf("row %d: Parquet %v, CSV %v", i, got[i], want[i+1])
				}
			}
		})
	}
}

// readParquet reads a Parquet file as CSV-like rows in the order of columns
// (a null as x, as the CSV writes a withheld cell), and its dictionary.
func readParquet(t *testing.T, body []byte, columns []string) ([][]string, string) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a Parquet file: %v", err)
	}
	index := map[string]int{}
	for i, path := range f.Schema().Columns() {
		index[strings.Join(path, ".")] = i
	}
	at := make([]int, len(columns))
	for i, c := range columns {
		j, ok := index[c]
		if !ok {
			t.Fatalf("Parquet has no column %s (has %v)", c, f.Schema().Columns())
		}
		at[i] = j
	}
	rd := parquet.NewReader(f)
	defer rd.Close()
	var out [][]string
	buf := make([]parquet.Row, 256)
	for {
		n, err := rd.ReadRows(buf)
		for _, row := range buf[:n] {
			rec := make([]string, len(columns))
			for i, j := range at {
				rec[i] = parquetText(row[j])
			}
			out = append(out, rec)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if int64(len(out)) != f.NumRows() {
		t.Fatalf("read %d of %d rows", len(out), f.NumRows())
	}
	dictionary, ok := f.Lookup("dizionario")
	if !ok {
		t.Fatal("the Parquet file carries no data dictionary")
	}
	return out, dictionary
}

func parquetText(v parquet.Value) string {
	switch {
	case v.IsNull():
		return "x"
	case v.Kind() == parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case v.Kind() == parquet.Int32:
		return strconv.Itoa(int(v.Int32()))
	case v.Kind() == parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	}
	return string(v.ByteArray())
}

func dictionaryNames(t *testing.T, dictionary string) []string {
	t.Helper()
	var cols []struct {
		Nome        string `json:"nome"`
		Descrizione string `json:"descrizione"`
	}
	if err := json.Unmarshal([]byte(dictionary), &cols); err != nil {
		t.Fatalf("dictionary: %v", err)
	}
	var names []string
	for _, c := range cols {
		if c.Descrizione == "" {
			t.Errorf("column %s is not described", c.Nome)
		}
		names = append(names, c.Nome)
	}
	return names
}

func sortRows(rows [][]string) {
	slices.SortFunc(rows, slices.Compare)
}

func TestExportScheduled(t *testing.T) {
	r := fireScheduled(t, exportFn)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var first map[string]int
	decodeInto(t, r, &first)
	if first["avviati"] != 2*3 { // mlps and two regions, both kinds
		t.Errorf("first run started %d exports", first["avviati"])
	}
	r = fireScheduled(t, exportFn)
	var second map[string]int
	decodeInto(t, r, &second)
	if second["avviati"] != 0 {
		t.Errorf("a second run for the same month started %d more", second["avviati"])
	}
	// A month's export that failed, or whose replica stopped (silent for
	// minutes), is made by the next run; the others are not.
	ctx := context.Background()
	tag, err := h.DB.Exec(ctx, `
		UPDATE export SET stato = CASE WHEN org = 'MLPS' THEN 'FALLITO' ELSE 'IN_CORSO' END, aggiornato_il = now() - interval '1 hour'
		WHERE client_id = '-' AND tipo = 'aggregati' AND org IN ('MLPS', 'REGIONE:12')`)
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("set up: %v, %d rows", err, tag.RowsAffected())
	}
	r = fireScheduled(t, exportFn)
	var third map[string]int
	decodeInto(t, r, &third)
	if third["avviati"] != 2 {
		t.Errorf("after one failure and one stopped job, the next run started %d", third["avviati"])
	}
}

// TestExportExpires: an export not downloaded in time is removed by the
// scheduled run, and its download is 410.
func TestExportExpires(t *testing.T) {
	tok, id, _ := readyExport(t, "regione-12", "aggregati", daysAgo(60), daysAgo(40))
	if _, err := h.DB.Exec(context.Background(), `UPDATE export SET scade_il = now() - interval '1 minute' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if r := fireScheduled(t, exportFn); r.status != http.StatusOK {
		t.Fatalf("scheduled run: %d %s", r.status, r.body)
	}
	if it := waitExport(t, tok, id); it.Stato != "SCADUTO" {
		t.Fatalf("after its expiry the export is %s", it.Stato)
	}
	assertProblem(t, do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id+"/download"), token: tok}), http.StatusGone)
	if _, _, err := exportStore(t).Open(context.Background(), "regione-12/"+id+".csv.gz"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("the expired file is still in MinIO (%v)", err)
	}
}

// TestExportKeyRotation: a new key version for a recipient starts a series
// of pseudonyms that cannot be linked to the earlier one.
func TestExportKeyRotation(t *testing.T) {
	tok, before, _ := readyExport(t, "regione-15", "microdati", daysAgo(200), daysAgo(2))
	old := pseudonyms(downloadExport(t, tok, before))
	if _, err := h.DB.Exec(context.Background(), `
		INSERT INTO export_destinatario (org, versione_chiave) VALUES ('REGIONE:15', 2)
		ON CONFLICT (org) DO UPDATE SET versione_chiave = export_destinatario.versione_chiave + 1`); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := h.DB.Exec(context.Background(), `DELETE FROM export_destinatario WHERE org = 'REGIONE:15'`); err != nil {
			t.Error(err)
		}
	}()
	_, after, _ := readyExport(t, "regione-15", "microdati", daysAgo(200), daysAgo(2))
	renewed := pseudonyms(downloadExport(t, tok, after))
	if len(old) == 0 || len(renewed) == 0 {
		t.Fatalf("nothing released to compare (%d, %d)", len(old), len(renewed))
	}
	for p := range renewed {
		if old[p] {
			t.Fatal("a pseudonym survived the key rotation")
		}
	}
}
