package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	controller "github.com/rdc-interop/faas/functions/audit-controller"
	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/test/harness"
)

var (
	auditRecords = flag.Int("audit-records", 10_000_000, "audit records audit-queries generates")
	auditSamples = flag.Int("audit-samples", 2000, "questions audit-queries times on each side (route, SQL) for each question")
)

// auditClients is how many clients the generated trail spreads over.
const auditClients = 50

// benchAuditQueries times the data controller's two questions of the audit
// trail (audit-controller) on a trail of 10,000,000 records: who accessed
// a person (the first page, newest first) for random persons of the data
// set, and what a client did in 30 days ending on a random day of the year
// (a page of 100). Each is asked through the route (token, body, the
// subject's HMAC, the query, the question's own audit record) and as the
// bare SQL statement the function runs, alternating, each question about a
// subject or a day not asked before (cold-ish: the trail is 3 GB and more,
// shared buffers 512 MB; the OS cache holds what was just written). It
// prints p50 and p99 and the route's ratio to the SQL, and the plans that
// show the indexes of migration 028 doing the work.
func benchAuditQueries(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	codes, refs, err := auditSubjects(ctx, h)
	if err != nil {
		return err
	}
	clients := auditClientNames()
	gen, err := generateTrail(ctx, h, refs, clients)
	if err != nil {
		return fmt.Errorf("generate the trail: %w", err)
	}
	// The Merkle log (audit-log) takes in the new records now, in one run
	// without the cron call's minute: its every-minute run would otherwise
	// spend the questions' time on them.
	t0 := time.Now()
	seqCtx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	logSize, seqErr := auditlog.New(h.DB, nil).Sequence(seqCtx)
	cancel()
	sequenced := time.Since(t0)
	settle, err := settleDatabase(ctx, h)
	if err != nil {
		return err
	}
	var total int64
	var size string
	if err := h.DB.QueryRow(ctx, `SELECT count(*), pg_size_pretty(pg_table_size('audit_log')) FROM audit_log`).Scan(&total, &size); err != nil {
		return err
	}
	fmt.Printf("audit-queries: %d audit records (%s; %d subjects, %d clients, 12 months), generated in %.1fs with the indexes in place\n",
		total, size, len(refs), len(clients), gen.Seconds())
	if seqErr != nil {
		fmt.Printf("  the Merkle log did not take them in (%v after %.0fs): the figures below ran alongside its every-minute attempts\n", seqErr, sequenced.Seconds())
	} else {
		fmt.Printf("  the Merkle log took them in in %.1fs (log size %d)\n", sequenced.Seconds(), logSize)
	}
	fmt.Printf("  the database then settled in %.1fs\n", settle.Seconds())
	if err := printIndexes(ctx, h); err != nil {
		return err
	}

	tok, err := h.Token(ctx, "titolare")
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, h.DBURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	client := newClient(4)
	rng := rand.New(rand.NewPCG(7, 17)) //nolint:gosec // G404: a reproducible draw of subjects, not a secret

	// Each question is about a subject not asked before: the route's and
	// the SQL's from the same shuffled deck, alternating.
	n := min(*auditSamples, len(codes)/2)
	deck := rng.Perm(len(codes))
	var sqlSubject, routeSubject []time.Duration
	subjectURL := h.URL("audit-controller", "/subject")
	var rowsRoute, rowsSQL int
	for i := range n {
		s, r := deck[2*i], deck[2*i+1]
		sql, args := controller.Query{Limit: controller.DefaultLimit}.SubjectSQL(refs[s])
		d, rows, err := timeSQL(ctx, pool, sql, args)
		if err != nil {
			return fmt.Errorf("subject SQL: %w", err)
		}
		sqlSubject, rowsSQL = append(sqlSubject, d), rowsSQL+rows
		body, _ := json.Marshal(map[string]string{"codice_fiscale": codes[r]}) // a map of strings always encodes
		d, rows, err = timeRoute(ctx, client, http.MethodPost, subjectURL, tok, body)
		if err != nil {
			return fmt.Errorf("subject route: %w", err)
		}
		routeSubject, rowsRoute = append(routeSubject, d), rowsRoute+rows
	}
	printQuestion("who accessed a person (first page, newest first)", n, sqlSubject, routeSubject,
		fmt.Sprintf("%.1f records a page (SQL), %.1f (route)", float64(rowsSQL)/float64(n), float64(rowsRoute)/float64(n)))

	// What a client did: 30 days ending on a random day, a page of 100.
	var sqlClient, routeClient []time.Duration
	rowsSQL, rowsRoute = 0, 0
	day := func() url.Values {
		end := time.Now().In(rome()).AddDate(0, 0, -1-rng.IntN(330))
		return url.Values{"dal": {end.AddDate(0, 0, -29).Format(time.DateOnly)}, "al": {end.Format(time.DateOnly)}}
	}
	for range n {
		q := day()
		parsed, err := controller.ParseQuery(q)
		if err != nil {
			return err
		}
		sql, args := parsed.ClientSQL(clients[rng.IntN(len(clients))].id)
		d, rows, err := timeSQL(ctx, pool, sql, args)
		if err != nil {
			return fmt.Errorf("client SQL: %w", err)
		}
		sqlClient, rowsSQL = append(sqlClient, d), rowsSQL+rows
		u := h.URL("audit-controller", "/clients/"+clients[rng.IntN(len(clients))].id) + "?" + day().Encode()
		d, rows, err = timeRoute(ctx, client, http.MethodGet, u, tok, nil)
		if err != nil {
			return fmt.Errorf("client route: %w", err)
		}
		routeClient, rowsRoute = append(routeClient, d), rowsRoute+rows
	}
	printQuestion("what a client did (30 days ending on a random day, a page of 100)", n, sqlClient, routeClient,
		fmt.Sprintf("%.1f records a page (SQL), %.1f (route)", float64(rowsSQL)/float64(n), float64(rowsRoute)/float64(n)))

	// The plans: a subject and a client not asked before, as run (custom
	// plan, with the buffers read) and as a prepared statement's generic plan.
	s := deck[2*n]
	ok := true
	for _, p := range []struct {
		label, index string
		sql          string
		args         pgx.NamedArgs
	}{
		{label: "subject", index: "audit_log_subject_at_idx"},
		{label: "client, 30 days", index: "audit_log_client_at_idx"},
	} {
		if p.label == "subject" {
			p.sql, p.args = controller.Query{Limit: controller.DefaultLimit}.SubjectSQL(refs[s])
		} else {
			q, _ := controller.ParseQuery(day()) // the days day gives always parse
			p.sql, p.args = q.ClientSQL(clients[len(clients)-1].id)
		}
		custom, err := customPlan(ctx, pool, p.sql, p.args)
		if err != nil {
			return err
		}
		generic, err := genericPlan(ctx, pool, p.sql, p.args)
		if err != nil {
			return err
		}
		fmt.Printf("  EXPLAIN %s:\n", p.label)
		for _, l := range custom {
			fmt.Printf("    %s\n", l)
		}
		fmt.Printf("    generic plan: %s\n", strings.Join(generic, " / "))
		// An index scan (backwards, newest first), or for a few rows a
		// bitmap scan of the same index and a sort of those rows.
		uses := func(plan []string) bool {
			return slices.ContainsFunc(plan, func(l string) bool {
				return strings.Contains(l, "Index Scan Backward using "+p.index+" ") || strings.Contains(l, "Bitmap Index Scan on "+p.index)
			})
		}
		if !uses(custom) || !uses(generic) {
			fmt.Printf("    NOT the index %s\n", p.index)
			ok = false
		}
	}
	fmt.Printf("  target: each question in milliseconds through its index (p99 through the route under 10 ms)\n\n")
	return check(ok, "a question's plan does not use its index (above)")
}

// auditSubjects are the data set's persons and their trail references.
func auditSubjects(ctx context.Context, h *harness.Harness) ([]string, []string, error) {
	key, err := h.Config.Secrets.Get("audit-subject-key", "AUDIT_SUBJECT_KEY")
	if err != nil {
		return nil, nil, err
	}
	subjects := audit.NewSubjects([]byte(key))
	rows, err := h.DB.Query(ctx, `SELECT cf_canonico FROM componente ORDER BY id`)
	if err != nil {
		return nil, nil, err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, err
	}
	refs := make([]string, len(codes))
	for i, c := range codes {
		refs[i] = subjects.Ref(c)
	}
	return codes, refs, nil
}

type auditClient struct {
	id, org  string
	operator bool // its calls name their operator
}

// auditClientNames are 50 clients like the registry's: GePI's and ANPAL's
// (with and without operators), INPS, SIISL, the Ministry, Regions and
// agencies' users.
func auditClientNames() []auditClient {
	cs := []auditClient{{"gepi", "GEPI", false}, {"gepi-operatori", "GEPI", true}, {"anpal", "ANPAL", false}, {"anpal-operatori", "ANPAL", true},
		{"inps", "INPS", false}, {"siisl", "SIISL", false}, {"mlps", "MLPS", false}, {"-", "-", false}}
	for r := 1; len(cs) < 28; r++ {
		cs = append(cs, auditClient{fmt.Sprintf("regione-%02d", r), fmt.Sprintf("REGIONE:%02d", r), false})
	}
	for a := 1001; len(cs) < auditClients; a++ {
		cs = append(cs, auditClient{fmt.Sprintf("apl-%d-operatore", a), fmt.Sprintf("APL:%d", a), true})
	}
	return cs
}

// generateTrail adds *auditRecords records to audit_log, oldest first over
// the last 12 months (ids follow time, as the writer's do), in one
// INSERT … SELECT per million: the subjects are the data set's persons (80%
// of the accesses spread over all, 20% over a busy twentieth), one record
// in ten about no one (lists, jobs); the clients skewed (the first few take
// most: a quarter of all for the first two), the operators' clients naming
// one of 2,000 operators. The indexes stay and grow with the rows, as a
// live trail's do. The records commit at once, in one transaction, so
// that the Merkle log's sequencer meets none of them half-written.
func generateTrail(ctx context.Context, h *harness.Harness, refs []string, clients []auditClient) (time.Duration, error) {
	conn, err := pgx.Connect(ctx, h.DBURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	for _, s := range []string{`SET work_mem = '256MB'`, `SET maintenance_work_mem = '1GB'`, `SELECT setseed(0.42)`,
		`CREATE TEMP TABLE bench_subject (k int PRIMARY KEY, ref text NOT NULL)`} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return 0, err
		}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_subject"}, []string{"k", "ref"}, pgx.CopyFromSlice(len(refs), func(i int) ([]any, error) {
		return []any{i, refs[i]}, nil
	})); err != nil {
		return 0, err
	}
	if _, err := conn.Exec(ctx, `ANALYZE bench_subject`); err != nil {
		return 0, err
	}
	ids, orgs, operators := make([]string, len(clients)), make([]string, len(clients)), make([]bool, len(clients))
	for i, c := range clients {
		ids[i], orgs[i], operators[i] = c.id, c.org, c.operator
	}
	start := time.Now()
	total := int64(*auditRecords)
	span := 365 * 24 * time.Hour
	first := time.Now().Add(-span).UTC()
	step := span.Microseconds() / total
	const chunk = 1_000_000
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for lo := int64(1); lo <= total; lo += chunk {
			hi := min(lo+chunk-1, total)
			if _, err := tx.Exec(ctx, generateSQL, lo, hi, first, step, len(clients), len(refs), ids, orgs, operators); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) audit_log`); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// settleDatabase waits until nothing else runs in the bench's database for
// three seconds in a row (at most two minutes): the functions' background
// work done with the new records.
func settleDatabase(ctx context.Context, h *harness.Harness) (time.Duration, error) {
	start := time.Now()
	quiet := 0
	for quiet < 3 && time.Since(start) < 2*time.Minute {
		var busy int
		if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`).Scan(&busy); err != nil {
			return 0, err
		}
		if busy == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(time.Second)
	}
	if quiet < 3 {
		fmt.Println("  the database did not settle within two minutes: the figures below ran alongside background work")
	}
	return time.Since(start), nil
}

// generateSQL makes the records lo to hi: $3 the first one's time, $4
// microseconds between records, $5 clients, $6 subjects, $7-$9 the clients'
// ids, organisations and whether they name operators.
const generateSQL = `
WITH g AS (
	SELECT n, 1 + floor($5::int * random() ^ 2)::int AS c,
	       CASE WHEN random() < 0.8 THEN floor(random() * $6::int) ELSE floor(random() * ($6::int / 20)) END::int AS k,
	       random() AS r, floor(random() * 8)::int AS f, floor(random() * 2000)::int AS o
	FROM generate_series($1::bigint, $2::bigint) n)
INSERT INTO audit_log (at, request_id, client_id, org, function, action, subject_ref, nucleo_id, outcome, status,
                       operatore_id, operatore_ruolo, operatore_sede, operatore_loa)
SELECT $3::timestamptz + make_interval(secs => g.n * $4::bigint / 1e6), 'bench-' || g.n, ($7::text[])[g.c], ($8::text[])[g.c],
       CASE WHEN g.r < 0.1 THEN (ARRAY['conditionality-events', 'apl-interests', 'anonymised-export', 'transfer-to-cpi'])[1 + g.f % 4]
            ELSE (ARRAY['did-check', 'did-check', 'patto-check', 'did-holder-exclusion', 'did-check', 'transfer-to-cpi',
                        'transfer-to-social-services', 'conditionality-events'])[1 + g.f] END,
       CASE WHEN g.r < 0.1 THEN (ARRAY['conditionality-list', 'interests-list', 'export-download', 'scheduled-run'])[1 + g.f % 4]
            ELSE (ARRAY['did-check', 'did-check', 'patto-check', 'did-holder-exclusion', 'did-check', 'transfer', 'transfer',
                        'conditionality-event'])[1 + g.f] END,
       CASE WHEN g.r >= 0.1 THEN (SELECT b.ref FROM bench_subject b WHERE b.k = g.k) END,
       CASE WHEN g.r >= 0.1 THEN g.k + 1 END,
       CASE WHEN g.r < 0.1 THEN 'rows:' || g.o % 100 WHEN g.r < 0.85 THEN 'found' ELSE 'not_found' END,
       CASE WHEN g.r < 0.85 THEN 200 ELSE 404 END,
       CASE WHEN ($9::bool[])[g.c] THEN 'OPR-' || lpad(g.o::text, 4, '0') END,
       CASE WHEN ($9::bool[])[g.c] THEN (ARRAY['CASE_MANAGER', 'OPERATORE_CPI', 'COORDINATORE_PATTO'])[1 + g.o % 3] END,
       CASE WHEN ($9::bool[])[g.c] THEN 'SEDE-' || g.o % 150 END,
       CASE WHEN ($9::bool[])[g.c] THEN (ARRAY['LoA2', 'LoA3', 'LoA4'])[1 + g.o % 3] END
FROM g`

func printIndexes(ctx context.Context, h *harness.Harness) error {
	rows, err := h.DB.Query(ctx, `SELECT indexrelid::regclass::text, pg_size_pretty(pg_relation_size(indexrelid))
		FROM pg_index WHERE indrelid = 'audit_log'::regclass ORDER BY 1`)
	if err != nil {
		return err
	}
	var parts []string
	for rows.Next() {
		var name, size string
		if err := rows.Scan(&name, &size); err != nil {
			rows.Close()
			return err
		}
		parts = append(parts, name+" "+size)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Printf("  indexes of audit_log (each one costs every insert): %s\n", strings.Join(parts, ", "))
	return nil
}

// timeSQL runs a page's statement and reads its rows, as the baseline.
func timeSQL(ctx context.Context, pool *pgxpool.Pool, sql string, args pgx.NamedArgs) (time.Duration, int, error) {
	t0 := time.Now()
	rows, err := pool.Query(ctx, sql, args)
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	return time.Since(t0), n, rows.Err()
}

// timeRoute asks the function and reads its answer whole.
func timeRoute(ctx context.Context, client *http.Client, method, u, tok string, body []byte) (time.Duration, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%d: %s", resp.StatusCode, b)
	}
	var p struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return 0, 0, err
	}
	return d, len(p.Items), nil
}

func printQuestion(name string, n int, sql, route []time.Duration, note string) {
	slices.Sort(sql)
	slices.Sort(route)
	pct := func(ds []time.Duration, p float64) time.Duration { return ds[min(len(ds)-1, int(float64(len(ds))*p))] }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("  %s, %d questions each side, one at a time\n", name, n)
	fmt.Printf("  %-10s %10s %10s\n", "", "p50", "p99")
	fmt.Printf("  %-10s %10s %10s\n", "SQL", ms(pct(sql, 0.5)), ms(pct(sql, 0.99)))
	fmt.Printf("  %-10s %10s %10s\n", "route", ms(pct(route, 0.5)), ms(pct(route, 0.99)))
	headline("audit-queries: "+name+", p50 × the bare SQL", float64(pct(route, 0.5))/float64(pct(sql, 0.5)))
	fmt.Printf("  ratio      p50 %.2f×, p99 %.2f× the bare SQL; %s\n",
		float64(pct(route, 0.5))/float64(pct(sql, 0.5)), float64(pct(route, 0.99))/float64(pct(sql, 0.99)), note)
}

// customPlan is the plan of a page's statement as the function runs it,
// analysed: rows, loops and the buffers read.
func customPlan(ctx context.Context, pool *pgxpool.Pool, sql string, args pgx.NamedArgs) ([]string, error) {
	rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) "+sql, args)
	if err != nil {
		return nil, err
	}
	return planLines(rows)
}

// genericPlan is the plan a prepared statement settles on for any values
// (what pgx's statement cache runs after a few calls): the statement
// prepared on one connection with plan_cache_mode = force_generic_plan.
func genericPlan(ctx context.Context, pool *pgxpool.Pool, sql string, args pgx.NamedArgs) ([]string, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	types := map[string]string{"key": "text", "limit": "int", "from": "timestamptz", "to": "timestamptz", "after_at": "timestamptz", "after_id": "bigint"}
	var params, values []string
	positional := regexp.MustCompile(`@(\w+)`).ReplaceAllStringFunc(sql, func(m string) string {
		name := m[1:]
		for i, p := range params {
			if p == name {
				return fmt.Sprintf("$%d", i+1)
			}
		}
		params = append(params, name)
		var lit string
		switch v := args[name].(type) {
		case string:
			lit = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case time.Time:
			lit = "'" + v.UTC().Format(time.RFC3339Nano) + "'"
		default:
			lit = fmt.Sprint(v)
		}
		values = append(values, lit)
		return fmt.Sprintf("$%d", len(params))
	})
	var decl []string
	for _, p := range params {
		decl = append(decl, types[p])
	}
	for _, s := range []string{`SET plan_cache_mode = force_generic_plan`,
		`PREPARE bench_plan (` + strings.Join(decl, ", ") + `) AS ` + positional} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return nil, err
		}
	}
	defer conn.Exec(context.WithoutCancel(ctx), `DEALLOCATE bench_plan; RESET plan_cache_mode`) //nolint:errcheck // the connection then only plans differently
	rows, err := conn.Query(ctx, `EXPLAIN (COSTS OFF) EXECUTE bench_plan (`+strings.Join(values, ", ")+`)`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	return planLines(rows)
}

func planLines(rows pgx.Rows) ([]string, error) {
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return lines, nil
}

func rome() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return l
}
