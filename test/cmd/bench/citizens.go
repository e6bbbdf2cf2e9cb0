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
	x, err := extract(cfg.rounds, total, func() (time.Duration, error) { return plainCitizens(ctx, h, total) },
		func() error { return citizenPages(ctx, h, tok, total) },
		func() error { return citizenWorkbook(ctx, h, tok, total) })
	if err != nil {
		return err
	}
	fmt.Printf("apl-citizens, search of every citizen who chose agency %s: %d (%d round(s))\n", offersAPL, total, x.rounds)
	x.print("apl-citizens", citizensPage)
	fmt.Printf("  targets: JSON ≥ 0.50, Excel ≥ 0.30, peak heap ≤ 256 MiB\n\n")
	return nil
}

// plainCitizens is the baseline: the search's rows read by the plain query.
func plainCitizens(ctx context.Context, h *harness.Harness, total int64) (time.Duration, error) {
	return plainRows(ctx, h, total, `
		SELECT m.id, m.codice_fiscale, m.cognome, m.nome, extract(year FROM age(current_date, m.data_nascita))::int,
		       ts.codice, m.email, m.telefono, s.filiale, s.scelta_il
		FROM scelta_apl s JOIN componente m ON m.id = s.componente_id JOIN titolo_studio ts ON ts.livello = m.titolo_studio
		WHERE s.apl_id = $1 ORDER BY m.id`, offersAPL)
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
