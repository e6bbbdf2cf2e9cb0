package function

import (
	"context"
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

// The quasi-identifiers, generalised as the issue and domain.md ask: age in
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

// euISO3 are the other EU member states (ISO 3166 alpha-3), for the IT / UE /
// EXTRA_UE grouping.
var euISO3 = []string{"AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
	"IRL", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE"}

// peopleSQL is every person of the period's households (an application
// presented by the end of the period) in the recipient's territory, with
// the quasi-identifiers already generalised and the exchange facts as of
// the end of the period. The facts are joined from one pass over each table
// (hash joins), not looked up person by person. $1 da, $2 a, $3 region
// (” for all), $4 EU codes.
const peopleSQL = `
WITH ultimo_did AS (
    SELECT DISTINCT ON (did.componente_id) did.componente_id, s.nome
    FROM did JOIN stato_did s ON s.codice = did.stato
    WHERE did.data_did <= $2
    ORDER BY did.componente_id, did.data_did DESC, did.id DESC
),
patto_lavoro AS (
    SELECT DISTINCT s.componente_id FROM sap_politica s JOIN sap_evento ev ON ev.codice = s.ultimo_evento
    WHERE s.codice_attivita = 'A02' AND ev.sottoscritto AND NOT ev.chiuso
      AND s.data_inizio <= $2 AND (s.data_fine IS NULL OR s.data_fine >= $2)
),
patto_inclusione AS (
    SELECT DISTINCT b.componente_id FROM patto_inclusione_componente b JOIN patto_inclusione pi ON pi.id = b.patto_id
    WHERE pi.stato = 'SOTTOSCRITTO' AND pi.data_sottoscrizione <= $2 AND (pi.data_fine IS NULL OR pi.data_fine >= $2)
),
trasferimenti AS (
    SELECT nucleo_id, count(*) AS n FROM trasferimento
    WHERE creato_il >= $1::date AND creato_il < $2::date + 1
    GROUP BY nucleo_id
)
SELECT m.cf_canonico, m.sesso, c.provincia, c.regione,
       CASE WHEN e.eta >= 75 THEN '75+' ELSE (e.eta / 5 * 5)::text || '-' || (e.eta / 5 * 5 + 4)::text END AS fascia_eta,
       CASE WHEN m.cittadinanza = 'ITA' THEN 'IT' WHEN m.cittadinanza = ANY ($4::text[]) THEN 'UE' ELSE 'EXTRA_UE' END AS cittadinanza,
       CASE WHEN n.isee < 3000 THEN '0-2999' WHEN n.isee < 6000 THEN '3000-5999' WHEN n.isee < 9360 THEN '6000-9359' ELSE '9360+' END AS fascia_isee,
       CASE WHEN n.importo_beneficio < 250 THEN '0-249' WHEN n.importo_beneficio < 500 THEN '250-499'
            WHEN n.importo_beneficio < 750 THEN '500-749' WHEN n.importo_beneficio < 1000 THEN '750-999' ELSE '1000+' END AS fascia_beneficio,
       to_char(n.data_presentazione, 'YYYY-MM') AS mese_presentazione,
       coalesce(d.nome, 'NESSUNA') AS stato_did,
       l.componente_id IS NOT NULL AS patto_lavoro_attivo,
       i.componente_id IS NOT NULL AS patto_inclusione_attivo,
       coalesce(t.n, 0) AS trasferimenti
FROM nucleo n
JOIN comune c ON c.codice_istat = n.comune_residenza
JOIN componente m ON m.nucleo_id = n.id
CROSS JOIN LATERAL (SELECT extract(year FROM age($2::date, m.data_nascita))::int AS eta) e
LEFT JOIN ultimo_did d ON d.componente_id = m.id
LEFT JOIN patto_lavoro l ON l.componente_id = m.id
LEFT JOIN patto_inclusione i ON i.componente_id = m.id
LEFT JOIN trasferimenti t ON t.nucleo_id = n.id
WHERE n.data_presentazione <= $2 AND ($3 = '' OR c.regione = $3)`

// microdataSQL adds k-anonymity, decided by PostgreSQL over the whole
// period (window counts), so the function streams and holds no class table:
// a row keeps its province when k people share its quasi-identifiers there;
// else its region, when the rows generalised alike number k; else it is
// withheld (territorio null). Rows come out in the second window's order:
// by class, then province, then a keyed hash, not in any order another
// database could share (and with no third sort). The keys are compared
// bytewise (COLLATE "C"): the order only has to be fixed, and a linguistic
// comparison made the sorts slower. $5 is k, $6 the ordering key.
const microdataSQL = `
WITH persone AS (` + peopleSQL + `),
classi AS (
    SELECT *, count(*) OVER (PARTITION BY provincia COLLATE "C", sesso COLLATE "C", fascia_eta COLLATE "C", cittadinanza COLLATE "C",
                                          fascia_isee COLLATE "C", fascia_beneficio COLLATE "C", mese_presentazione COLLATE "C") AS n_prov
    FROM persone
),
regioni AS (
    SELECT *, count(*) FILTER (WHERE n_prov < $5) OVER (
        PARTITION BY regione COLLATE "C", sesso COLLATE "C", fascia_eta COLLATE "C", cittadinanza COLLATE "C",
                     fascia_isee COLLATE "C", fascia_beneficio COLLATE "C", mese_presentazione COLLATE "C"
        ORDER BY provincia COLLATE "C", md5($6 || cf_canonico) COLLATE "C"
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n_reg
    FROM classi
)
SELECT cf_canonico,
       CASE WHEN n_prov >= $5 THEN provincia WHEN n_reg >= $5 THEN 'REGIONE-' || regione END AS territorio,
       n_prov < $5 AS generalizzato,
       sesso, fascia_eta, cittadinanza, fascia_isee, fascia_beneficio, mese_presentazione,
       stato_did, patto_lavoro_attivo, patto_inclusione_attivo, trasferimenti
FROM regioni`

// sortMemory is PostgreSQL's work_mem for an export's query.
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
	orderKey := pseud.Of("order")
	// The window counts sort the period twice: let PostgreSQL sort in memory
	// (its memory, for this transaction only), not in temporary files.
	tx, err := x.db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return st, db.Translate(fmt.Errorf("begin microdata: %w", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// JIT compilation costs more than it saves on this one-pass query.
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '`+sortMemory+`'; SET LOCAL jit = off`); err != nil {
		return st, db.Translate(fmt.Errorf("set sort memory: %w", err))
	}
	rows, err := tx.Query(ctx, microdataSQL, j.da.Time(), j.a.Time(), rc.region, euISO3, k, orderKey)
	if err != nil {
		return st, db.Translate(fmt.Errorf("query microdata: %w", err))
	}
	defer rows.Close()
	out, err := newTable[microRow](format, w, microdataColumns)
	if err != nil {
		return st, err
	}
	var (
		code        string
		territorio  *string
		generalised bool
		r           microRow
	)
	for rows.Next() {
		if err := rows.Scan(&code, &territorio, &generalised, &r.Sesso, &r.FasciaEta, &r.Cittadinanza, &r.FasciaISEE, &r.FasciaBeneficio,
			&r.MesePresentazione, &r.StatoDID, &r.PattoLavoroAttivo, &r.PattoInclusioneAttivo, &r.TrasferimentiPeriodo); err != nil {
			return st, db.Translate(fmt.Errorf("read microdata: %w", err))
		}
		st.Read++
		progress.Store(st.Read)
		if territorio == nil {
			st.Suppressed++
			continue
		}
		if generalised {
			st.Generalised++
		}
		st.Released++
		r.Pseudonimo, r.Territorio = pseud.Of(code), *territorio
		if err := out.Write(r); err != nil {
			return st, err
		}
	}
	if err := rows.Err(); err != nil {
		return st, db.Translate(fmt.Errorf("read microdata: %w", err))
	}
	return st, out.Close()
}
