package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rdc-interop/faas/test/harness"
)

const (
	benchListOffers = 100_000
	listAPL         = "1002" // not the agency the bulk benchmark fills: this one holds exactly what is seeded here
	listClient      = "apl-1002-master"
	listPage        = 1000 // the largest page (apl-offers' maxLimit): what an agency's system paging through everything asks for
)

// benchOffersList lists an agency's ~100,000 offers through apl-offers as
// JSON pages and as one Excel workbook, against the plain query reading the
// same rows in the same run (the ratio is JSON rows/s, received and every
// row counted, over the plain query's; target >= 0.50; the rows/s with the
// load generator decoding the JSON are shown too). The hard cases are
// shown too: the first round right after seeding (cold plans, pools and
// caches, as cold as a running PostgreSQL gets), and a state filter
// (stato=SCADUTA, about a fifth of the rows), computed on every row the
// agency's index walk reads.
func benchOffersList(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	if err := seedListOffers(ctx, h); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var total, expired int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE stato = 'PUBBLICATA' AND data_fine_pubblicazione < current_date)
		FROM offerta WHERE apl_id = $1`, listAPL).Scan(&total, &expired); err != nil {
		return err
	}
	tok, err := h.Token(ctx, listClient)
	if err != nil {
		return err
	}
	var base, pages, received, book, fbase, fpages time.Duration
	var pagesPeak, bookPeak uint64
	var coldBase, coldPages, coldFirst time.Duration
	rounds := max(1, cfg.rounds)
	for i := range rounds {
		// JSON first in the first round: the function's first page after
		// seeding is the coldest call.
		first, d, p, err := offerPages(ctx, h, tok, url.Values{}, total, true)
		if err != nil {
			return fmt.Errorf("JSON pages: %w", err)
		}
		_, dr, _, err := offerPages(ctx, h, tok, url.Values{}, total, false)
		if err != nil {
			return fmt.Errorf("JSON pages, received: %w", err)
		}
		received += dr
		db, err := plainOffers(ctx, h, "", total)
		if err != nil {
			return fmt.Errorf("plain query: %w", err)
		}
		if i == 0 {
			coldBase, coldPages, coldFirst = db, d, first
		}
		base, pages, pagesPeak = base+db, pages+d, max(pagesPeak, p)
		d, p, err = withPeakHeap(func() error { return offerWorkbook(ctx, h, tok, total) })
		if err != nil {
			return fmt.Errorf("workbook: %w", err)
		}
		book, bookPeak = book+d, max(bookPeak, p)
		db, err = plainOffers(ctx, h, "SCADUTA", expired)
		if err != nil {
			return fmt.Errorf("plain query, filtered: %w", err)
		}
		_, d, _, err = offerPages(ctx, h, tok, url.Values{"stato": {"SCADUTA"}}, expired, true)
		if err != nil {
			return fmt.Errorf("JSON pages, filtered: %w", err)
		}
		fbase, fpages = fbase+db, fpages+d
	}
	n := float64(int64(rounds) * total)
	rate := func(rows float64, d time.Duration) float64 { return rows / d.Seconds() }
	avg := func(d time.Duration) time.Duration { return (d / time.Duration(rounds)).Round(time.Millisecond) }
	fmt.Printf("apl-offers, list of an agency's %d offers (%d round(s))\n", total, rounds)
	fmt.Printf("  %-32s %12s %10s %14s\n", "", "rows/s", "time", "peak heap")
	fmt.Printf("  %-32s %12.0f %10s %14s\n", "plain query", rate(n, base), avg(base), "")
	fmt.Printf("  %-32s %12.0f %10s %10.0f MiB\n", fmt.Sprintf("JSON, pages of %d", listPage), rate(n, pages), avg(pages), float64(pagesPeak)/(1<<20))
	fmt.Printf("  %-32s %12.0f %10s\n", "JSON, received, not decoded", rate(n, received), avg(received))
	fmt.Printf("  %-32s %12.0f %10s %10.0f MiB\n", "one Excel workbook", rate(n, book), avg(book), float64(bookPeak)/(1<<20))
	fmt.Printf("  %-32s %12.0f %10s\n", "cold: plain query, 1st round", rate(float64(total), coldBase), coldBase.Round(time.Millisecond))
	fmt.Printf("  %-32s %12.0f %10s   (first page %s)\n", "cold: JSON, 1st round", rate(float64(total), coldPages), coldPages.Round(time.Millisecond), coldFirst.Round(time.Millisecond))
	fmt.Printf("  %-32s %12s %10s   (%d of %d rows, plain %s)\n", "stato=SCADUTA, JSON", "", avg(fpages), expired, total, avg(fbase))
	// The headline is the JSON received, every row counted but not
	// decoded: the plain query's side reads its rows without decoding them
	// (rows.Next, no Scan), and the load generator's encoding/json runs on
	// the same cores as the function. The decoded figure is shown too.
	headline("apl-offers-list: JSON pages received, of the plain query", base.Seconds()/received.Seconds())
	headline("apl-offers-list: Excel workbook, of the plain query", base.Seconds()/book.Seconds())
	fmt.Printf("  ratios     JSON received, not decoded, %.2f (decoded %.2f, cold %.2f), Excel %.2f of the plain query's rows/s; filtered JSON %.2f of the plain query's time\n",
		base.Seconds()/received.Seconds(), base.Seconds()/pages.Seconds(), coldBase.Seconds()/coldPages.Seconds(), base.Seconds()/book.Seconds(), fbase.Seconds()/fpages.Seconds())
	fmt.Printf("  target: JSON received >= 0.50 of the plain query's rows/s\n\n")
	return nil
}

// seedListOffers gives agency listAPL benchListOffers offers over its
// enabled branches, in every state, with ids increasing in creation order
// as the function's UUIDv7 are: a fifth drafts, a fifth suspended, the
// rest published over the last 90 days for 60 days (about a third of them
// expired).
func seedListOffers(ctx context.Context, h *harness.Harness) error {
	var comune string
	if err := h.DB.QueryRow(ctx, `SELECT codice_istat FROM comune ORDER BY codice_istat LIMIT 1`).Scan(&comune); err != nil {
		return err
	}
	// uuidv7() is PostgreSQL 18's; the ids only need to be unique and
	// increasing in creation order, as the function's UUIDv7 are.
	_, err := h.DB.Exec(ctx, `
		INSERT INTO offerta (id, apl_id, riferimento_apl, filiale, titolo, descrizione, comune, qualifica, tipo_contratto, numero_posti,
		                     titolo_studio_minimo, stato, data_pubblicazione, data_fine_pubblicazione)
		SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || lpad(to_hex(n), 19, '0'))::uuid,
		       $1, 'bench-list-' || n, b.codici[1 + n % cardinality(b.codici)], 'Addetto alle vendite ' || n,
		       'Banco e cassa, rifornimento scaffali, turni su sei giorni con riposo a rotazione; contratto del commercio.',
		       $2, 'commesso', 'tempo determinato', 1 + n % 3, 'DIPLOMA',
		       CASE n % 5 WHEN 0 THEN 'BOZZA' WHEN 4 THEN 'SOSPESA' ELSE 'PUBBLICATA' END,
		       CASE WHEN n % 5 = 0 THEN NULL ELSE current_date - (n % 90) END,
		       CASE WHEN n % 5 = 0 THEN NULL ELSE current_date - (n % 90) + 60 END
		FROM generate_series(1, $3::int) n,
		     (SELECT array_agg(codice ORDER BY codice) AS codici FROM apl_filiale WHERE apl_id = $1 AND abilitata) b`,
		listAPL, comune, benchListOffers)
	if err != nil {
		return err
	}
	_, err = h.DB.Exec(ctx, `ANALYZE offerta`)
	return err
}

// plainOffers is the baseline: the same rows, the same columns and order,
// read by one plain query (stato: the same state filter, or none).
func plainOffers(ctx context.Context, h *harness.Harness, stato string, want int64) (time.Duration, error) {
	sql := `
		SELECT o.id::text, o.riferimento_apl, o.filiale, o.titolo, o.descrizione, o.comune, o.qualifica, o.tipo_contratto,
		       o.numero_posti, o.titolo_studio_minimo,
		       CASE WHEN o.stato = 'PUBBLICATA' AND o.data_fine_pubblicazione < current_date THEN 'SCADUTA' ELSE o.stato END AS stato,
		       o.data_pubblicazione, o.data_fine_pubblicazione, o.creato_il, o.aggiornato_il
		FROM offerta o WHERE o.apl_id = $1 AND o.filiale IN (SELECT codice FROM apl_filiale WHERE apl_id = $1 AND abilitata)`
	args := []any{listAPL}
	if stato != "" {
		sql += ` AND CASE WHEN o.stato = 'PUBBLICATA' AND o.data_fine_pubblicazione < current_date THEN 'SCADUTA' ELSE o.stato END = $2`
		args = append(args, stato)
	}
	// The function's order, on the same column: the baseline gets the
	// index walk or the sort, whichever its planner prefers.
	return plainRows(ctx, h, want, sql+` ORDER BY o.id`, args...)
}

// offerPages walks the list to its end in pages of listPage; it returns
// the first page's time, the whole walk's, and the peak heap. With decode
// each page is decoded with encoding/json as interests.go does (items as
// json.RawMessage); without, the page's bytes are received and its offers
// counted by their opening member, and only next_cursor is decoded: the
// same work the plain query's side does (rows received, not decoded), to
// show how much of the JSON path is the load generator's own decoding in
// this shared process.
func offerPages(ctx context.Context, h *harness.Harness, tok string, q url.Values, want int64, decode bool) (time.Duration, time.Duration, uint64, error) {
	q.Set("limit", fmt.Sprint(listPage))
	var n int64
	var first time.Duration
	start := time.Now()
	d, peak, err := withPeakHeap(func() error {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL("apl-offers", "?"+q.Encode()), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			var p struct {
				Items      []json.RawMessage `json:"items"`
				NextCursor *string           `json:"next_cursor"`
			}
			var items int
			if decode {
				err = json.NewDecoder(resp.Body).Decode(&p)
				items = len(p.Items)
			} else {
				items, p.NextCursor, err = countPage(resp.Body)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			if err != nil {
				return fmt.Errorf("a page: %w", err)
			}
			if first == 0 {
				first = time.Since(start)
			}
			n += int64(items)
			if p.NextCursor == nil {
				return nil
			}
			q.Set("cursor", *p.NextCursor)
		}
	})
	if err == nil && n != want {
		err = fmt.Errorf("%d rows, want %d", n, want)
	}
	return first, d, peak, err
}

// countPage reads a page whole and counts its offers: a JSON string cannot
// hold an unescaped quote, so {"id_offerta": opens an item and nothing
// else. The page ends with its next_cursor, which is decoded.
func countPage(r io.Reader) (int, *string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, nil, err
	}
	const tail = `],"next_cursor":`
	i := bytes.LastIndex(b, []byte(tail))
	end := bytes.LastIndexByte(b, '}')
	if i < 0 || end < i {
		return 0, nil, fmt.Errorf("not a page of offers")
	}
	var next *string
	if err := json.Unmarshal(b[i+len(tail):end], &next); err != nil {
		return 0, nil, err
	}
	return bytes.Count(b[:i], []byte(`{"id_offerta":`)), next, nil
}

func offerWorkbook(ctx context.Context, h *harness.Harness, tok string, total int64) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL("apl-offers", ""), nil)
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
	if resp.StatusCode != http.StatusOK || size < total*20 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.openxml") {
		return fmt.Errorf("status %d, %d bytes", resp.StatusCode, size)
	}
	return nil
}
