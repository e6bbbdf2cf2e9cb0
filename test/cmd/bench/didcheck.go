package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/rdc-interop/faas/test/harness"
)

// benchDidCheck compares did-check through the gateway (token, audit on) with
// a bare net/http handler doing one pgx look-up of the same person, with no
// auth and no audit, on the same database.
func benchDidCheck(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	codes, err := sampleCodes(ctx, h.DB, 20000)
	if err != nil {
		return err
	}
	bodies := make([][]byte, len(codes))
	for i, c := range codes {
		bodies[i], _ = json.Marshal(map[string]string{"codice_fiscale": c})
	}
	baseURL, stop, err := startBaseline(h.DBURL, cfg.concurrency)
	if err != nil {
		return err
	}
	defer stop()
	tok, err := h.Token(ctx, "gepi")
	if err != nil {
		return err
	}
	url := h.URL("did-check", "")
	var audited0 int64
	h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE function = 'did-check'`).Scan(&audited0)
	hits0, misses0 := redisStats(ctx)

	base, subj := compare(ctx, "did-check", cfg,
		func(i int) (*http.Request, error) { return jsonPost(baseURL, "", bodies[i%len(bodies)]) },
		func(i int) (*http.Request, error) { return jsonPost(url, tok, bodies[i%len(bodies)]) })

	// Every answer must have left its audit record.
	var audited int64
	h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE function = 'did-check'`).Scan(&audited)
	fmt.Printf("  audit records written during the run: %d\n", audited-audited0)
	hits, misses := redisStats(ctx)
	if hits+misses > hits0+misses0 {
		fmt.Printf("  look-ups drawn from %d persons of the data set; Redis cache hit ratio %.2f (make bench with REDIS_URL= set empty measures the uncached path)\n",
			len(codes), float64(hits-hits0)/float64(hits+misses-hits0-misses0))
	} else {
		fmt.Printf("  look-ups drawn from %d persons of the data set; no Redis cache in use\n", len(codes))
	}
	fmt.Printf("  targets: throughput ≥ 0.70 of baseline, p99 ≤ 3× baseline\n\n")
	return check(base.errors == 0 && subj.errors == 0, "errors during the run: baseline %d, did-check %d", base.errors, subj.errors)
}

// redisStats reads the Redis server's keyspace hits and misses (the run's
// Redis serves this benchmark only).
func redisStats(ctx context.Context) (hits, misses int64) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		return 0, 0
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return 0, 0
	}
	c := redis.NewClient(opts)
	defer c.Close()
	info, err := c.Info(ctx, "stats").Result()
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "keyspace_hits:"); ok {
			hits, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "keyspace_misses:"); ok {
			misses, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return hits, misses
}

func sampleCodes(ctx context.Context, pool *pgxpool.Pool, n int) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT cf_canonico FROM componente TABLESAMPLE SYSTEM (5) LIMIT $1`, n)
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
func startBaseline(dbURL string, conns int) (string, func(), error) {
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
			http.Error(w, "bad", 400)
			return
		}
		var id, nucleo int64
		var code string
		err := pool.QueryRow(r.Context(), `SELECT id, nucleo_id, codice_fiscale FROM componente WHERE cf_canonico = $1`, in.CodiceFiscale).Scan(&id, &nucleo, &code)
		if err != nil {
			http.Error(w, "not found", 404)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"codice_fiscale": code, "id": id, "nucleo_id": nucleo})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() { srv.Close(); pool.Close() }, nil
}
