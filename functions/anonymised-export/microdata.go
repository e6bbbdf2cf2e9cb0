package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/disclosure"
)

// column is one entry of a file's data dictionary.
type column struct {
	Nome        string `json:"nome"`
	Descrizione string `json:"descrizione"`
}

// The quasi-identifiers, generalised as docs/domain.md#statistical-release asks: age in
// 5-year bands with an open top band, place to province (then region),
// citizenship as IT / UE / EXTRA_UE, ISEE and benefit in bands, dates to
// month. Nothing else about a person leaves: no code, name, birth date,
// address or contact.
var microdataColumns = []column{
	{"pseudonimo", "HMAC-SHA-256 of the person under the recipient's key: stable across periods for one recipient, unlinkable between recipients"},
	{"territorio", "province (sigla) of residence; REGIONE-<ISTAT code> where the province would leave fewer than k people alike"},
	{"sesso", "M or F"},
	{"fascia_eta", "age at the end of the period, in 5-year bands; 75+ open"},
	{"cittadinanza", "IT, UE or EXTRA_UE"},
	{"fascia_isee", "ISEE of the household, euro: 0-2999, 3000-5999, 6000-9359, 9360+"},
	{"fascia_beneficio", "monthly benefit of the household, euro: 0-249, 250-499, 500-749, 750-999, 1000+"},
	{"mese_presentazione", "month the application was presented, YYYY-MM"},
	{"stato_did", "state of the latest DID declared by the end of the period, or NESSUNA"},
	{"patto_lavoro_attivo", "a Patto per il lavoro active at the end of the period: true or false"},
	{"patto_inclusione_attivo", "beneficiary of a Patto per l'inclusione active at the end of the period: true or false"},
	{"trasferimenti_periodo", "transfers of the household between CPI and social services within the period"},
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
    WHERE pi.stato = 'SOTTOSCRITTO' AND pi.data_sottoscrizione <= @a AND (pi.data_fine IS NULL OR pi.data_fine >= @a)
),
trasferimenti AS (
    SELECT nucleo_id, count(*) AS n FROM trasferimento
    WHERE creato_il >= @da::date AND creato_il < @a::date + 1
    GROUP BY nucleo_id
)`

// k-anonymity takes two passes over the period's people in one snapshot,
// both hash joins and hash aggregates, never a sort of the whole period:
//
//  1. classesSQL counts the people of each class (province, qi) into a
//     temporary table;
//  2. releaseSQL decides each class: it keeps its province when k people
//     share it; else it is generalised to its region, when the generalised
//     people alike there number k; else it is withheld (no row);
//  3. microdataSQL joins the people to the released classes and adds the
//     facts.
//
// Rows come out ordered by a keyed hash of the person (@order), so neither
// a recipient's file nor two recipients' files share an order another
// database could follow; the hash is compared bytewise (COLLATE "C").
const (
	classesSQL = `
CREATE TEMP TABLE export_classi ON COMMIT DROP AS
SELECT c.provincia, c.regione, ` + qiSQL + ` AS qi, count(*) AS n` + populationSQL + inPeriodSQL + `
GROUP BY 1, 2, 3`

	releaseSQL = `
CREATE TEMP TABLE export_rilascio ON COMMIT DROP AS
WITH regioni AS (SELECT regione, qi, sum(n) AS n FROM export_classi WHERE n < @k GROUP BY 1, 2)
SELECT c.provincia, c.qi, c.n < @k AS generalizzato,
       CASE WHEN c.n >= @k THEN c.provincia ELSE 'REGIONE-' || c.regione END AS territorio
FROM export_classi c LEFT JOIN regioni r ON c.n < @k AND r.regione = c.regione AND r.qi = c.qi
WHERE c.n >= @k OR r.n >= @k`

	microdataSQL = `
WITH ` + factsSQL + `,
persone AS (
    SELECT m.id, m.cf_canonico, n.id AS nucleo_id, c.provincia, ` + qiSQL + ` AS qi` + populationSQL + inPeriodSQL + `
)
SELECT p.cf_canonico, r.territorio, r.generalizzato, p.qi,
       coalesce(d.nome, 'NESSUNA'), l.componente_id IS NOT NULL, i.componente_id IS NOT NULL, coalesce(t.n, 0)
FROM persone p
JOIN export_rilascio r ON r.provincia = p.provincia AND r.qi = p.qi
LEFT JOIN ultimo_did d ON d.componente_id = p.id
LEFT JOIN patto_lavoro l ON l.componente_id = p.id
LEFT JOIN patto_inclusione i ON i.componente_id = p.id
LEFT JOIN trasferimenti t ON t.nucleo_id = p.nucleo_id
ORDER BY md5(@order || p.cf_canonico) COLLATE "C"`
)

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

// microdata writes the period's anonymised microdata to w in format.
func (x *exporter) microdata(ctx context.Context, w io.Writer, format string, j job, rc recipient, k int, pseud disclosure.Pseudonymizer, progress *atomic.Int64) (stats, error) {
	var st stats
	args := pgx.NamedArgs{"da": j.da.Time(), "a": j.a.Time(), "region": rc.region, "eu": euISO3, "k": k, "order": pseud.Of("order")}
	// One snapshot for the passes; the transaction writes only its own
	// temporary tables, dropped at its end (rolled back: it changes
	// nothing). It is never run again: the file is already half written.
	err := db.TransactWith(ctx, x.db, db.TxOptions{Iso: pgx.RepeatableRead, Retries: -1}, func(tx pgx.Tx) error {
		// The planner cannot know how the packed classes match the people, and
		// from its guess picks nested loops or merge joins that sort the whole
		// period: hash joins are right for a pass over everyone. JIT costs more
		// than it saves on these one-pass queries.
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '`+sortMemory+`'; SET LOCAL jit = off; SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off`); err != nil {
			return fmt.Errorf("set up microdata: %w", err)
		}
		if _, err := tx.Exec(ctx, classesSQL, args); err != nil {
			return fmt.Errorf("count classes: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM export_classi`).Scan(&st.Read); err != nil {
			return fmt.Errorf("count classes: %w", err)
		}
		if _, err := tx.Exec(ctx, releaseSQL, args); err != nil {
			return fmt.Errorf("decide classes: %w", err)
		}
		if _, err := tx.Exec(ctx, `ANALYZE export_rilascio`); err != nil {
			return fmt.Errorf("decide classes: %w", err)
		}
		rows, err := tx.Query(ctx, microdataSQL, args)
		if err != nil {
			return fmt.Errorf("query microdata: %w", err)
		}
		defer rows.Close()
		out, err := newTable[microRow](format, w, microdataColumns)
		if err != nil {
			return err
		}
		var (
			code        string
			generalised bool
			packed      int64
			r           microRow
			dec         qiDecoder
			seq         = pseud.Sequence()
		)
		for rows.Next() {
			if err := rows.Scan(&code, &r.Territorio, &generalised, &packed, &r.StatoDID, &r.PattoLavoroAttivo, &r.PattoInclusioneAttivo, &r.TrasferimentiPeriodo); err != nil {
				return fmt.Errorf("read microdata: %w", err)
			}
			q, err := dec.decode(packed)
			if err != nil {
				return err
			}
			r.Pseudonimo = seq.Of(code)
			r.Sesso, r.FasciaEta, r.Cittadinanza, r.FasciaISEE, r.FasciaBeneficio, r.MesePresentazione = q.sex, q.age, q.citizenship, q.isee, q.benefit, q.month
			if generalised {
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
		st.Suppressed = st.Read - st.Released
		if err := out.Close(); err != nil {
			return err
		}
		return errDone
	})
	if errors.Is(err, errDone) {
		err = nil
	}
	return st, err
}

// errDone ends a read-only transaction by rolling it back: its temporary
// tables go with it, and nothing else was written.
var errDone = errors.New("done")
