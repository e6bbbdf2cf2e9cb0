package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/test/harness"
)

// benchExport runs the national microdata export end to end (PostgreSQL →
// anonymisation → MinIO) through the gateway, against a floor measured in
// the same run: COPY of the same people's rows to STDOUT, streamed through
// gzip into one MinIO object. It reports rows/s of both and the function
// process's peak heap during the export.
func benchExport(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	store, err := files.Open(h.Config, "bench-floor") // the functions' own settings
	if err != nil {
		return err
	}
	tok, err := h.Token(ctx, "mlps")
	if err != nil {
		return err
	}
	today := time.Now().Format(time.DateOnly)
	from := time.Now().AddDate(-1, 0, 1).Format(time.DateOnly) // a national year

	var floorRows, fnRows int64
	var floorTime, fnTime time.Duration
	var peak uint64
	var model exportModel
	rounds := max(1, cfg.rounds)
	for round := range rounds {
		n, d, err := exportFloor(ctx, h, store, from, today, round)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		floorRows, floorTime = floorRows+n, floorTime+d
		n, d, p, m, err := exportThroughFunction(ctx, h, tok, from, today)
		if err != nil {
			return fmt.Errorf("anonymised-export: %w", err)
		}
		model = m
		fnRows, fnTime = fnRows+n, fnTime+d
		peak = max(peak, p)
	}
	fr, xr := float64(floorRows)/floorTime.Seconds(), float64(fnRows)/fnTime.Seconds()
	fmt.Printf("anonymised-export, national microdata (%d round(s))\n", rounds)
	fmt.Printf("  %-10s %12s %10s\n", "", "rows/s", "time")
	fmt.Printf("  %-10s %12.0f %10s\n", "floor", fr, (floorTime / time.Duration(rounds)).Round(time.Millisecond))
	fmt.Printf("  %-10s %12.0f %10s\n", "function", xr, (fnTime / time.Duration(rounds)).Round(time.Millisecond))
	headline("anonymised-export: of the floor (COPY → gzip → MinIO)", xr/fr)
	fmt.Printf("  ratio      throughput %.2f of the floor (COPY → gzip → MinIO)\n", xr/fr)
	fmt.Printf("  peak heap in use during the export: %.0f MiB (the whole process: gateway, functions and load generator)\n", float64(peak)/(1<<20))
	share := 0.0
	if model.Persone > 0 {
		share = float64(model.Rilasciate) / float64(model.Persone)
	}
	fmt.Printf("  released   %.1f%% of the period's %d people at k = %d with a %.0f%% budget (%d withheld)\n",
		100*share, model.Persone, model.K, 100*model.Soppressione, model.Soppresse)
	fmt.Printf("  node       %s\n", model.node())
	fmt.Printf("  loss       LM %.4f; prosecutor risk highest %.3f, average %.4f; search rolled up %d of %d nodes (%d pruned)\n",
		model.Perdita.Valore, model.Rischio.Massimo, model.Rischio.Medio, model.Ricerca.Valutati, model.Ricerca.Nodi, model.Ricerca.Potati)
	// The hard case of the search: ℓ-diversity fails far more nodes.
	start := time.Now()
	n, lm, err := runExport(ctx, h, tok, from, today, `,"l_diversita":{"l":2,"attributi":["stato_did"]}`)
	if err != nil {
		return fmt.Errorf("anonymised-export with ℓ-diversity: %w", err)
	}
	d := time.Since(start)
	fmt.Printf("  with ℓ = 2 on stato_did: throughput %.2f of the floor, released %.1f%%, node %s, LM %.4f, rolled up %d of %d nodes\n",
		float64(n)/d.Seconds()/fr, 100*float64(lm.Rilasciate)/float64(max(lm.Persone, 1)), lm.node(), lm.Perdita.Valore, lm.Ricerca.Valutati, lm.Ricerca.Nodi)
	fmt.Printf("  targets: released ≥ 95%% at k = 5 and 5%%; throughput ≥ 0.33 of the floor; peak memory ≤ 256 MiB and flat in the rows\n\n")
	return nil
}

// exportModel is what the listing says of the disclosure control applied.
type exportModel struct {
	K            int               `json:"k"`
	Soppressione float64           `json:"soppressione_massima"`
	Nodo         map[string]string `json:"nodo"`
	Persone      int64             `json:"persone"`
	Rilasciate   int64             `json:"rilasciate"`
	Soppresse    int64             `json:"soppresse"`
	Perdita      struct {
		Valore float64 `json:"valore"`
	} `json:"perdita"`
	Rischio struct {
		Massimo float64 `json:"massimo"`
		Medio   float64 `json:"medio"`
	} `json:"rischio"`
	Ricerca struct {
		Nodi     int `json:"nodi"`
		Valutati int `json:"valutati"`
		Potati   int `json:"potati"`
	} `json:"ricerca"`
}

func (m exportModel) node() string {
	var parts []string
	for _, a := range []string{"territorio", "sesso", "fascia_eta", "cittadinanza", "fascia_isee", "fascia_beneficio", "mese_presentazione"} {
		parts = append(parts, a+"="+m.Nodo[a])
	}
	return strings.Join(parts, ", ")
}

// exportFloor streams COPY of the period's people through gzip into MinIO.
func exportFloor(ctx context.Context, h *harness.Harness, store *files.Store, from, today string, round int) (int64, time.Duration, error) {
	conn, err := pgx.Connect(ctx, h.DBURL)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	start := time.Now()
	pr, pw := io.Pipe()
	var rows atomic.Int64
	go func() {
		zw := gzip.NewWriter(pw)
		tag, err := conn.PgConn().CopyTo(ctx, zw, `COPY (
			SELECT m.cf_canonico, m.sesso, c.provincia, m.data_nascita, m.cittadinanza, n.isee, n.importo_beneficio, n.data_presentazione
			FROM nucleo n JOIN comune c ON c.codice_istat = n.comune_residenza JOIN componente m ON m.nucleo_id = n.id
			WHERE n.data_decorrenza <= '`+today+`' AND (n.data_cessazione IS NULL OR n.data_cessazione >= '`+from+`')) TO STDOUT WITH (FORMAT csv)`)
		if err == nil {
			err = zw.Close()
			rows.Store(tag.RowsAffected())
		}
		pw.CloseWithError(err)
	}()
	if _, err := store.Put(ctx, fmt.Sprintf("floor-%d.csv.gz", round), pr, "application/gzip"); err != nil {
		return 0, 0, err
	}
	return rows.Load(), time.Since(start), nil
}

// exportThroughFunction asks for the export, waits for it and samples the heap.
func exportThroughFunction(ctx context.Context, h *harness.Harness, tok, from, to string) (int64, time.Duration, uint64, exportModel, error) {
	var rows int64
	var model exportModel
	d, peak, err := withPeakHeap(func() error {
		var err error
		rows, model, err = runExport(ctx, h, tok, from, to, "")
		return err
	})
	return rows, d, peak, model, err
}

// runExport asks for the export and polls until it is ready; it returns the
// people it read and the model it met.
func runExport(ctx context.Context, h *harness.Harness, tok, from, to, model string) (int64, exportModel, error) {
	body := fmt.Sprintf(`{"tipo":"microdati","periodo":{"da":%q,"a":%q}%s}`, from, to, model)
	req, _ := jsonPost(h.URL("anonymised-export", ""), tok, []byte(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, exportModel{}, err
	}
	var acc struct {
		ID string `json:"id_export"`
	}
	decErr := json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, exportModel{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	if decErr != nil {
		return 0, exportModel{}, fmt.Errorf("the export's acceptance: %w", decErr)
	}
	for {
		time.Sleep(100 * time.Millisecond)
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL("anonymised-export", "/exports/"+acc.ID), nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return 0, exportModel{}, err
		}
		var it struct {
			Stato     string      `json:"stato"`
			Progresso int64       `json:"progresso"`
			Modello   exportModel `json:"modello"`
		}
		decErr := json.NewDecoder(resp.Body).Decode(&it)
		resp.Body.Close()
		if decErr != nil {
			return 0, exportModel{}, fmt.Errorf("the export's state (status %d): %w", resp.StatusCode, decErr)
		}
		switch it.Stato {
		case "PRONTO":
			return it.Progresso, it.Modello, nil // every person of the period, once ready
		case "FALLITO":
			return 0, exportModel{}, fmt.Errorf("the export failed")
		}
	}
}
