package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/cache"
	"github.com/rdc-interop/faas/test/harness"
)

// benchLookup compares a household look-up through the gateway (token, audit
// on) with a bare net/http handler doing one pgx look-up of the same person,
// with no auth and no audit, on the same database: the baseline of every
// look-up is the same, so the ratios of the look-ups compare.
//
// It measures twice, always: hot, with the persons drawn from -sample of
// them (the process cache answers most), and cold, with persons drawn from
// the whole data set and none asked twice in the run, so that every answer
// is read from PostgreSQL. Then it checks a sample of answers against an
// independent SQL computation of them.
func benchLookup(function, client string) func(context.Context, *harness.Harness, loadConfig) error {
	return func(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
		return runLookup(ctx, h, cfg, function, client)
	}
}

// coldDraw is how many persons the cold rounds are drawn from: more than a
// run asks for, so none is asked twice.
const coldDraw = 1_500_000

func runLookup(ctx context.Context, h *harness.Harness, cfg loadConfig, function, client string) error {
	hot, err := sampleCodes(ctx, h.DB, cfg.sample)
	if err != nil {
		return err
	}
	cold, err := drawCodes(ctx, h.DB, coldDraw)
	if err != nil {
		return err
	}
	baseURL, stop, err := startBaseline(h.DBURL)
	if err != nil {
		return err
	}
	defer stop()
	tok, err := h.Token(ctx, client)
	if err != nil {
		return err
	}
	url := h.URL(function, "")
	var audited0 int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE function = $1`, function).Scan(&audited0); err != nil {
		return err
	}

	type side struct {
		label      string
		codes      []string
		base, subj result
		hits       float64
		asked      int64
	}
	sides := []*side{{label: "hot: drawn from -sample persons", codes: hot},
		{label: "cold: the whole data set, none twice", codes: cold}}
	for _, sd := range sides {
		// One cursor per side for the whole run: the cold rounds never
		// repeat a person, whichever round or warm-up asks.
		var baseNext, subjNext atomic.Int64
		body := func(n int64) []byte { return lookupBody(sd.codes[int(n)%len(sd.codes)]) }
		c0 := cache.Totals()
		sd.base, sd.subj = compare(ctx, function+", "+sd.label, cfg,
			func(int) (*http.Request, error) { return jsonPost(baseURL, "", body(baseNext.Add(1))) },
			func(int) (*http.Request, error) { return jsonPost(url, tok, body(subjNext.Add(1))) })
		c := cache.Totals()
		if all := float64(c.Hit - c0.Hit + c.Miss - c0.Miss); all > 0 {
			sd.hits = float64(c.Hit-c0.Hit) / all
		}
		sd.asked = subjNext.Load()
	}
	if n := sides[1].asked; n > int64(len(cold)) {
		fmt.Printf("  the cold rounds asked %d times of %d persons: some twice (a shorter -duration keeps them cold)\n", n, len(cold))
	}

	// Every answer must have left its audit record.
	var audited int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE function = $1`, function).Scan(&audited); err != nil {
		return err
	}
	answered := int64(0)
	for _, sd := range sides {
		answered += int64(sd.subj.requests)
	}
	fmt.Printf("%s, hot (%d persons drawn from) and cold (%d, none twice)\n", function, len(hot), len(cold))
	fmt.Printf("  %-38s %10s %8s %8s %14s\n", "", "throughput", "p50", "p99", "process cache")
	for _, sd := range sides {
		fmt.Printf("  %-38s %10.2f %7.2f× %7.2f× %14.2f\n", sd.label, sd.subj.rps()/sd.base.rps(),
			float64(sd.subj.pct(0.5))/float64(sd.base.pct(0.5)), float64(sd.subj.pct(0.99))/float64(sd.base.pct(0.99)), sd.hits)
	}
	fmt.Printf("  audit records written: %d for %d answers (and the warm-ups')\n", audited-audited0, answered)
	checked, err := checkAnswers(ctx, h, function, tok, cold[len(cold)-answerChecks:])
	if err != nil {
		return fmt.Errorf("answers: %w", err)
	}
	fmt.Printf("  answers checked against an independent SQL computation: %d, all equal\n", checked)
	fmt.Printf("  targets: throughput ≥ 0.70 of baseline, p99 ≤ 2× baseline, hot and cold\n\n")
	for _, sd := range sides {
		if sd.base.errors+sd.subj.errors > 0 {
			return fmt.Errorf("errors during the %s run: baseline %d, %s %d", sd.label, sd.base.errors, function, sd.subj.errors)
		}
	}
	return check(audited-audited0 >= answered, "%d audit records for %d answers", audited-audited0, answered)
}

// lookupBody is a look-up's request body. The load loops build one per
// request (a cold run draws from up to 1,500,000 persons): the code alone is
// encoded, not a map.
func lookupBody(code string) []byte {
	q, _ := json.Marshal(code) // a string always marshals
	return slices.Concat([]byte(`{"codice_fiscale":`), q, []byte(`}`))
}

// lookupBodies are look-ups' request bodies, one per person drawn from n.
func lookupBodies(ctx context.Context, h *harness.Harness, n int) ([]string, [][]byte, error) {
	codes, err := sampleCodes(ctx, h.DB, n)
	if err != nil {
		return nil, nil, err
	}
	bodies := make([][]byte, len(codes))
	for i, c := range codes {
		bodies[i] = lookupBody(c)
	}
	return codes, bodies, nil
}

// drawCodes draws about n persons' codes from the whole data set (all of
// them when it holds fewer), in random order.
func drawCodes(ctx context.Context, pool *pgxpool.Pool, n int) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT cf_canonico FROM componente
		TABLESAMPLE BERNOULLI (least(100, 100.0 * $1 / greatest(1, (SELECT reltuples FROM pg_class WHERE oid = 'componente'::regclass))))`, n)
	if err != nil {
		return nil, err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if len(codes) < answerChecks {
		return nil, fmt.Errorf("%d persons drawn: too few", len(codes))
	}
	// An order, not a secret: math/rand is what a load generator needs.
	rand.Shuffle(len(codes), func(i, j int) { codes[i], codes[j] = codes[j], codes[i] }) //nolint:gosec // see above
	return codes, nil
}

// sampleCodes draws up to n persons' codes, from a 5% sample of the table's
// pages when that is enough.
func sampleCodes(ctx context.Context, pool *pgxpool.Pool, n int) ([]string, error) {
	pct := 5.0
	if n > 20000 {
		pct = 100
	}
	rows, err := pool.Query(ctx, `SELECT cf_canonico FROM componente TABLESAMPLE SYSTEM ($2) LIMIT $1`, n, pct)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no persons to sample")
	}
	return out, rows.Err()
}

// startBaseline serves the bare look-up: decode, one pgx query, encode.
func startBaseline(dbURL string) (string, func(), error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return "", nil, err
	}
	cfg.MaxConns = 16 // as the functions' DB_MAX_CONNS
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			CodiceFiscale string `json:"codice_fiscale"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		var id, nucleo int64
		var code string
		err := pool.QueryRow(r.Context(), `SELECT id, nucleo_id, codice_fiscale FROM componente WHERE cf_canonico = $1`, in.CodiceFiscale).Scan(&id, &nucleo, &code)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"codice_fiscale": code, "id": id, "nucleo_id": nucleo}) // a failed write is the client's
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed when stopped
	return "http://" + ln.Addr().String() + "/", func() { srv.Close(); pool.Close() }, nil
}
