package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rdc-interop/faas/test/harness"
)

const citizensPage = 1000

// benchCitizens extracts every citizen who chose agency 1001 through
// apl-citizens' search, as JSON pages and as one Excel workbook, against
// the plain query reading the same rows in the same run, and reports rows/s
// and the process's peak heap during each.
func benchCitizens(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	var total int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM scelta_apl WHERE apl_id = $1`, offersAPL).Scan(&total); err != nil {
		return err
	}
	if total < citizensPage {
		return fmt.Errorf("agency %s has %d citizens: use a larger -persons", offersAPL, total)
	}
	tok, err := h.Token(ctx, offersClient)
	if err != nil {
		return err
	}
	var base, pages, book time.Duration
	var pagesPeak, bookPeak uint64
	rounds := max(1, cfg.rounds)
	for range rounds {
		d, err := plainCitizens(ctx, h, total)
		if err != nil {
			return fmt.Errorf("plain query: %w", err)
		}
		base += d
		d, p, err := withPeakHeap(func() error { return citizenPages(ctx, h, tok, total) })
		if err != nil {
			return fmt.Errorf("JSON pages: %w", err)
		}
		pages, pagesPeak = pages+d, max(pagesPeak, p)
		d, p, err = withPeakHeap(func() error { return citizenWorkbook(ctx, h, tok, total) })
		if err != nil {
			return fmt.Errorf("workbook: %w", err)
		}
		book, bookPeak = book+d, max(bookPeak, p)
	}
	rate := func(d time.Duration) float64 { return float64(int64(rounds)*total) / d.Seconds() }
	fmt.Printf("apl-citizens, search of every citizen who chose agency %s: %d (%d round(s))\n", offersAPL, total, rounds)
	fmt.Printf("  %-22s %12s %10s %14s\n", "", "rows/s", "time", "peak heap")
	fmt.Printf("  %-22s %12.0f %10s %14s\n", "plain query", rate(base), (base / time.Duration(rounds)).Round(time.Millisecond), "")
	fmt.Printf("  %-22s %12.0f %10s %10.0f MiB\n", fmt.Sprintf("JSON, pages of %d", citizensPage), rate(pages), (pages / time.Duration(rounds)).Round(time.Millisecond), mib(pagesPeak))
	fmt.Printf("  %-22s %12.0f %10s %10.0f MiB\n", "one Excel workbook", rate(book), (book / time.Duration(rounds)).Round(time.Millisecond), mib(bookPeak))
	headline("apl-citizens: JSON pages, of the plain query", base.Seconds()/pages.Seconds())
	headline("apl-citizens: Excel workbook, of the plain query", base.Seconds()/book.Seconds())
	fmt.Printf("  ratios     JSON %.2f, Excel %.2f of the plain query's rows/s\n", base.Seconds()/pages.Seconds(), base.Seconds()/book.Seconds())
	fmt.Printf("  targets: JSON ≥ 0.50, Excel ≥ 0.30, peak heap ≤ 256 MiB\n\n")
	return nil
}

// plainCitizens is the baseline: the search's rows read by the plain query.
func plainCitizens(ctx context.Context, h *harness.Harness, total int64) (time.Duration, error) {
	start := time.Now()
	rows, err := h.DB.Query(ctx, `
		SELECT m.id, m.codice_fiscale, m.cognome, m.nome, extract(year FROM age(current_date, m.data_nascita))::int,
		       ts.codice, m.email, m.telefono, s.filiale, s.scelta_il
		FROM scelta_apl s JOIN componente m ON m.id = s.componente_id JOIN titolo_studio ts ON ts.livello = m.titolo_studio
		WHERE s.apl_id = $1 ORDER BY m.id`, offersAPL)
	if err != nil {
		return 0, err
	}
	var n int64
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != total {
		return 0, fmt.Errorf("%d rows, want %d", n, total)
	}
	return time.Since(start), rows.Err()
}

func citizenSearch(ctx context.Context, h *harness.Harness, tok, accept string, body any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL("apl-citizens", "/search"), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return http.DefaultClient.Do(req)
}

func citizenPages(ctx context.Context, h *harness.Harness, tok string, total int64) error {
	in := map[string]any{"limit": citizensPage}
	var n int64
	for {
		resp, err := citizenSearch(ctx, h, tok, "", in)
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
		in["cursor"] = *p.NextCursor
	}
	if n != total {
		return fmt.Errorf("%d rows, want %d", n, total)
	}
	return nil
}

func citizenWorkbook(ctx context.Context, h *harness.Harness, tok string, total int64) error {
	resp, err := citizenSearch(ctx, h, tok, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", map[string]any{})
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
