package function

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
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

// aggregatesSQL counts the period's people of all Italy by province, sex,
// age band, DID state and pact status. A Region's table and the Ministry's
// are both slices of these counts, protected together (ProtectNested), so
// whatever a Region's export is asked, the whole country is counted.
const aggregatesSQL = `
WITH ` + factsSQL + `
SELECT c.provincia, m.sesso = 'F', ` + ageCodeSQL + `,
       coalesce(d.nome, 'NESSUNA'), l.componente_id IS NOT NULL, count(*)` +
	populationSQL + `
LEFT JOIN ultimo_did d ON d.componente_id = m.id
LEFT JOIN patto_lavoro l ON l.componente_id = m.id` + inPeriodSQL + `
GROUP BY 1, 2, 3, 4, 5`

// didStates are the table's columns, in a fixed order, with every
// combination present (a zero is published as 0).
var didStates = []string{"INSERITA", "CONVALIDATA", "SOSPESA", "REVOCATA", "ANNULLATA", "NON_AMMESSA", "NESSUNA"}
var pactStates = []string{"ATTIVO", "NON_ATTIVO"}

// aggregates writes the period's table in format, after the threshold rule
// and the secondary suppression of the nested tables. The tables have a
// few thousand cells at most, so they are built in memory.
func (x *exporter) aggregates(ctx context.Context, w io.Writer, format string, j job, rc recipient, progress *atomic.Int64) (outcome, error) {
	out := outcome{dictionary: aggregateColumns}
	n, err := x.nestedCounts(ctx, j, rc, progress, &out.stats)
	if err != nil {
		return out, err
	}
	rel, counts := disclosure.ProtectNested(n), n.Counts()

	table, err := newTable[aggRow](format, w, aggregateColumns)
	if err != nil {
		return out, err
	}
	cell := func(terr, row, did, pact string, v int, hidden bool) error {
		sex, age, _ := strings.Cut(row, "|")
		r := aggRow{Territorio: terr, Sesso: sex, FasciaEta: age, StatoDID: did, PattoLavoro: pact}
		if hidden {
			out.Suppressed++
		} else {
			out.Released++
			v := int64(v)
			r.Persone = &v
		}
		return table.Write(r)
	}
	// line writes one territory's rows: its cells and row totals.
	line := func(terr string, cells [][]int, hidden [][]bool, totals []int, totalHidden []bool) error {
		for r, row := range n.Rows {
			for c := range n.Cols {
				if err := cell(terr, row, didStates[c/len(pactStates)], pactStates[c%len(pactStates)], cells[r][c], hidden[r][c]); err != nil {
					return err
				}
			}
			if err := cell(terr, row, "TOTALE", "TOTALE", totals[r], totalHidden[r]); err != nil {
				return err
			}
		}
		return nil
	}
	colTotals := counts.NationalColTotal
	colHidden := rel.NationalColTotal
	if rc.region == "" {
		for g, region := range n.Regions {
			if err := line(region, counts.Region[g], rel.Region[g], counts.RegionRowTotal[g], rel.RegionRowTotal[g]); err != nil {
				return out, err
			}
		}
	} else {
		g := slices.Index(n.Regions, "REGIONE-"+rc.region)
		if g < 0 {
			return out, fmt.Errorf("aggregates: region %s has no provinces", rc.region)
		}
		for p, leaf := range n.Leaves {
			if n.Parent[p] != g {
				continue
			}
			if err := line(leaf, counts.Leaf[p], rel.Leaf[p], counts.LeafRowTotal[p], rel.LeafRowTotal[p]); err != nil {
				return out, err
			}
		}
		colTotals, colHidden = counts.RegionColTotal[g], rel.RegionColTotal[g]
	}
	for c := range n.Cols {
		if err := cell("TOTALE", "TOTALE|TOTALE", didStates[c/len(pactStates)], pactStates[c%len(pactStates)], colTotals[c], colHidden[c]); err != nil {
			return out, err
		}
	}
	out.model = map[string]any{
		"modello": "regola della soglia e soppressione secondaria a ipercubo sulle tavole annidate (nazionale e regionali)",
		"soglia":  disclosure.Threshold, "celle_primarie": rel.Primary, "celle_secondarie": rel.Secondary,
	}
	return out, table.Close()
}

// nestedCounts reads the counts of all Italy's provinces; st counts the
// people of the recipient's territory only.
func (x *exporter) nestedCounts(ctx context.Context, j job, rc recipient, progress *atomic.Int64, st *stats) (disclosure.Nested, error) {
	var n disclosure.Nested
	args := pgx.NamedArgs{"da": j.da.Time(), "a": j.a.Time(), "region": ""}
	ps, err := readProvinces(ctx, x.db, "")
	if err != nil {
		return n, err
	}
	var regions indexer
	leafOf := map[string]int{}
	for i, p := range ps {
		n.Leaves = append(n.Leaves, p.sigla)
		n.Parent = append(n.Parent, regions.of("REGIONE-"+p.region))
		leafOf[p.sigla] = i
	}
	// Regions in code order: the Ministry's rows read as they always did.
	order := slices.Clone(regions.labels)
	slices.Sort(order)
	for i, g := range n.Parent {
		n.Parent[i] = slices.Index(order, regions.labels[g])
	}
	n.Regions = order
	for _, sex := range sexes {
		for _, age := range ageBands {
			n.Rows = append(n.Rows, sex+"|"+age)
		}
	}
	for _, d := range didStates {
		for _, p := range pactStates {
			n.Cols = append(n.Cols, d+"|"+p)
		}
	}
	n.Cells = make([][][]int, len(n.Leaves))
	for p := range n.Cells {
		n.Cells[p] = make([][]int, len(n.Rows))
		for r := range n.Cells[p] {
			n.Cells[p][r] = make([]int, len(n.Cols))
		}
	}
	rows, err := x.db.Query(ctx, aggregatesSQL, args)
	if err != nil {
		return n, fmt.Errorf("query aggregates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var prov, did string
		var female, active bool
		var age, count int
		if err := rows.Scan(&prov, &female, &age, &did, &active, &count); err != nil {
			return n, fmt.Errorf("read aggregates: %w", err)
		}
		p, ok := leafOf[prov]
		d := slices.Index(didStates, did)
		if !ok || d < 0 || age < 0 || age >= len(ageBands) {
			return n, fmt.Errorf("aggregates: a count outside the table (province %q, DID state %q, age code %d)", prov, did, age)
		}
		r := age
		if female {
			r += len(ageBands)
		}
		c := d * len(pactStates)
		if !active {
			c++
		}
		n.Cells[p][r][c] += count
		if rc.region == "" || ps[p].region == rc.region {
			st.Read += int64(count)
			progress.Store(st.Read)
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("read aggregates: %w", err)
	}
	return n, nil
}

var sexes = []string{"M", "F"}

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
