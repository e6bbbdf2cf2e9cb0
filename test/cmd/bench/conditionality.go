package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/test/harness"
)

// benchConditionality compares conditionality-events' report through the
// gateway (token, Idempotency-Key, strict decoding, the rule, the person's
// look-up, audit, outbox) with a bare pgx transaction writing the same
// rows: the idempotency key, the event with its answer, the outbox row and
// the audit record, after the same look-up of the person. Each request
// reports a new fact (its own riferimento), about a person drawn from a
// sample of the data set, so neither side meets the uniqueness of events.
func benchConditionality(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	codes, err := conditionalitySample(ctx, h.DB, cfg.sample)
	if err != nil {
		return err
	}
	if len(codes) == 0 {
		return fmt.Errorf("no persons in the data set")
	}
	baseURL, stop, err := startConditionalityBaseline(h.DBURL)
	if err != nil {
		return err
	}
	defer stop()
	tok, err := h.Token(ctx, "anpal")
	if err != nil {
		return err
	}
	url := h.URL("conditionality-events", "")
	day := civil.Today(time.Now()).String()
	run := uuid.NewString()[:8]
	var n atomic.Int64
	body := func(side string) []byte {
		i := n.Add(1)
		b, _ := json.Marshal(map[string]string{ // a map of strings always encodes
			"codice_fiscale": codes[int(i)%len(codes)], "tipo": "MANCATA_PRESENTAZIONE_CONVOCAZIONE", "data_evento": day,
			"riferimento": "BENCH-" + side + "-" + run + "-" + strconv.FormatInt(i, 10),
		})
		return b
	}
	keyed := func(req *http.Request, err error) (*http.Request, error) {
		if err == nil {
			req.Header.Set("Idempotency-Key", uuid.NewString())
		}
		return req, err
	}
	base, subj := compare(ctx, "conditionality-events", cfg,
		func(int) (*http.Request, error) { return keyed(jsonPost(baseURL, "", body("B"))) },
		func(int) (*http.Request, error) { return keyed(jsonPost(url, tok, body("F"))) })
	fmt.Printf("  events reported: %d, over %d persons\n", n.Load(), len(codes))
	fmt.Printf("  target: throughput ≥ 0.50 of baseline\n\n")
	return check(base.errors == 0 && subj.errors == 0, "errors during the run: baseline %d, conditionality-events %d", base.errors, subj.errors)
}

// conditionalitySample draws up to n persons of the data set.
func conditionalitySample(ctx context.Context, pool *pgxpool.Pool, n int) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT cf_canonico FROM componente ORDER BY id LIMIT $1`, max(n, 1))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// startConditionalityBaseline serves the bare transaction.
func startConditionalityBaseline(dbURL string) (string, func(), error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return "", nil, err
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			CodiceFiscale string `json:"codice_fiscale"`
			Tipo          string `json:"tipo"`
			DataEvento    string `json:"data_evento"`
			Riferimento   string `json:"riferimento"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		id := uuid.Must(uuid.NewV7())
		now := time.Now().UTC().Truncate(time.Microsecond)
		answer, _ := json.Marshal(map[string]string{"id_evento": id.String(), "tipo": in.Tipo, "data_evento": in.DataEvento, // strings always encode
			"registrato_il": now.Format(time.RFC3339Nano), "destinatario": "INPS"})
		err := pgx.BeginFunc(r.Context(), pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(r.Context(), `INSERT INTO idempotenza (client_id, funzione, metodo, percorso, chiave, impronta) VALUES ('bench', 'baseline', 'POST', '/', $1, '\x00')`,
				r.Header.Get("Idempotency-Key")); err != nil {
				return err
			}
			var nucleo, member int64
			var issued string
			if err := tx.QueryRow(r.Context(), `SELECT nucleo_id, id, codice_fiscale FROM componente WHERE cf_canonico = $1`, in.CodiceFiscale).Scan(&nucleo, &member, &issued); err != nil {
				return err
			}
			notice, _ := json.Marshal(map[string]string{"id_evento": id.String(), "codice_fiscale": issued, "tipo": in.Tipo, // strings always encode
				"data_evento": in.DataEvento, "lato": "CPI", "segnalante": "ANPAL", "riferimento": in.Riferimento, "registrato_il": now.Format(time.RFC3339Nano)})
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO evento_condizionalita (id, componente_id, nucleo_id, tipo, data_evento, lato, segnalante, client_id, riferimento, creato_il, risposta)
			         VALUES ($1, $2, $3, $4, $5, 'CPI', 'ANPAL', 'bench', $6, $7, $8)`, id, member, nucleo, in.Tipo, in.DataEvento, in.Riferimento, now, answer)
			b.Queue(`INSERT INTO consegna (id, destinatario, tipo, corpo, nucleo_id, creato_il, prossimo_tentativo) VALUES ($1, 'INPS', 'CONDIZIONALITA', $2, $3, $4, $4)`,
				id, notice, nucleo, now)
			b.Queue(`INSERT INTO audit_log (at, request_id, client_id, org, function, action, subject_ref, nucleo_id, outcome, status)
			         VALUES ($1, 'bench', 'bench', 'BENCH', 'baseline', 'baseline', 'x', $2, 'created', 201)`, now, nucleo)
			b.Queue(`UPDATE idempotenza SET risorsa = $2 WHERE client_id = 'bench' AND funzione = 'baseline' AND metodo = 'POST' AND percorso = '/' AND chiave = $1`,
				r.Header.Get("Idempotency-Key"), id.String())
			return tx.SendBatch(r.Context(), b).Close()
		})
		if err != nil {
			http.Error(w, "failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer) // a failed write is the client's
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
