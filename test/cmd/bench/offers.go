package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/test/harness"
)

const (
	benchOffers   = 100_000
	offersPerCall = 1_000
	offerCallers  = 4 // an agency's integration sends a few calls at once, not dozens
	offersAPL     = "1001"
	offersClient  = "apl-1001-master"
)

// benchOffersBulk sends 100,000 offers to apl-offers in calls of 1,000,
// against a bare pgx COPY of the same rows into the same table, alternating
// rounds; every round uses new references, so every offer is created.
func benchOffersBulk(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	tok, err := h.Token(ctx, offersClient)
	if err != nil {
		return err
	}
	var comune string
	if err := h.DB.QueryRow(ctx, `SELECT codice_istat FROM comune ORDER BY codice_istat LIMIT 1`).Scan(&comune); err != nil {
		return err
	}
	rows, err := h.DB.Query(ctx, `SELECT codice FROM apl_filiale WHERE apl_id = $1 ORDER BY codice`, offersAPL)
	if err != nil {
		return err
	}
	branches, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("the demo agency %s's branches: %w", offersAPL, err)
	}
	if len(branches) == 0 {
		return fmt.Errorf("the demo agency %s has no branches", offersAPL)
	}
	today := time.Now().Format(time.DateOnly)
	end := time.Now().AddDate(0, 2, 0).Format(time.DateOnly)
	offer := func(run string, i int) map[string]any {
		return map[string]any{
			"riferimento_apl": fmt.Sprintf("bench-%s-%06d", run, i), "filiale": branches[i%len(branches)],
			"titolo": "Addetto al magazzino", "descrizione": "Carico e scarico merci, turni diurni, uso del muletto",
			"comune": comune, "qualifica": "magazziniere", "tipo_contratto": "tempo determinato", "numero_posti": 1 + i%3,
			"titolo_studio_minimo": "LICENZA_MEDIA", "stato": "PUBBLICATA", "data_pubblicazione": today, "data_fine_pubblicazione": end,
		}
	}

	var copyTime, fnTime time.Duration
	rounds := max(1, cfg.rounds)
	client := newClient(offerCallers)
	for round := range rounds {
		run := fmt.Sprintf("%d-%s", round, uuid.NewString()[:8])
		d, err := copyOffers(ctx, h, run+"c", branches, comune, today, end)
		if err != nil {
			return fmt.Errorf("COPY: %w", err)
		}
		copyTime += d
		d, err = bulkThroughFunction(ctx, client, h.URL("apl-offers", ""), tok, func(i int) map[string]any { return offer(run+"f", i) })
		if err != nil {
			return fmt.Errorf("apl-offers: %w", err)
		}
		fnTime += d
	}
	cr, fr := float64(rounds*benchOffers)/copyTime.Seconds(), float64(rounds*benchOffers)/fnTime.Seconds()
	fmt.Printf("apl-offers, bulk insert of %d offers in calls of %d (%d callers, %d round(s))\n", benchOffers, offersPerCall, offerCallers, rounds)
	fmt.Printf("  %-10s %12s %10s\n", "", "rows/s", "time")
	fmt.Printf("  %-10s %12.0f %10s\n", "COPY", cr, (copyTime / time.Duration(rounds)).Round(time.Millisecond))
	fmt.Printf("  %-10s %12.0f %10s\n", "function", fr, (fnTime / time.Duration(rounds)).Round(time.Millisecond))
	headline("apl-offers: bulk load, of bare COPY", fr/cr)
	fmt.Printf("  ratio      throughput %.2f of bare COPY\n", fr/cr)
	fmt.Printf("  target: ≥ 0.25\n\n")
	return nil
}

// copyOffers is the baseline: the same rows, COPY'd by pgx with no checks.
func copyOffers(ctx context.Context, h *harness.Harness, run string, branches []string, comune, today, end string) (time.Duration, error) {
	from, _ := time.Parse(time.DateOnly, today)
	to, _ := time.Parse(time.DateOnly, end)
	start := time.Now()
	i := 0
	_, err := h.DB.CopyFrom(ctx, pgx.Identifier{"offerta"},
		[]string{"id", "apl_id", "riferimento_apl", "filiale", "titolo", "descrizione", "comune", "qualifica", "tipo_contratto",
			"numero_posti", "titolo_studio_minimo", "stato", "data_pubblicazione", "data_fine_pubblicazione"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == benchOffers {
				return nil, nil
			}
			i++
			return []any{uuid.Must(uuid.NewV7()), offersAPL, fmt.Sprintf("bench-%s-%06d", run, i), branches[i%len(branches)],
				"Addetto al magazzino", "Carico e scarico merci, turni diurni, uso del muletto", comune, "magazziniere", "tempo determinato",
				int32(1 + i%3), "LICENZA_MEDIA", "PUBBLICATA", from, to}, nil
		}))
	return time.Since(start), err
}

// bulkThroughFunction sends the offers in calls of offersPerCall from
// offerCallers callers and checks every one was created.
func bulkThroughFunction(ctx context.Context, client *http.Client, url, tok string, offer func(int) map[string]any) (time.Duration, error) {
	calls := make(chan int)
	var created atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range offerCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := range calls {
				items := make([]map[string]any, offersPerCall)
				for j := range items {
					items[j] = offer(first + j)
				}
				body, _ := json.Marshal(map[string]any{"items": items})
				req, _ := jsonPost(url, tok, body)
				resp, err := client.Do(req.WithContext(ctx))
				if err != nil {
					once.Do(func() { firstErr = err })
					continue
				}
				var out struct {
					Items []struct{ Esito string } `json:"items"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				_, _ = io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					once.Do(func() { firstErr = fmt.Errorf("status %d", resp.StatusCode) })
					continue
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("status %d: %w", resp.StatusCode, err) })
					continue
				}
				for _, it := range out.Items {
					if it.Esito == "CREATA" {
						created.Add(1)
					}
				}
			}
		}()
	}
	for first := 0; first < benchOffers; first += offersPerCall {
		calls <- first
	}
	close(calls)
	wg.Wait()
	d := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	if n := created.Load(); n != benchOffers {
		return 0, fmt.Errorf("%d of %d offers created", n, benchOffers)
	}
	return d, nil
}
