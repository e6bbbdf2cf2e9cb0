package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/test/harness"
)

// equipeCases is how many open cases the events are spread over: enough
// that 32 connections seldom wait on one case's lock, as on a real day
// when each Equipe writes to its own case.
const equipeCases = 256

// benchEquipe compares equipe-coordination's event write through the
// gateway (token, Idempotency-Key, strict decoding, the case's lock and
// rules, the notification to the other side, audit) with a bare pgx
// transaction writing the same rows on the same cases: the idempotency
// key, the locked read of the case, the event with its answer, the case's
// update, the outbox row and the audit record. ANPAL adds meetings
// (INCONTRO), which any open case takes, so neither side is refused.
func benchEquipe(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	gepiTok, err := h.Token(ctx, "gepi")
	if err != nil {
		return err
	}
	cases, err := openEquipeCases(ctx, h, gepiTok, equipeCases)
	if err != nil {
		return err
	}
	baseURL, stop, err := startEquipeBaseline(h.DBURL)
	if err != nil {
		return err
	}
	defer stop()
	tok, err := h.Token(ctx, "anpal")
	if err != nil {
		return err
	}
	day := civil.Today(time.Now()).String()
	var n atomic.Int64
	next := func(base string) (string, []byte) {
		i := n.Add(1)
		b, _ := json.Marshal(map[string]string{"tipo": "INCONTRO", "data": day, "descrizione": "incontro " + strconv.FormatInt(i, 10)}) // strings always encode
		return base + cases[int(i)%len(cases)] + "/eventi", b
	}
	keyed := func(req *http.Request, err error) (*http.Request, error) {
		if err == nil {
			req.Header.Set("Idempotency-Key", uuid.NewString())
		}
		return req, err
	}
	fn := h.URL("equipe-coordination", "/")
	base, subj := compare(ctx, "equipe-coordination (events)", cfg,
		func(int) (*http.Request, error) { u, b := next(baseURL); return keyed(jsonPost(u, "", b)) },
		func(int) (*http.Request, error) { u, b := next(fn); return keyed(jsonPost(u, tok, b)) })
	fmt.Printf("  events added: %d, over %d open cases\n", n.Load(), len(cases))
	fmt.Printf("  target: throughput ≥ 0.50 of baseline\n\n")
	return check(base.errors == 0 && subj.errors == 0, "errors during the run: baseline %d, equipe-coordination %d", base.errors, subj.errors)
}

// openEquipeCases opens up to n cases through the function, one for each
// household of the data set with a member to be called in by the Comuni
// and no open case yet (the bench's earlier runs leave theirs open: they
// are reused).
func openEquipeCases(ctx context.Context, h *harness.Harness, tok string, n int) ([]string, error) {
	rows, err := h.DB.Query(ctx, `SELECT id::text FROM equipe_caso WHERE stato = 'APERTO' ORDER BY aperto_il LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	cases, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	rows, err = h.DB.Query(ctx, `
		SELECT DISTINCT ON (p.nucleo_id) p.cf_canonico FROM componente p
		WHERE p.da_convocare_comune AND NOT EXISTS (SELECT 1 FROM equipe_caso c WHERE c.nucleo_id = p.nucleo_id AND c.stato = 'APERTO')
		ORDER BY p.nucleo_id LIMIT $1`, max(n-len(cases), 0))
	if err != nil {
		return nil, err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	client := newClient(1)
	for i, code := range codes {
		b, _ := json.Marshal(map[string]any{"codice_fiscale": code, "motivo": "bench", // plain values always encode
			"operatori": []map[string]string{{"codice": "CPI-B" + strconv.Itoa(i), "lato": "CPI"}, {"codice": "SS-B" + strconv.Itoa(i), "lato": "SERVIZI_SOCIALI"}}})
		req, err := jsonPost(h.URL("equipe-coordination", ""), tok, b)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Idempotency-Key", uuid.NewString())
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		var c struct {
			IDCaso string `json:"id_caso"`
		}
		err = json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("opening a case: status %d: %w", resp.StatusCode, err)
		}
		if resp.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("opening a case: status %d", resp.StatusCode)
		}
		cases = append(cases, c.IDCaso)
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("no household of the data set can have an Equipe case")
	}
	return cases, nil
}

// startEquipeBaseline serves the bare transaction at POST /{case}/eventi.
func startEquipeBaseline(dbURL string) (string, func(), error) {
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
	mux.HandleFunc("POST /{id}/eventi", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Tipo        string `json:"tipo"`
			Data        string `json:"data"`
			Descrizione string `json:"descrizione"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		caso := strings.ToLower(r.PathValue("id"))
		id := uuid.Must(uuid.NewV7())
		now := time.Now().UTC().Truncate(time.Microsecond)
		answer, _ := json.Marshal(map[string]string{"id_caso": caso, "id_evento": id.String(), "tipo": in.Tipo, "lato": "CPI", "data": in.Data, // strings always encode
			"descrizione": in.Descrizione, "registrato_il": now.Format(time.RFC3339Nano), "stato_caso": "APERTO"})
		err := pgx.BeginFunc(r.Context(), pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(r.Context(), `INSERT INTO idempotenza (client_id, funzione, metodo, percorso, chiave, impronta) VALUES ('bench', 'baseline', 'POST', '/', $1, '\x00')`,
				r.Header.Get("Idempotency-Key")); err != nil {
				return err
			}
			var nucleo int64
			var stato string
			if err := tx.QueryRow(r.Context(), `SELECT nucleo_id, stato FROM equipe_caso WHERE id = $1 FOR UPDATE`, caso).Scan(&nucleo, &stato); err != nil {
				return err
			}
			notice, _ := json.Marshal(map[string]any{"id_notifica": id.String(), "id_caso": caso, "modifica": in.Tipo, "da": "ANPAL", // plain values always encode
				"stato_caso": stato, "evento": json.RawMessage(answer)})
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO equipe_evento (id, caso_id, seq, tipo, lato, data, descrizione, esito, client_id, org, request_id, registrato_il, risposta)
			         VALUES ($1, $2, (SELECT coalesce(max(seq), 0) + 1 FROM equipe_evento WHERE caso_id = $2), $3, 'CPI', $4, $5, NULL, 'bench', 'ANPAL', 'bench', $6, $7)`,
				id, caso, in.Tipo, in.Data, in.Descrizione, now, answer)
			b.Queue(`UPDATE equipe_caso SET aggiornato_il = $2 WHERE id = $1`, caso, now)
			b.Queue(`INSERT INTO consegna (id, destinatario, tipo, corpo, nucleo_id, creato_il, prossimo_tentativo) VALUES ($1, 'GEPI', 'EQUIPE', $2, $3, $4, $4)`,
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
