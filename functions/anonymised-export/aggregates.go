package function

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/disclosure"
)

var aggregateColumns = []column{
	{"territorio", "region (for MLPS) or province (for a Region); TOTALE in the column totals"},
	{"sesso", "M or F; TOTALE in the column totals"},
	{"fascia_eta", "age at the end of the period, in 5-year bands, 75+ open; TOTALE in the column totals"},
	{"stato_did", "state of the latest DID by the end of the period, or NESSUNA; TOTALE in the row totals"},
	{"patto_lavoro", "ATTIVO or NON_ATTIVO at the end of the period; TOTALE in the row totals"},
	{"persone", "people counted; where withheld, x in CSV and null in Parquet: below 3 (threshold rule), or so that a withheld cell cannot be recomputed from its row or column total"},
}

// aggregatesSQL counts the period's people by territory, sex, age band, DID
// state and pact status; the Ministry sees regions, a Region its provinces.
const aggregatesSQL = `
WITH ` + factsSQL + `
SELECT CASE WHEN @region = '' THEN 'REGIONE-' || c.regione ELSE c.provincia END, m.sesso, ` + ageCodeSQL + `,
       coalesce(d.nome, 'NESSUNA'), CASE WHEN l.componente_id IS NOT NULL THEN 'ATTIVO' ELSE 'NON_ATTIVO' END, count(*)` +
	populationSQL + `
LEFT JOIN ultimo_did d ON d.componente_id = m.id
LEFT JOIN patto_lavoro l ON l.componente_id = m.id` + inPeriodSQL + `
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5`

// didStates are the table's columns, in a fixed order, with every
// combination present (a zero is published as 0).
var didStates = []string{"INSERITA", "CONVALIDATA", "SOSPESA", "REVOCATA", "ANNULLATA", "NON_AMMESSA", "NESSUNA"}
var pactStates = []string{"ATTIVO", "NON_ATTIVO"}

// aggregates writes the period's table in format, after the threshold
// rule and secondary suppression. A table has a few thousand rows at most
// (territories × sexes × age bands), so it is built in memory.
func (x *exporter) aggregates(ctx context.Context, w io.Writer, format string, j job, rc recipient, progress *atomic.Int64) (stats, error) {
	var st stats
	rows, err := x.db.Query(ctx, aggregatesSQL, pgx.NamedArgs{"da": j.da.Time(), "a": j.a.Time(), "region": rc.region})
	if err != nil {
		return st, fmt.Errorf("query aggregates: %w", err)
	}
	defer rows.Close()
	var t disclosure.Table
	for _, d := range didStates {
		for _, p := range pactStates {
			t.Cols = append(t.Cols, d+"|"+p)
		}
	}
	colOf := map[string]int{}
	for i, c := range t.Cols {
		colOf[c] = i
	}
	rowOf := map[string]int{}
	type key struct{ terr, sesso, eta string }
	var keys []key
	for rows.Next() {
		var k key
		var did, pact string
		var n, age int
		if err := rows.Scan(&k.terr, &k.sesso, &age, &did, &pact, &n); err != nil {
			return st, fmt.Errorf("read aggregates: %w", err)
		}
		if age < 0 || age >= len(ageBands) {
			return st, fmt.Errorf("aggregates: age code %d out of range", age)
		}
		k.eta = ageBands[age]
		st.Read += int64(n)
		progress.Store(st.Read)
		rk := k.terr + "|" + k.sesso + "|" + k.eta
		i, ok := rowOf[rk]
		if !ok {
			i = len(t.Rows)
			rowOf[rk] = i
			t.Rows = append(t.Rows, rk)
			t.Cells = append(t.Cells, make([]int, len(t.Cols)))
			keys = append(keys, k)
		}
		c, ok := colOf[did+"|"+pact]
		if !ok {
			return st, fmt.Errorf("aggregates: unknown DID state %q", did)
		}
		t.Cells[i][c] = n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("read aggregates: %w", err)
	}
	if len(t.Rows) == 0 {
		t.Cells = nil
	}
	rel := disclosure.Suppress(t)

	out, err := newTable[aggRow](format, w, aggregateColumns)
	if err != nil {
		return st, err
	}
	cell := func(terr, sesso, eta, did, pact string, v int, hidden bool) error {
		r := aggRow{Territorio: terr, Sesso: sesso, FasciaEta: eta, StatoDID: did, PattoLavoro: pact}
		if hidden {
			st.Suppressed++
		} else {
			st.Released++
			n := int64(v)
			r.Persone = &n
		}
		return out.Write(r)
	}
	for i, k := range keys {
		for c := range t.Cols {
			did, pact := didStates[c/len(pactStates)], pactStates[c%len(pactStates)]
			if err := cell(k.terr, k.sesso, k.eta, did, pact, t.Cells[i][c], rel.Hidden[i][c]); err != nil {
				return st, err
			}
		}
		if err := cell(k.terr, k.sesso, k.eta, "TOTALE", "TOTALE", rel.RowTotal[i], rel.RowTotalHide[i]); err != nil {
			return st, err
		}
	}
	for c := range t.Cols {
		did, pact := didStates[c/len(pactStates)], pactStates[c%len(pactStates)]
		if err := cell("TOTALE", "TOTALE", "TOTALE", did, pact, rel.ColTotal[c], rel.ColTotalHide[c]); err != nil {
			return st, err
		}
	}
	return st, out.Close()
}

// aggRow is one published cell; Persone is null (x in CSV) when withheld.
type aggRow struct {
	Territorio  string `parquet:"territorio,dict"`
	Sesso       string `parquet:"sesso,dict"`
	FasciaEta   string `parquet:"fascia_eta,dict"`
	StatoDID    string `parquet:"stato_did,dict"`
	PattoLavoro string `parquet:"patto_lavoro,dict"`
	Persone     *int64 `parquet:"persone,optional"`
}

func (r aggRow) fields(dst []string) []string {
	n := "x"
	if r.Persone != nil {
		n = strconv.FormatInt(*r.Persone, 10)
	}
	return append(dst, r.Territorio, r.Sesso, r.FasciaEta, r.StatoDID, r.PattoLavoro, n)
}
