package function

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/disclosure"
)

// The quasi-identifiers are computed by PostgreSQL as small integer base
// codes and generalised here, level by level, along the hierarchies below:
// grouping integers is what makes counting the classes cheap, and the
// search rolls those counts up in memory (package disclosure). Every level
// of every attribute is defined once, in this file, with its labels; the
// data dictionary and the manifest name the level a file uses
// (docs/anonymisation.md).
//
// Every SQL fragment reads the period's people through populationSQL's
// aliases (n nucleo, c comune, m componente) and named arguments (@da and
// @a the period, @eu the other EU states).
const (
	ageCodeSQL         = `least(date_part('year', age(@a::date, m.data_nascita))::int / 5, 15)`
	citizenshipCodeSQL = `CASE WHEN m.cittadinanza = 'ITA' THEN 0 WHEN m.cittadinanza = ANY (@eu::text[]) THEN 1 ELSE 2 END`
	iseeCodeSQL        = `CASE WHEN n.isee < 3000 THEN 0 WHEN n.isee < 6000 THEN 1 WHEN n.isee < 9360 THEN 2 ELSE 3 END`
	benefitCodeSQL     = `CASE WHEN n.importo_beneficio < 250 THEN 0 WHEN n.importo_beneficio < 500 THEN 1
	                           WHEN n.importo_beneficio < 750 THEN 2 WHEN n.importo_beneficio < 1000 THEN 3 ELSE 4 END`
	sexCodeSQL   = `(m.sesso = 'F')::int`
	monthCodeSQL = `date_part('year', n.data_presentazione)::int * 12 + date_part('month', n.data_presentazione)::int - 1`

	// qiSQL packs every quasi-identifier but the territory into one bigint,
	// so a class is (province, qi); qiDecoder reverses it.
	qiSQL = `(((((` + ageCodeSQL + `) * 3 + ` + citizenshipCodeSQL + `) * 4 + ` + iseeCodeSQL + `) * 5 + ` + benefitCodeSQL + `) * 2 + ` +
		sexCodeSQL + `)::bigint * 100000 + ` + monthCodeSQL

	// populationSQL and inPeriodSQL select the period's people: every member
	// of a household whose benefit was active on some day of the period
	// (it started by the period's end and had not ceased before its start)
	// and lived in the recipient's territory (@region, ” for all). Joins go
	// between the two.
	populationSQL = `
FROM nucleo n
JOIN comune c ON c.codice_istat = n.comune_residenza
JOIN componente m ON m.nucleo_id = n.id`
	inPeriodSQL = `
WHERE n.data_decorrenza <= @a AND (n.data_cessazione IS NULL OR n.data_cessazione >= @da)
  AND (@region = '' OR c.regione = @region)`
)

// The attributes, in the order of the lattice and of the file's columns.
const (
	attrTerritory = iota
	attrSex
	attrAge
	attrCitizenship
	attrISEE
	attrBenefit
	attrMonth
	attrs
)

// top is the label of an attribute generalised away.
const top = "*"

// level makes a hierarchy level from a base code → group mapping.
func level(name string, labels []string, group func(b int) int, base int) disclosure.Level {
	lv := disclosure.Level{Name: name, Labels: labels, Group: make([]int32, base)}
	for b := range base {
		lv.Group[b] = int32(group(b))
	}
	return lv
}

func all(base int) disclosure.Level {
	return level("tutti", []string{top}, func(int) int { return 0 }, base)
}

func identity(b int) int { return b }

func rangeLabels(width, n int, open string) []string {
	out := make([]string, n)
	for i := range n - 1 {
		out[i] = strconv.Itoa(i*width) + "-" + strconv.Itoa(i*width+width-1)
	}
	out[n-1] = open
	return out
}

// The fixed hierarchies. Age's base is the 5-year band (ageCodeSQL): each
// coarser band merges whole bands below it, the open top band included.
var (
	ageHierarchy = disclosure.Hierarchy{Name: "fascia_eta", Levels: []disclosure.Level{
		level("5 anni", rangeLabels(5, 16, "75+"), identity, 16),
		level("10 anni", rangeLabels(10, 8, "70+"), func(b int) int { return min(b/2, 7) }, 16),
		level("20 anni", rangeLabels(20, 4, "60+"), func(b int) int { return min(b/4, 3) }, 16),
		all(16),
	}}
	sexHierarchy = disclosure.Hierarchy{Name: "sesso", Levels: []disclosure.Level{
		level("valore", []string{"M", "F"}, identity, 2),
		all(2),
	}}
	citizenshipHierarchy = disclosure.Hierarchy{Name: "cittadinanza", Levels: []disclosure.Level{
		level("IT/UE/EXTRA_UE", []string{"IT", "UE", "EXTRA_UE"}, identity, 3),
		level("IT/ESTERO", []string{"IT", "ESTERO"}, func(b int) int { return min(b, 1) }, 3),
		all(3),
	}}
	iseeHierarchy = disclosure.Hierarchy{Name: "fascia_isee", Levels: []disclosure.Level{
		level("fine", []string{"0-2999", "3000-5999", "6000-9359", "9360+"}, identity, 4),
		level("ampia", []string{"0-5999", "6000+"}, func(b int) int { return b / 2 }, 4),
		all(4),
	}}
	benefitHierarchy = disclosure.Hierarchy{Name: "fascia_beneficio", Levels: []disclosure.Level{
		level("fine", []string{"0-249", "250-499", "500-749", "750-999", "1000+"}, identity, 5),
		level("ampia", []string{"0-499", "500+"}, func(b int) int { return min(b/2, 1) }, 5),
		all(5),
	}}
)

// macroAreas are the NUTS 1 areas of Italy by ISTAT region code.
var macroAreas = map[string]string{
	"01": "ITC", "02": "ITC", "03": "ITC", "07": "ITC", // Nord-Ovest
	"04": "ITH", "05": "ITH", "06": "ITH", "08": "ITH", // Nord-Est
	"09": "ITI", "10": "ITI", "11": "ITI", "12": "ITI", // Centro
	"13": "ITF", "14": "ITF", "15": "ITF", "16": "ITF", "17": "ITF", "18": "ITF", // Sud
	"19": "ITG", "20": "ITG", // Isole
}

// province is one base code of the territory.
type province struct{ sigla, region string }

// readProvinces reads the provinces of region ("" for all Italy) in
// territory order: by macro-area, region, then sigla, so that every region
// and macro-area is a run of them, as the search's partition by territory
// needs (disclosure.NewLattice).
func readProvinces(ctx context.Context, q db.DBTX, region string) ([]province, error) {
	rows, err := q.Query(ctx, `SELECT provincia, regione FROM comune WHERE $1 = '' OR regione = $1 GROUP BY 1, 2`, region)
	if err != nil {
		return nil, fmt.Errorf("read provinces: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (province, error) {
		var p province
		return p, r.Scan(&p.sigla, &p.region)
	})
	if err != nil {
		return nil, fmt.Errorf("read provinces: %w", err)
	}
	slices.SortFunc(ps, func(p, q province) int {
		return cmp.Or(cmp.Compare(macroAreas[p.region], macroAreas[q.region]), cmp.Compare(p.region, q.region), cmp.Compare(p.sigla, q.sigla))
	})
	return ps, nil
}

// territoryHierarchy generalises the recipient's provinces to their region,
// macro-area and Italy. (The comune never leaves: too few people share one.)
func territoryHierarchy(ps []province) (disclosure.Hierarchy, error) {
	regions, areas := indexer{}, indexer{}
	labels := make([]string, len(ps))
	region, area := make([]int, len(ps)), make([]int, len(ps))
	for i, p := range ps {
		a, ok := macroAreas[p.region]
		if !ok {
			return disclosure.Hierarchy{}, fmt.Errorf("province %s: region %q has no macro-area", p.sigla, p.region)
		}
		labels[i] = p.sigla
		region[i] = regions.of("REGIONE-" + p.region)
		area[i] = areas.of(a)
	}
	return disclosure.Hierarchy{Name: "territorio", Levels: []disclosure.Level{
		level("provincia", labels, identity, len(ps)),
		level("regione", regions.labels, func(b int) int { return region[b] }, len(ps)),
		level("macroarea (NUTS 1)", areas.labels, func(b int) int { return area[b] }, len(ps)),
		level("Italia", []string{"ITALIA"}, func(int) int { return 0 }, len(ps)),
	}}, nil
}

// monthHierarchy generalises the months first..last (year*12 + month-1) to
// quarters, half-years and years.
func monthHierarchy(first, last int) disclosure.Hierarchy {
	n := last - first + 1
	by := func(name string, per int, label func(y, i int) string) disclosure.Level {
		var ix indexer
		group := make([]int, n)
		for b := range n {
			m := first + b
			group[b] = ix.of(label(m/12, m%12/per))
		}
		return level(name, ix.labels, func(b int) int { return group[b] }, n)
	}
	return disclosure.Hierarchy{Name: "mese_presentazione", Levels: []disclosure.Level{
		by("mese", 1, func(y, i int) string { return fmt.Sprintf("%04d-%02d", y, i+1) }),
		by("trimestre", 3, func(y, i int) string { return fmt.Sprintf("%04d-T%d", y, i+1) }),
		by("semestre", 6, func(y, i int) string { return fmt.Sprintf("%04d-S%d", y, i+1) }),
		by("anno", 12, func(y, _ int) string { return fmt.Sprintf("%04d", y) }),
		all(n),
	}}
}

// indexer numbers labels in the order first seen.
type indexer struct {
	labels []string
	index  map[string]int
}

func (x *indexer) of(label string) int {
	if i, ok := x.index[label]; ok {
		return i
	}
	if x.index == nil {
		x.index = map[string]int{}
	}
	x.index[label] = len(x.labels)
	x.labels = append(x.labels, label)
	return len(x.labels) - 1
}

// euISO3 are the other EU member states (ISO 3166 alpha-3), for the IT / UE /
// EXTRA_UE grouping.
var euISO3 = []string{"AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
	"IRL", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE"}

// baseCodes are a class's quasi-identifiers but the territory, as qiSQL packs them.
type baseCodes struct {
	sex, age, citizenship, isee, benefit, month int
}

// decodeQI reverses qiSQL. It fails on a code out of range: the SQL and the
// hierarchies disagree, which must stop the export.
func decodeQI(v int64) (baseCodes, error) {
	month, rest := v%100000, v/100000
	sex, rest := rest%2, rest/2
	ben, rest := rest%5, rest/5
	isee, rest := rest%4, rest/4
	cit, age := rest%3, rest/3
	if v < 0 || age >= 16 {
		return baseCodes{}, fmt.Errorf("quasi-identifier code %d out of range", v)
	}
	return baseCodes{sex: int(sex), age: int(age), citizenship: int(cit), isee: int(isee), benefit: int(ben), month: int(month)}, nil
}

// ageBands are the base age labels, for the aggregates' tables.
var ageBands = ageHierarchy.Levels[0].Labels
