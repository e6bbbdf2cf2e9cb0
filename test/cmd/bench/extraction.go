package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rdc-interop/faas/test/harness"
)

// plainRows is an extraction's baseline: the query reading the rows the
// function gives, counted as PostgreSQL sends them and not decoded. It
// fails unless there are want rows.
func plainRows(ctx context.Context, h *harness.Harness, want int64, sql string, args ...any) (time.Duration, error) {
	start := time.Now()
	rows, err := h.DB.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	var n int64
	for rows.Next() {
		n++
	}
	rows.Close()
	if n != want {
		return 0, fmt.Errorf("%d rows, want %d", n, want)
	}
	return time.Since(start), rows.Err()
}

// extraction is a list's whole extraction measured three ways, alternating
// in each round: the plain query, the function's JSON pages and its one
// workbook.
type extraction struct {
	rounds, rows        int64
	plain, pages, book  time.Duration
	pagesPeak, bookPeak uint64
}

// extract runs rounds of the three over rows rows.
func extract(rounds int, rows int64, plain func() (time.Duration, error), pages, book func() error) (extraction, error) {
	x := extraction{rounds: int64(max(1, rounds)), rows: rows}
	for range x.rounds {
		d, err := plain()
		if err != nil {
			return x, fmt.Errorf("plain query: %w", err)
		}
		x.plain += d
		d, p, err := withPeakHeap(pages)
		if err != nil {
			return x, fmt.Errorf("JSON pages: %w", err)
		}
		x.pages, x.pagesPeak = x.pages+d, max(x.pagesPeak, p)
		d, p, err = withPeakHeap(book)
		if err != nil {
			return x, fmt.Errorf("workbook: %w", err)
		}
		x.book, x.bookPeak = x.book+d, max(x.bookPeak, p)
	}
	return x, nil
}

// print writes the table under the benchmark's title and records the two
// headline ratios under name.
func (x extraction) print(name string, pageSize int) {
	rate := func(d time.Duration) float64 { return float64(x.rounds*x.rows) / d.Seconds() }
	avg := func(d time.Duration) time.Duration { return (d / time.Duration(x.rounds)).Round(time.Millisecond) }
	fmt.Printf("  %-22s %12s %10s %14s\n", "", "rows/s", "time", "peak heap")
	fmt.Printf("  %-22s %12.0f %10s %14s\n", "plain query", rate(x.plain), avg(x.plain), "")
	fmt.Printf("  %-22s %12.0f %10s %10.0f MiB\n", fmt.Sprintf("JSON, pages of %d", pageSize), rate(x.pages), avg(x.pages), mib(x.pagesPeak))
	fmt.Printf("  %-22s %12.0f %10s %10.0f MiB\n", "one Excel workbook", rate(x.book), avg(x.book), mib(x.bookPeak))
	json, book := x.plain.Seconds()/x.pages.Seconds(), x.plain.Seconds()/x.book.Seconds()
	headline(name+": JSON pages, of the plain query", json)
	headline(name+": Excel workbook, of the plain query", book)
	fmt.Printf("  ratios     JSON %.2f, Excel %.2f of the plain query's rows/s\n", json, book)
}
