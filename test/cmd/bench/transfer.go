package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/test/harness"
)

// benchTransfer compares transfer-to-cpi through the gateway (token,
// Idempotency-Key, audit, outbox) with a bare pgx transaction writing the
// same rows: the transfer with an answer of the same size, the household's
// new service, the outbox row, the audit record and the idempotency key.
// Each request moves a different household: a transfer happens once.
func benchTransfer(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	codes, err := transferable(ctx, h.DB)
	if err != nil {
		return err
	}
	var baseCodes, fnCodes []string
	for i, c := range codes {
		if i%2 == 0 {
			baseCodes = append(baseCodes, c)
		} else {
			fnCodes = append(fnCodes, c)
		}
	}
	baseURL, stop, err := startTransferBaseline(h.DBURL)
	if err != nil {
		return err
	}
	defer stop()
	tok, err := h.Token(ctx, "gepi")
	if err != nil {
		return err
	}
	url := h.URL("transfer-to-cpi", "")
	var nb, nf atomic.Int64
	var exhausted atomic.Bool
	take := func(list []string, n *atomic.Int64) []byte {
		i := int(n.Add(1)) - 1
		if i >= len(list) {
			exhausted.Store(true)
			i %= len(list) // a repeat is a 409: counted as an error
		}
		b, _ := json.Marshal(map[string]string{"codice_fiscale": list[i]})
		return b
	}
	keyed := func(req *http.Request, err error) (*http.Request, error) {
		if err == nil {
			req.Header.Set("Idempotency-Key", uuid.NewString())
		}
		return req, err
	}
	// Each request uses up a household, and the data set has a few tens of
	// thousands per side: rounds are kept short enough not to run out on a
	// fast machine (2 × 4 s at ~3,000 req/s is 24,000 per side).
	cfg.duration = min(cfg.duration, 4*time.Second)
	base, subj := compare(ctx, "transfer-to-cpi", cfg,
		func(int) (*http.Request, error) { return keyed(jsonPost(baseURL, "", take(baseCodes, &nb))) },
		func(int) (*http.Request, error) { return keyed(jsonPost(url, tok, take(fnCodes, &nf))) })
	fmt.Printf("  households available: %d per side; used: baseline %d, function %d\n", len(fnCodes), nb.Load(), nf.Load())
	fmt.Printf("  target: throughput ≥ 0.50 of baseline\n\n")
	if exhausted.Load() {
		return fmt.Errorf("ran out of transferable households: use a larger -persons or shorter rounds")
	}
	return check(base.errors == 0 && subj.errors == 0, "errors during the run: baseline %d, transfer-to-cpi %d", base.errors, subj.errors)
}

// transferable lists, per household that can go to the CPI, a member to be
// called in by it.
func transferable(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT DISTINCT ON (m.nucleo_id) m.cf_canonico
		FROM componente m JOIN nucleo n ON n.id = m.nucleo_id
		WHERE m.da_convocare_cpi AND n.servizio_competente <> 'CPI'
		ORDER BY m.nucleo_id, m.id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// startTransferBaseline serves the bare transaction.
func startTransferBaseline(dbURL string) (string, func(), error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return "", nil, err
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return "", nil, err
	}
	// An answer the size of a real one (a household of three, two concerned).
	answer := `{"esito":"TRASFERITO","nucleo":{` + strings.Repeat(`"campo":"valore di prova",`, 14) + `"x":1},"beneficiari":[` +
		strings.Repeat(`{`+strings.Repeat(`"campo":"valore di prova",`, 8)+`"x":1},`, 1) + `{"x":1}]}`
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			CodiceFiscale string `json:"codice_fiscale"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		id := uuid.Must(uuid.NewV7())
		err := pgx.BeginFunc(r.Context(), pool, func(tx pgx.Tx) error {
			var nucleo, member int64
			if err := tx.QueryRow(r.Context(), `SELECT nucleo_id, id FROM componente WHERE cf_canonico = $1`, in.CodiceFiscale).Scan(&nucleo, &member); err != nil {
				return err
			}
			stmts := []struct {
				sql  string
				args []any
			}{
				{`INSERT INTO idempotenza (client_id, funzione, chiave, impronta, risorsa) VALUES ('bench', 'baseline', $1, '\x00', $2)`, []any{r.Header.Get("Idempotency-Key"), id.String()}},
				{`INSERT INTO trasferimento (id, nucleo_id, verso, da, componenti, client_id, org, request_id, risposta)
				  VALUES ($1, $2, 'CPI', 'NESSUNO', $3, 'bench', 'BENCH', 'bench', $4)`, []any{id, nucleo, []int64{member}, answer}},
				{`UPDATE nucleo SET servizio_competente = 'CPI', aggiornato_il = now() WHERE id = $1`, []any{nucleo}},
				{`INSERT INTO consegna (id, destinatario, tipo, corpo, nucleo_id) VALUES ($1, 'ANPAL', 'TRASFERIMENTO', $2, $3)`, []any{id, answer, nucleo}},
				{`INSERT INTO audit_log (at, request_id, client_id, org, function, action, nucleo_id, outcome, status)
				  VALUES (now(), 'bench', 'bench', 'BENCH', 'baseline', 'baseline', $1, 'created', 201)`, []any{nucleo}},
			}
			for _, s := range stmts {
				if _, err := tx.Exec(r.Context(), s.sql, s.args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			http.Error(w, "failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id_trasferimento": id.String()}) // a failed write is the client's
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
