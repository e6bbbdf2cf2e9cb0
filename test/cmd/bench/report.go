package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/test/harness"
)

const (
	reportBranches  = 50
	reportCitizens  = 200_000
	reportInterests = 1_000_000
	reportOffers    = 1_000
)

// benchDailyReport makes agency 1001's daily report with 50 branches,
// 200,000 citizens and 1,000,000 interest expressions through
// apl-daily-report (figures with their 7- and 30-day trend, workbook with
// its chart, JSON twin, MinIO), against the plain SQL aggregates that
// compute the same figures and windows, in the same run.
func benchDailyReport(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	if err := seedReport(ctx, h); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	tok, err := h.Token(ctx, offersClient)
	if err != nil {
		return err
	}
	y, m, d := time.Now().Date()
	day := time.Date(y, m, d-1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	var plain, fn time.Duration
	rounds := max(1, cfg.rounds)
	for range rounds {
		dur, err := plainReport(ctx, h, day)
		if err != nil {
			return fmt.Errorf("plain SQL: %w", err)
		}
		plain += dur
		if _, err := h.DB.Exec(ctx, `DELETE FROM report_apl WHERE apl_id = $1 AND giorno = $2`, offersAPL, day); err != nil {
			return err
		}
		start := time.Now()
		req, _ := jsonPost(h.URL("apl-daily-report", ""), tok, []byte(`{"data":"`+day+`"}`))
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("apl-daily-report: status %d", resp.StatusCode)
		}
		fn += time.Since(start)
	}
	fmt.Printf("apl-daily-report, one agency: %d branches, %d citizens, %d interest expressions (%d round(s))\n",
		reportBranches, reportCitizens, reportInterests, rounds)
	fmt.Printf("  %-34s %10s\n", "", "time")
	fmt.Printf("  %-34s %10s\n", "plain SQL aggregates", (plain / time.Duration(rounds)).Round(time.Millisecond))
	fmt.Printf("  %-34s %10s\n", "report (Excel+chart, JSON, MinIO)", (fn / time.Duration(rounds)).Round(time.Millisecond))
	headline("apl-daily-report: × the plain queries' time", fn.Seconds()/plain.Seconds())
	fmt.Printf("  ratio      %.2f× the plain queries' time\n", fn.Seconds()/plain.Seconds())
	fmt.Printf("  target: ≤ 2×\n\n")
	return nil
}

// seedReport brings agency 1001 to the benchmark's size.
func seedReport(ctx context.Context, h *harness.Harness) error {
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO apl_filiale (codice, apl_id, denominazione)
		SELECT '1001-B' || lpad(g::text, 2, '0'), '1001', 'Filiale bench ' || g
		FROM generate_series(1, $1 - (SELECT count(*) FROM apl_filiale WHERE apl_id = '1001')) g`, reportBranches)
	b.Queue(`
		INSERT INTO scelta_apl (componente_id, apl_id, filiale, scelta_il)
		SELECT m.id, '1001', f.codice[1 + m.id % cardinality(f.codice)], now() - (m.id % 400) * interval '1 day'
		FROM (SELECT id FROM componente ORDER BY id LIMIT $1) m,
		     (SELECT array_agg(codice ORDER BY codice) AS codice FROM apl_filiale WHERE apl_id = '1001') f
		ON CONFLICT DO NOTHING`, reportCitizens)
	b.Queue(`
		INSERT INTO offerta (id, apl_id, riferimento_apl, filiale, titolo, descrizione, comune, numero_posti, stato,
		                     data_pubblicazione, data_fine_pubblicazione, creato_il)
		SELECT md5('bench-report/' || g)::uuid, '1001', 'bench-rep-' || g, f.codice[1 + g % cardinality(f.codice)],
		       'Operaio', 'Offerta per il report', (SELECT min(codice_istat) FROM comune), 1,
		       (ARRAY['PUBBLICATA', 'SOSPESA', 'CHIUSA', 'BOZZA'])[1 + g % 4],
		       CASE WHEN g % 4 <> 3 THEN current_date - 200 END, CASE WHEN g % 4 <> 3 THEN current_date + g % 30 END,
		       now() - interval '300 days'
		FROM generate_series(1, $1) g, (SELECT array_agg(codice ORDER BY codice) AS codice FROM apl_filiale WHERE apl_id = '1001') f`, reportOffers)
	b.Queue(`
		INSERT INTO manifestazione_interesse (offerta_id, componente_id, creata_il)
		SELECT md5('bench-report/' || g)::uuid, m.id, now() - ((m.id + g) % 180) * interval '1 day' - (m.id % 3600) * interval '1 second'
		FROM generate_series(1, $1) g, (SELECT id FROM componente ORDER BY id LIMIT $2) m`, reportOffers, reportInterests/reportOffers)
	b.Queue(`ANALYZE apl_filiale`)
	b.Queue(`ANALYZE scelta_apl`)
	b.Queue(`ANALYZE offerta`)
	b.Queue(`ANALYZE manifestazione_interesse`)
	return h.DB.SendBatch(ctx, b).Close()
}

// plainReport computes the report's figures with plain aggregates, read to
// the last row: the branches with their towns, the citizens and the
// interest expressions of each branch and offer as of the day's end and in
// each window (the day, the day before, the last 7 and 30 days, bounds at
// midnight in Rome), the chart's interests per branch and day over the 30
// days, the offers per state and those ending soon.
func plainReport(ctx context.Context, h *harness.Harness, day string) (time.Duration, error) {
	start := time.Now()
	midnight := func(daysBefore int) string {
		return fmt.Sprintf("(('%s'::date - %d)::timestamp AT TIME ZONE 'Europe/Rome')", day, daysBefore)
	}
	to, from, prev, week, month := midnight(-1), midnight(0), midnight(1), midnight(6), midnight(29)
	windows := func(col string) string {
		return `count(*) FILTER (WHERE ` + col + ` >= ` + from + `), count(*) FILTER (WHERE ` + col + ` >= ` + prev + ` AND ` + col + ` < ` + from + `),
		        count(*) FILTER (WHERE ` + col + ` >= ` + week + `), count(*) FILTER (WHERE ` + col + ` >= ` + month + `)`
	}
	queries := []string{
		`SELECT f.codice, f.denominazione, c.nome FROM apl_filiale f LEFT JOIN comune c ON c.codice_istat = f.comune WHERE f.apl_id = '1001'`,
		`SELECT s.filiale, count(*), ` + windows("s.scelta_il") + `
		 FROM scelta_apl s WHERE s.apl_id = '1001' AND s.scelta_il < ` + to + ` GROUP BY 1`,
		`SELECT o.filiale, count(*), ` + windows("mi.creata_il") + `
		 FROM offerta o JOIN manifestazione_interesse mi ON mi.offerta_id = o.id AND mi.creata_il < ` + to + ` WHERE o.apl_id = '1001' GROUP BY 1`,
		`SELECT o.id, o.riferimento_apl, o.titolo, count(*), ` + windows("mi.creata_il") + `
		 FROM offerta o JOIN manifestazione_interesse mi ON mi.offerta_id = o.id AND mi.creata_il < ` + to + ` WHERE o.apl_id = '1001' GROUP BY 1`,
		`SELECT o.filiale, (mi.creata_il AT TIME ZONE 'Europe/Rome')::date, count(*)
		 FROM offerta o JOIN manifestazione_interesse mi ON mi.offerta_id = o.id AND mi.creata_il >= ` + month + ` AND mi.creata_il < ` + to + `
		 WHERE o.apl_id = '1001' GROUP BY 1, 2`,
		`SELECT CASE WHEN stato = 'PUBBLICATA' AND data_fine_pubblicazione < '` + day + `' THEN 'SCADUTA' ELSE stato END, count(*)
		 FROM offerta WHERE apl_id = '1001' GROUP BY 1`,
		`SELECT id, riferimento_apl, titolo FROM offerta WHERE apl_id = '1001' AND stato = 'PUBBLICATA'
		   AND data_fine_pubblicazione > '` + day + `' AND data_fine_pubblicazione <= '` + day + `'::date + 7`,
	}
	for _, q := range queries {
		rows, err := h.DB.Query(ctx, strings.TrimSpace(q))
		if err != nil {
			return 0, err
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
