package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/disclosure"
)

// column is one entry of a file's data dictionary.
type column struct {
	Nome        string `json:"nome"`
	Descrizione string `json:"descrizione"`
}

// microdataColumns are a file's columns. The quasi-identifiers' descriptions
// name the level the search chose (dictionaryOf); nothing else about a
// person leaves: no code, name, birth date, address or contact.
var microdataColumns = []column{
	{"pseudonimo", "HMAC-SHA-256 of the person under the recipient's key: stable across periods for one recipient, unlinkable between recipients"},
	{"territorio", "residence of the household"},
	{"sesso", "sex"},
	{"fascia_eta", "age at the end of the period"},
	{"cittadinanza", "citizenship: IT, UE (another EU state), EXTRA_UE; ESTERO is UE or EXTRA_UE"},
	{"fascia_isee", "ISEE of the household, euro"},
	{"fascia_beneficio", "monthly benefit of the household, euro"},
	{"mese_presentazione", "when the application was presented"},
	{"stato_did", "state of the latest DID declared by the end of the period, or NESSUNA"},
	{"patto_lavoro_attivo", "a Patto per il lavoro active at the end of the period: true or false"},
	{"patto_inclusione_attivo", "beneficiary of a Patto per l'inclusione active at the end of the period: true or false"},
	{"trasferimenti_periodo", "transfers of the household between CPI and social services within the period"},
}

// dictionaryOf is the data dictionary of a file released at node: each
// quasi-identifier's column names its level ("*" where generalised away).
func dictionaryOf(hs []disclosure.Hierarchy, node disclosure.Node) []column {
	out := slices.Clone(microdataColumns)
	for a, h := range hs {
		c := &out[1+a]
		lv := h.Levels[node[a]]
		c.Descrizione += fmt.Sprintf("; level %q of %s (%s)", lv.Name, levelNames(h), strings.Join(firstLabels(lv.Labels, 6), ", "))
	}
	return out
}

func levelNames(h disclosure.Hierarchy) string {
	names := make([]string, len(h.Levels))
	for i, lv := range h.Levels {
		names[i] = lv.Name
	}
	return strings.Join(names, " → ")
}

func firstLabels(labels []string, n int) []string {
	if len(labels) <= n {
		return labels
	}
	return append(slices.Clone(labels[:n]), "…")
}

// factsSQL are the exchange facts as of the end of the period (@a, with @da
// its start), each from one pass over its table (hash joins), not looked up
// person by person.
const factsSQL = `
ultimo_did AS (
    SELECT DISTINCT ON (did.componente_id) did.componente_id, s.nome
    FROM did JOIN stato_did s ON s.codice = did.stato
    WHERE did.data_did <= @a
    ORDER BY did.componente_id, did.data_did DESC, did.id DESC
),
patto_lavoro AS (
    SELECT DISTINCT s.componente_id FROM sap_politica s JOIN sap_evento ev ON ev.codice = s.ultimo_evento
    WHERE s.codice_attivita = 'A02' AND ev.sottoscritto AND NOT ev.chiuso
      AND s.data_inizio <= @a AND (s.data_fine IS NULL OR s.data_fine >= @a)
),
patto_inclusione AS (
    SELECT DISTINCT b.componente_id FROM patto_inclusione_componente b JOIN patto_inclusione pi ON pi.id = b.patto_id
    WHERE patto_inclusione_copre(pi.stato, pi.data_sottoscrizione, pi.data_fine, @a)
),
trasferimenti AS (
    SELECT nucleo_id, count(*) AS n FROM trasferimento
    WHERE creato_il >= @da::date AND creato_il < @a::date + 1
    GROUP BY nucleo_id
)`

// A microdata export takes two passes over the period's people in one
// snapshot, both hash joins and hash aggregates:
//
//  1. classesSQL counts the people of each class of base codes (province,
//     qi) and, for ℓ-diversity, the sensitive values among them;
//  2. the search (package disclosure) picks the level of every attribute
//     from those counts, in memory;
//  3. microdataSQL streams the people with their base codes and facts; each
//     is released under the chosen levels, or withheld with its class.
//
// Rows come out ordered by a keyed hash of the person (@order), so neither
// a recipient's file nor two recipients' files share an order another
// database could follow; the hash is compared bytewise (COLLATE "C").
const (
	factsJoinSQL = `
LEFT JOIN ultimo_did d ON d.componente_id = m.id
LEFT JOIN patto_lavoro l ON l.componente_id = m.id
LEFT JOIN patto_inclusione i ON i.componente_id = m.id`

	microdataSQL = `
WITH ` + factsSQL + `
SELECT m.cf_canonico, c.provincia, ` + qiSQL + `,
       coalesce(d.nome, 'NESSUNA'), l.componente_id IS NOT NULL, i.componente_id IS NOT NULL, coalesce(t.n, 0)` + populationSQL +
		factsJoinSQL + `
LEFT JOIN trasferimenti t ON t.nucleo_id = n.id` + inPeriodSQL + `
ORDER BY md5(@order || m.cf_canonico) COLLATE "C"`
)

// classesSQL counts the classes; with sensitive attributes for ℓ-diversity
// it also gathers each one's values as a bit set.
func classesSQL(sensitive []string) string {
	if len(sensitive) == 0 {
		return `SELECT c.provincia, ` + qiSQL + `, count(*)` + populationSQL + inPeriodSQL + ` GROUP BY 1, 2`
	}
	var sets []string
	for _, name := range sensitive {
		sets = append(sets, `bit_or(1 << (`+sensitiveAttributes[name].code+`))::bigint`)
	}
	return `WITH ` + factsSQL + ` SELECT c.provincia, ` + qiSQL + `, count(*), ` + strings.Join(sets, ", ") +
		populationSQL + factsJoinSQL + inPeriodSQL + ` GROUP BY 1, 2`
}

// sensitiveAttributes are the columns ℓ-diversity may be asked of: their
// number of values and the SQL of a person's value code.
var sensitiveAttributes = map[string]struct {
	values int
	code   string
}{
	"stato_did":               {len(didStates), `array_position(@did_states::text[], coalesce(d.nome, 'NESSUNA')) - 1`},
	"patto_lavoro_attivo":     {2, `(l.componente_id IS NOT NULL)::int`},
	"patto_inclusione_attivo": {2, `(i.componente_id IS NOT NULL)::int`},
}

// sortMemory is PostgreSQL's work_mem for an export's queries: the hash
// tables and the final sort stay in memory, not in temporary files.
const sortMemory = "256MB"

// microRow is one released person. Territory and bands repeat across
// millions of rows: Parquet stores them dictionary-encoded.
type microRow struct {
	Pseudonimo            string `parquet:"pseudonimo"`
	Territorio            string `parquet:"territorio,dict"`
	Sesso                 string `parquet:"sesso,dict"`
	FasciaEta             string `parquet:"fascia_eta,dict"`
	Cittadinanza          string `parquet:"cittadinanza,dict"`
	FasciaISEE            string `parquet:"fascia_isee,dict"`
	FasciaBeneficio       string `parquet:"fascia_beneficio,dict"`
	MesePresentazione     string `parquet:"mese_presentazione,dict"`
	StatoDID              string `parquet:"stato_did,dict"`
	PattoLavoroAttivo     bool   `parquet:"patto_lavoro_attivo"`
	PattoInclusioneAttivo bool   `parquet:"patto_inclusione_attivo"`
	TrasferimentiPeriodo  int32  `parquet:"trasferimenti_periodo"`
}

func (r microRow) fields(dst []string) []string {
	return append(dst, r.Pseudonimo, r.Territorio, r.Sesso, r.FasciaEta, r.Cittadinanza, r.FasciaISEE, r.FasciaBeneficio,
		r.MesePresentazione, r.StatoDID, strconv.FormatBool(r.PattoLavoroAttivo), strconv.FormatBool(r.PattoInclusioneAttivo),
		strconv.FormatInt(int64(r.TrasferimentiPeriodo), 10))
}

// privacy is the model an export is asked to meet, frozen with it.
type privacy struct {
	disclosure.Model
	Sensitive []string // the attributes ℓ-diversity is asked of
}

// microdata writes the period's anonymised microdata to w in format.
func (x *exporter) microdata(ctx context.Context, w io.Writer, format string, j job, rc recipient, pm privacy, pseud disclosure.Pseudonymizer, progress *atomic.Int64) (outcome, error) {
	var out outcome
	args := pgx.NamedArgs{"da": j.da.Time(), "a": j.a.Time(), "region": rc.region, "eu": euISO3, "order": pseud.Of("order"), "did_states": didStates}
	// One snapshot for both passes; the transaction writes nothing (it is
	// rolled back). It is never run again: the file is already half written.
	err := db.TransactWith(ctx, x.db, db.TxOptions{Iso: pgx.RepeatableRead, Retries: -1}, func(tx pgx.Tx) error {
		// The planner picks nested loops or merge joins that sort the whole
		// period from its guesses: hash joins are right for a pass over
		// everyone. JIT costs more than it saves on these one-pass queries.
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '`+sortMemory+`'; SET LOCAL jit = off; SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off`); err != nil {
			return fmt.Errorf("set up microdata: %w", err)
		}
		sp, err := x.count(ctx, tx, args, rc.region, pm)
		if err != nil {
			return err
		}
		// The people's query is sent before the search runs: PostgreSQL
		// joins and sorts them while the search rolls the classes up, and
		// its first row waits in the socket until the decision is made.
		rows, err := tx.Query(ctx, microdataSQL, args)
		if err != nil {
			return fmt.Errorf("query microdata: %w", err)
		}
		defer rows.Close()
		sp.search(pm.Model)
		out.Read = sp.result.People
		out.dictionary = dictionaryOf(sp.hs, sp.result.Node)
		out.model = modelOf(pm, sp)
		table, err := newTable[microRow](format, w, out.dictionary)
		if err != nil {
			return err
		}
		streaming := time.Now()
		if sp.result.Released > 0 {
			if err := release(rows, sp, pseud, table, &out.stats, progress); err != nil {
				return err
			}
		}
		// Counts and durations only: what an operator needs to see where a
		// long export spends its time.
		x.log.Info("microdata released", "classes", sp.classes, "nodes_rolled_up", sp.result.Evaluated,
			"count_s", sp.counted.Seconds(), "search_s", sp.searched.Seconds(), "stream_s", time.Since(streaming).Seconds(),
			"people", sp.result.People, "released", sp.result.Released)
		out.Suppressed = out.Read - out.Released
		if out.Released != sp.result.Released {
			// The snapshot is one: the two passes must agree.
			return fmt.Errorf("microdata: %d people released, the search counted %d", out.Released, sp.result.Released)
		}
		if err := table.Close(); err != nil {
			return err
		}
		return errDone
	})
	if errors.Is(err, errDone) {
		err = nil
	}
	return out, err
}

// searched is a search's outcome with what it needs to release people.
type searched struct {
	hs        []disclosure.Hierarchy
	provinces map[string]int32
	month0    int // the base month code 0
	lattice   *disclosure.Lattice
	result    disclosure.Outcome
	release   *disclosure.Release
	// How long counting and searching took, for the log.
	counted, searched time.Duration
	classes           int
}

// count counts the classes of the period's people in region ("" for all Italy).
func (x *exporter) count(ctx context.Context, tx pgx.Tx, args pgx.NamedArgs, region string, pm privacy) (searched, error) {
	var sp searched
	start := time.Now()
	ps, err := readProvinces(ctx, tx, region)
	if err != nil {
		return sp, err
	}
	sp.provinces = make(map[string]int32, len(ps))
	for i, p := range ps {
		sp.provinces[p.sigla] = int32(i)
	}
	terr, err := territoryHierarchy(ps)
	if err != nil {
		return sp, err
	}

	// The classes are counted straight into the search's table, months on
	// their absolute scale until the period's first one is known.
	codesOf := [attrs]int{attrTerritory: len(ps), attrSex: 2, attrAge: 16, attrCitizenship: 3, attrISEE: 4, attrBenefit: 5,
		attrMonth: 10000 * 12} // months since year 0 until Rebase
	cs := disclosure.NewClasses(codesOf[:], len(pm.Sensitive))
	first, last := math.MaxInt, math.MinInt
	rows, err := tx.Query(ctx, classesSQL(pm.Sensitive), args)
	if err != nil {
		return sp, fmt.Errorf("count classes: %w", err)
	}
	sets := make([]int64, len(pm.Sensitive))
	values := make([]uint32, len(pm.Sensitive))
	var (
		prov   string
		packed int64
		n      int64
		codes  [attrs]int32
	)
	dest := []any{&prov, &packed, &n}
	for i := range sets {
		dest = append(dest, &sets[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return sp, fmt.Errorf("count classes: %w", err)
		}
		q, err := decodeQI(packed)
		if err != nil {
			rows.Close()
			return sp, err
		}
		p, ok := sp.provinces[prov]
		if !ok {
			rows.Close()
			return sp, fmt.Errorf("count classes: province %q is not in the territory", prov)
		}
		codes = [attrs]int32{attrTerritory: p, attrSex: int32(q.sex), attrAge: int32(q.age), attrCitizenship: int32(q.citizenship),
			attrISEE: int32(q.isee), attrBenefit: int32(q.benefit), attrMonth: int32(q.month)}
		for i, v := range sets {
			values[i] = uint32(v)
		}
		first, last = min(first, q.month), max(last, q.month)
		cs.Add(codes[:], n, values)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sp, fmt.Errorf("count classes: %w", err)
	}
	if cs.Len() == 0 {
		first, last = 0, 0
	}
	cs.Rebase(attrMonth, int32(first))
	sp.month0 = first
	sp.hs = []disclosure.Hierarchy{attrTerritory: terr, attrSex: sexHierarchy, attrAge: ageHierarchy, attrCitizenship: citizenshipHierarchy,
		attrISEE: iseeHierarchy, attrBenefit: benefitHierarchy, attrMonth: monthHierarchy(first, last)}
	sp.classes = cs.Len()
	lat, err := disclosure.NewLattice(sp.hs, cs)
	if err != nil {
		return sp, fmt.Errorf("microdata: %w", err)
	}
	sp.lattice = lat
	sp.counted = time.Since(start)
	return sp, nil
}

// search finds the node to release at and decides its classes.
func (sp *searched) search(m disclosure.Model) {
	start := time.Now()
	sp.result = sp.lattice.Search(m)
	sp.release = sp.lattice.Release(sp.result.Node, m, sp.result.Meets)
	sp.searched = time.Since(start)
}

// release reads the period's people and writes those released.
func release(rows pgx.Rows, sp searched, pseud disclosure.Pseudonymizer, out table[microRow], st *stats, progress *atomic.Int64) error {
	var (
		code, prov string
		packed     int64
		r          microRow
		codes      [attrs]int32
		labels     [attrs]string
		seq        = pseud.Sequence()
		coarsened  = slices.ContainsFunc(sp.result.Node, func(l uint8) bool { return l > 0 })
	)
	for rows.Next() {
		if err := rows.Scan(&code, &prov, &packed, &r.StatoDID, &r.PattoLavoroAttivo, &r.PattoInclusioneAttivo, &r.TrasferimentiPeriodo); err != nil {
			return fmt.Errorf("read microdata: %w", err)
		}
		q, err := decodeQI(packed)
		if err != nil {
			return err
		}
		p, ok := sp.provinces[prov]
		if !ok || q.month < sp.month0 || q.month-sp.month0 >= len(sp.hs[attrMonth].Levels[0].Group) {
			return errors.New("microdata: a person outside the classes counted")
		}
		codes = [attrs]int32{attrTerritory: p, attrSex: int32(q.sex), attrAge: int32(q.age), attrCitizenship: int32(q.citizenship),
			attrISEE: int32(q.isee), attrBenefit: int32(q.benefit), attrMonth: int32(q.month - sp.month0)}
		if !sp.release.Labels(codes[:], labels[:]) {
			continue
		}
		r.Pseudonimo = seq.Of(code)
		r.Territorio, r.Sesso, r.FasciaEta, r.Cittadinanza = labels[attrTerritory], labels[attrSex], labels[attrAge], labels[attrCitizenship]
		r.FasciaISEE, r.FasciaBeneficio, r.MesePresentazione = labels[attrISEE], labels[attrBenefit], labels[attrMonth]
		if coarsened {
			st.Generalised++
		}
		st.Released++
		progress.Store(st.Released)
		if err := out.Write(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read microdata: %w", err)
	}
	return nil
}

// modelOf is what the manifest and the receipt record of a microdata
// release: the model asked, the node chosen, its loss and risk.
func modelOf(pm privacy, sp searched) map[string]any {
	levels := map[string]string{}
	for a, h := range sp.hs {
		levels[h.Name] = h.Levels[sp.result.Node[a]].Name
	}
	name := "k-anonimato"
	if pm.L > 1 {
		name = "k-anonimato e ℓ-diversità distinta"
	}
	r := sp.result
	m := map[string]any{
		"modello": name, "k": pm.K, "soppressione_massima": pm.MaxSuppressed,
		"generalizzazione": "a dominio completo, nodo di perdita minima nel reticolo dei livelli",
		"nodo":             levels, "rispettato": r.Meets,
		"persone": r.People, "rilasciate": r.Released, "soppresse": r.Suppressed, "classi": r.Classes,
		"perdita": map[string]any{"metrica": "LM (Iyengar 2002)", "valore": round6(r.Loss)},
		"rischio": map[string]any{"modello": "prosecutor", "massimo": round6(r.MaxRisk), "medio": round6(r.AvgRisk)},
		"ricerca": map[string]int{"nodi": r.Nodes, "valutati": r.Evaluated, "potati": r.Pruned},
	}
	if pm.L > 1 {
		m["l"], m["sensibili"] = pm.L, pm.Sensitive
	}
	return m
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// errDone ends a read-only transaction by rolling it back: nothing was written.
var errDone = errors.New("done")
