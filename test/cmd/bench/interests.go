package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/test/harness"
)

const (
	benchInterests = 100_000
	interestOffers = 100
	interestsPage  = 1000
)

// benchInterestsList extracts 100,000 interest expressions of one agency
// as JSON pages and as one Excel workbook through apl-interests, against
// the plain query reading the same rows in the same run, and reports rows/s
// and the process's peak heap during each.
func benchInterestsList(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	total, err := seedBenchInterests(ctx, h)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	tok, err := h.Token(ctx, offersClient)
	if err != nil {
		return err
	}
	x, err := extract(cfg.rounds, total, func() (time.Duration, error) { return plainInterests(ctx, h, total) },
		func() error { return interestPages(ctx, h, tok, total) },
		func() error { return interestWorkbook(ctx, h, tok, total) })
	if err != nil {
		return err
	}
	fmt.Printf("apl-interests, extraction of an agency's %d interest expressions (%d round(s))\n", total, x.rounds)
	x.print("apl-interests", interestsPage)
	fmt.Printf("  target: the Excel path under 256 MiB (the whole process: gateway, functions and load generator)\n\n")
	return nil
}

// seedBenchInterests gives agency 1001 interestOffers more offers and
// benchInterests interest expressions in them, beside those of the
// synthetic data set, and returns how many the agency then has.
func seedBenchInterests(ctx context.Context, h *harness.Harness) (int64, error) {
	var comune, branch string
	if err := h.DB.QueryRow(ctx, `SELECT codice_istat FROM comune ORDER BY codice_istat LIMIT 1`).Scan(&comune); err != nil {
		return 0, err
	}
	if err := h.DB.QueryRow(ctx, `SELECT codice FROM apl_filiale WHERE apl_id = $1 ORDER BY codice LIMIT 1`, offersAPL).Scan(&branch); err != nil {
		return 0, err
	}
	ids := make([]uuid.UUID, interestOffers)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO offerta (id, apl_id, riferimento_apl, filiale, titolo, descrizione, comune, numero_posti, stato, data_pubblicazione)
		SELECT id, $2, 'bench-int-' || ord, $3, 'Addetto alle vendite', 'Banco e cassa', $4, 1, 'PUBBLICATA', current_date
		FROM unnest($1::uuid[]) WITH ORDINALITY AS u (id, ord)`, ids, offersAPL, branch, comune)
	b.Queue(`
		INSERT INTO manifestazione_interesse (offerta_id, componente_id, creata_il)
		SELECT ($1::uuid[])[1 + (n % $2)], m.id, now() - (n % 90) * interval '1 day' - n * interval '1 second'
		FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM componente ORDER BY id LIMIT $3) m`, ids, interestOffers, benchInterests)
	// As autovacuum would after such a change: a planner that still
	// believes the agency has a few hundred interests sorts them all.
	b.Queue(`ANALYZE manifestazione_interesse, offerta`)
	if err := h.DB.SendBatch(ctx, b).Close(); err != nil {
		return 0, err
	}
	var total int64
	err := h.DB.QueryRow(ctx, `SELECT count(*) FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id WHERE o.apl_id = $1`, offersAPL).Scan(&total)
	return total, err
}

// plainInterests is the baseline: the same rows read by the plain query.
func plainInterests(ctx context.Context, h *harness.Harness, total int64) (time.Duration, error) {
	return plainRows(ctx, h, total, `
		SELECT mi.id, mi.creata_il, o.id, o.riferimento_apl, o.filiale, o.titolo, m.codice_fiscale, m.cognome, m.nome, m.email, m.telefono
		FROM manifestazione_interesse mi JOIN offerta o ON o.id = mi.offerta_id JOIN componente m ON m.id = mi.componente_id
		WHERE o.apl_id = $1 ORDER BY mi.creata_il, mi.id`, offersAPL)
}

func interestPages(ctx context.Context, h *harness.Harness, tok string, total int64) error {
	q := url.Values{"limit": {fmt.Sprint(interestsPage)}}
	var n int64
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL("apl-interests", "?"+q.Encode()), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var p struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if err != nil {
			return fmt.Errorf("a page: %w", err)
		}
		n += int64(len(p.Items))
		if p.NextCursor == nil {
			break
		}
		q.Set("cursor", *p.NextCursor)
	}
	if n != total {
		return fmt.Errorf("%d rows, want %d", n, total)
	}
	return nil
}

func interestWorkbook(ctx context.Context, h *harness.Harness, tok string, total int64) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL("apl-interests", ""), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	size, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("status %d, %d bytes: %w", resp.StatusCode, size, err)
	}
	if resp.StatusCode != http.StatusOK || size < total*20 {
		return fmt.Errorf("status %d, %d bytes", resp.StatusCode, size)
	}
	return nil
}

// withPeakHeap runs f, sampling the process's heap in use every 20 ms.
func withPeakHeap(f func() error) (time.Duration, uint64, error) {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	start := time.Now()
	err := f()
	d := time.Since(start)
	close(stop)
	<-done
	return d, peak.Load(), err
}
