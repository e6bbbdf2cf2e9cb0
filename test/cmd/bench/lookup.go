package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/cache"
	"github.com/rdc-interop/faas/test/harness"
)

// benchLookup compares a household look-up through the gateway (token, audit
// on) with a bare net/http handler doing one pgx look-up of the same person,
// with no auth and no audit, on the same database: the baseline of every
// look-up is the same, so the ratios of the look-ups compare.
func benchLookup(function, client string) func(context.Context, *harness.Harness, loadConfig) error {
	return func(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
		return runLookup(ctx, h, cfg, function, client)
	}
}

func runLookup(ctx context.Context, h *harness.Harness, cfg loadConfig, function, client string) error {
	codes, bodies, err := lookupBodies(ctx, h, cfg.sample)
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
	cached0 := cache.Totals()

	base, subj := compare(ctx, function, cfg,
		func(i int) (*http.Request, error) { return jsonPost(baseURL, "", bodies[i%len(bodies)]) },
		func(i int) (*http.Request, error) { return jsonPost(url, tok, bodies[i%len(bodies)]) })

	// Every answer must have left its audit record.
	var audited int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE function = $1`, function).Scan(&audited); err != nil {
		return err
	}
	fmt.Printf("  audit records written during the run: %d\n", audited-audited0)
	cached := cache.Totals()
	local, rds, miss := cached.Local-cached0.Local, cached.Redis-cached0.Redis, cached.Miss-cached0.Miss
	if all := float64(local + rds + miss); all > 0 {
		fmt.Printf("  look-ups drawn from %d persons of the data set (-sample); answered from process cache %.2f, Redis %.2f, PostgreSQL %.2f\n",
			len(codes), float64(local)/all, float64(rds)/all, float64(miss)/all)
	}
	fmt.Printf("  targets: throughput ≥ 0.70 of baseline, p99 ≤ 3× baseline\n\n")
	return check(base.errors == 0 && subj.errors == 0, "errors during the run: baseline %d, %s %d", base.errors, function, subj.errors)
}

// lookupBodies are the look-ups' request bodies, one per person drawn.
func lookupBodies(ctx context.Context, h *harness.Harness, n int) ([]string, [][]byte, error) {
	codes, err := sampleCodes(ctx, h.DB, n)
	if err != nil {
		return nil, nil, err
	}
	bodies := make([][]byte, len(codes))
	for i, c := range codes {
		bodies[i], _ = json.Marshal(map[string]string{"codice_fiscale": c})
	}
	return codes, bodies, nil
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
