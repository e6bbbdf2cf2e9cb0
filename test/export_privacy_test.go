package test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestExportPrivacyModel: a request's own k, budget and ℓ-diversity are
// frozen with the export, met by the file (checked independently) and
// recorded in the listing and the signed receipt.
func TestExportPrivacyModel(t *testing.T) {
	tok := token(t, "mlps")
	id := requestExport(t, tok, map[string]any{"tipo": "microdati", "periodo": map[string]string{"da": daysAgo(300), "a": today()},
		"k": 6, "soppressione_massima": 0.1, "l_diversita": map[string]any{"l": 2, "attributi": []string{"stato_did", "patto_lavoro_attivo"}}})
	it := waitExport(t, tok, id)
	if it.Stato != "PRONTO" {
		t.Fatalf("export ended %s", it.Stato)
	}
	m := it.Modello
	if m.K != 6 || m.Soppressione != 0.1 || m.L != 2 || !m.Rispettato || m.Rischio.Massimo > 1.0/6+1e-6 {
		t.Fatalf("the listing's model %+v", m)
	}
	recs := downloadExport(t, tok, id)
	header, rows := recs[0], recs[1:]
	checkPrivacy(t, header, rows, 6, 2, []string{"stato_did", "patto_lavoro_attivo"})
	checkGeneralisation(t, "MLPS", rows, m.Nodo)
	if int64(len(rows))+m.Soppresse != m.Persone || float64(m.Soppresse) > 0.1*float64(m.Persone) {
		t.Errorf("%d released, %d withheld of %d people, budget 10%%", len(rows), m.Soppresse, m.Persone)
	}
	// The receipt signs the same model.
	r := do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id+"/receipt"), token: tok})
	var rc struct {
		Firma string `json:"firma"`
	}
	decodeInto(t, r, &rc)
	var signed struct {
		Modello struct {
			K    int               `json:"k"`
			L    int               `json:"l"`
			Nodo map[string]string `json:"nodo"`
		} `json:"modello"`
	}
	if err := json.Unmarshal(verifyDocument(t, rc.Firma, "rdc-receipt+jws"), &signed); err != nil {
		t.Fatal(err)
	}
	if signed.Modello.K != 6 || signed.Modello.L != 2 || !maps.Equal(signed.Modello.Nodo, m.Nodo) {
		t.Errorf("the receipt signs %+v, the listing says %+v", signed.Modello, m)
	}
}

// TestExportPrivacyBadInput: a model no release may use is a 400 naming
// the field, and no export is recorded.
func TestExportPrivacyBadInput(t *testing.T) {
	tok := token(t, "regione-15")
	if _, err := h.DB.Exec(context.Background(), `
		INSERT INTO export_destinatario (org, k) VALUES ('REGIONE:15', 6) ON CONFLICT (org) DO UPDATE SET k = 6`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := h.DB.Exec(context.Background(), `UPDATE export_destinatario SET k = 5 WHERE org = 'REGIONE:15'`); err != nil {
			t.Errorf("restore Region 15's k: %v", err)
		}
	})
	period := map[string]string{"da": "2022-01-01", "a": "2022-12-31"}
	cases := []struct {
		name  string
		extra map[string]any
		field string
	}{
		{"k below 3", map[string]any{"k": 2}, "k"},
		{"k below the recipient's", map[string]any{"k": 5}, "k"},
		{"negative budget", map[string]any{"soppressione_massima": -0.01}, "soppressione_massima"},
		{"budget over 20%", map[string]any{"soppressione_massima": 0.21}, "soppressione_massima"},
		{"l of 1", map[string]any{"l_diversita": map[string]any{"l": 1, "attributi": []string{"stato_did"}}}, "l_diversita.l"},
		{"no attribute", map[string]any{"l_diversita": map[string]any{"l": 2, "attributi": []string{}}}, "l_diversita.attributi"},
		{"unknown attribute", map[string]any{"l_diversita": map[string]any{"l": 2, "attributi": []string{"reddito"}}}, "l_diversita.attributi"},
		{"l beyond a yes/no attribute", map[string]any{"l_diversita": map[string]any{"l": 3, "attributi": []string{"patto_lavoro_attivo"}}}, "l_diversita.l"},
		{"model for aggregates", map[string]any{"tipo": "aggregati", "k": 7}, "k"},
	}
	count := func() int {
		var n int
		if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM export WHERE org = 'REGIONE:15'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"tipo": "microdati", "periodo": period}
			maps.Copy(body, c.extra)
			m := assertProblem(t, postJSON(t, h.URL(exportFn, ""), tok, body), http.StatusBadRequest)
			errs, _ := m["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
				t.Errorf("errors %v, want field %s", m["errors"], c.field)
			}
		})
	}
	if after := count(); after != before {
		t.Errorf("%d exports recorded by refused requests", after-before)
	}
}

// TestExportPeriod: the period's people are those of households whose
// benefit was active on some day of it, fed here through INPS's feed on
// both sides of each edge of March 2019 (before the synthetic data).
func TestExportPeriod(t *testing.T) {
	type household struct {
		name        string
		state       string
		from, until any // the benefit's first and last day
		in          bool
	}
	households := []household{
		{"starts on the period's last day", "ACCOLTA", "2019-03-31", "2019-06-30", true},
		{"starts the day after", "ACCOLTA", "2019-04-01", "2019-06-30", false},
		{"ceases on the period's first day", "TERMINATA", "2018-06-01", "2019-03-01", true},
		{"ceased the day before", "DECADUTA", "2018-06-01", "2019-02-28", false},
		{"suspended within it", "SOSPESA", "2019-01-01", "2019-05-31", true},
		{"never granted", "IN_ISTRUTTORIA", nil, nil, false},
	}
	at := time.Now()
	var records []map[string]any
	want := 0
	for _, hh := range households {
		protocol := "INPS-T-" + uuid.NewString()
		code := newPerson(t) // one member each: the period's people stay fewer than k
		records = append(records, rec("componente", code, at, 0, memberData(protocol, code)))
		d := nucleoData()
		d["stato_domanda"], d["data_presentazione"], d["data_decorrenza"], d["data_cessazione"] = hh.state, "2018-05-02", hh.from, hh.until
		records = append(records, rec("nucleo", protocol, at, 0, d))
		if hh.in {
			want++
		}
	}
	if a := feed(t, "inps", records...); a.Scartati != 0 {
		t.Fatalf("households: %+v", a)
	}
	// An end before the start is refused.
	d := nucleoData()
	d["data_decorrenza"], d["data_cessazione"] = "2019-03-01", "2019-02-01"
	if a := feed(t, "inps", rec("nucleo", "INPS-T-"+uuid.NewString(), at, 0, d)); a.Scartati != 1 {
		t.Errorf("an end before the start: %+v", a)
	}

	if _, _, agg := readyExport(t, "mlps", "aggregati", "2019-03-01", "2019-03-31"); agg.Progresso != int64(want) {
		t.Errorf("aggregates of March 2019 counted %d people, want %d", agg.Progresso, want)
	}
	// Fewer people than k: no node meets the model; the file is released
	// empty with its manifest, never with a class below k.
	tok, micro, it := readyExport(t, "mlps", "microdati", "2019-03-01", "2019-03-31")
	recs := downloadExport(t, tok, micro)
	if len(recs) != 1 || it.Modello.Rispettato || it.Modello.Persone != int64(want) || *it.RigheSoppresse != int64(want) {
		t.Errorf("microdata of %d people at k = 5: %d rows, model %+v", want, len(recs)-1, it.Modello)
	}
	// A period with nobody: an empty file and its manifest.
	_, none, it := readyExport(t, "mlps", "microdati", "2012-01-01", "2012-12-31")
	if recs := downloadExport(t, tok, none); len(recs) != 1 || it.Modello.Persone != 0 {
		t.Errorf("a period with nobody: %d rows, model %+v", len(recs)-1, it.Modello)
	}
}

// TestExportNestedTables: a Region's table and the Ministry's for the same
// period add up where both publish, and no withheld province cell is the
// only one withheld under a published regional cell, a subtraction across
// the two files would give it. (The full proof, solving every margin of
// both tables, is shared/disclosure's TestProtectNestedProperty.)
func TestExportNestedTables(t *testing.T) {
	da, a := daysAgo(200), today()
	tokM, nat, _ := readyExport(t, "mlps", "aggregati", da, a)
	tokR, reg, _ := readyExport(t, "regione-12", "aggregati", da, a)
	national := downloadExport(t, tokM, nat)
	regional := downloadExport(t, tokR, reg)
	type sum struct{ total, hidden, rows int }
	byRegion := map[string]*sum{} // sesso|eta|did|patto over Region 12's provinces
	for _, r := range regional[1:] {
		if r[0] == "TOTALE" {
			continue
		}
		k := strings.Join(r[1:5], "|")
		if byRegion[k] == nil {
			byRegion[k] = &sum{}
		}
		s := byRegion[k]
		s.rows++
		if r[5] == "x" {
			s.hidden++
		} else {
			n, _ := strconv.Atoi(r[5])
			s.total += n
		}
	}
	checked := 0
	for _, r := range national[1:] {
		if r[0] != "REGIONE-12" || r[5] == "x" {
			continue
		}
		s := byRegion[strings.Join(r[1:5], "|")]
		if s == nil {
			t.Fatalf("the national row %v has no regional rows", r)
		}
		n, _ := strconv.Atoi(r[5])
		switch {
		case s.hidden == 0 && s.total != n:
			t.Fatalf("%v: the provinces add up to %d", r, s.total)
		case s.hidden == 1:
			t.Fatalf("%v: one withheld province cell, recomputable as %d", r, n-s.total)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no national cell of Region 12 published")
	}
}
