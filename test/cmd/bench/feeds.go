package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/rdc-interop/faas/shared/cache"
	"github.com/rdc-interop/faas/shared/lookup"
	"github.com/rdc-interop/faas/test/harness"
)

// feedRecords scales the file of feed-file and feed-lookups. It is the
// feeds' own flag, beside the bench's, so that main only lists the benchmarks.
var feedRecords = flag.Int("feed-records", 1_000_000, "records of the file batch of feed-file and feed-lookups (half DIDs, half SAP policies)")

const (
	feedFunction = "feed-anpal"
	feedClientID = "anpal"
	// The incremental feed: a source's integration sends a few batches at
	// once, each as large as a body may be (feed.MaxRecords).
	feedCallers            = 4
	feedBatchRecords       = 10_000
	feedIncrementalRecords = 200_000
	// feedMemoryRecords is the small file of the memory comparison: the
	// peak must not grow with the file.
	feedMemoryRecords = 100_000
	// feedPersons bounds the persons the records name: enough to spread
	// them over the table, few enough that the bench's own heap stays small
	// next to what it measures.
	feedPersons  = 200_000
	feedPoll     = 200 * time.Millisecond
	memoryPeriod = 50 * time.Millisecond
)

// benchFeedFile sends a file of DID and SAP records through feed-anpal
// (POST /batches, PUT the file, its job to COMPLETATO) against a bare pgx
// COPY of the same rows into did and sap_politica, alternating rounds, each
// starting from the same table size; and samples the process's memory
// during a small and a large file's job.
func benchFeedFile(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	fc, gen, err := newFeedBench(ctx, h)
	if err != nil {
		return err
	}
	n := *feedRecords
	// The small file first: it warms the function (its pool, the bucket)
	// up, and gives the small end of the memory comparison.
	small, err := fc.fileRound(ctx, gen.with("bench-feed-m-"), feedMemoryRecords, nil)
	if err != nil {
		return fmt.Errorf("file of %d records: %w", feedMemoryRecords, err)
	}
	var copyTime, fileTime, uploadTime time.Duration
	var copyRounds, fileRounds []time.Duration
	var large fileRun
	rounds := max(1, cfg.rounds)
	for round := range rounds {
		g := gen.with(fmt.Sprintf("bench-feed-%d-c-", round))
		d, err := copyFeed(ctx, h, g, n)
		if err != nil {
			return fmt.Errorf("COPY: %w", err)
		}
		if err := dropFeed(ctx, h, g.prefix); err != nil {
			return err
		}
		copyTime, copyRounds = copyTime+d, append(copyRounds, d)
		r, err := fc.fileRound(ctx, gen.with(fmt.Sprintf("bench-feed-%d-f-", round)), n, nil)
		if err != nil {
			return fmt.Errorf("file batch: %w", err)
		}
		fileTime, uploadTime, fileRounds = fileTime+r.total, uploadTime+r.upload, append(fileRounds, r.total)
		if r.mem.heap >= large.mem.heap {
			large.mem = r.mem
		}
		large.size = r.size
	}
	rate := func(d time.Duration) float64 { return float64(int64(rounds)*int64(n)) / d.Seconds() }
	per := func(d time.Duration) time.Duration { return (d / time.Duration(rounds)).Round(time.Millisecond) }
	fmt.Printf("feed-file, a file of %d DID and SAP records (%.0f MiB of NDJSON) through %s, against bare COPY of the same rows (%d round(s))\n",
		n, float64(large.size)/(1<<20), feedFunction, rounds)
	fmt.Printf("  %-12s %12s %10s\n", "", "records/s", "time")
	fmt.Printf("  %-12s %12.0f %10s   rounds %s\n", "COPY", rate(copyTime), per(copyTime), roundTimes(copyRounds))
	fmt.Printf("  %-12s %12.0f %10s   rounds %s (upload to MinIO %s, then the job)\n", "file batch", rate(fileTime), per(fileTime),
		roundTimes(fileRounds), per(uploadTime))
	headline("feed-file: of bare COPY", copyTime.Seconds()/fileTime.Seconds())
	fmt.Printf("  ratio      throughput %.2f of bare COPY\n", copyTime.Seconds()/fileTime.Seconds())
	fmt.Printf("  peak memory during the job, above the %.0f MiB heap before it (the whole process: gateway, functions and bench):\n", mib(small.mem.base))
	for _, m := range []struct {
		records int
		mem     memoryPeak
	}{{feedMemoryRecords, small.mem}, {n, large.mem}} {
		fmt.Printf("    %8d records: heap in use +%.0f MiB, memory from the OS +%.0f MiB\n", m.records, mib(m.mem.heap), mib(m.mem.sys))
	}
	fmt.Printf("  targets: throughput ≥ 0.50 of bare COPY; peak memory ≤ 256 MiB and flat in the records\n\n")
	return nil
}

// benchFeedIncremental sends records to POST / of feed-anpal in bodies of
// 10,000 from 4 callers, against a bare pgx COPY of the same rows,
// alternating rounds; every round has new keys, so every record is applied.
func benchFeedIncremental(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	fc, gen, err := newFeedBench(ctx, h)
	if err != nil {
		return err
	}
	n := feedIncrementalRecords
	var copyTime, fnTime time.Duration
	var copyRounds, fnRounds []time.Duration
	rounds := max(1, cfg.rounds)
	for round := range rounds {
		g := gen.with(fmt.Sprintf("bench-feed-inc-%d-c-", round))
		d, err := copyFeed(ctx, h, g, n)
		if err != nil {
			return fmt.Errorf("COPY: %w", err)
		}
		if err := dropFeed(ctx, h, g.prefix); err != nil {
			return err
		}
		copyTime, copyRounds = copyTime+d, append(copyRounds, d)
		g = gen.with(fmt.Sprintf("bench-feed-inc-%d-f-", round))
		d, err = fc.incremental(ctx, g, n)
		if err != nil {
			return fmt.Errorf("%s: %w", feedFunction, err)
		}
		if err := dropFeed(ctx, h, g.prefix); err != nil {
			return err
		}
		fnTime, fnRounds = fnTime+d, append(fnRounds, d)
	}
	rate := func(d time.Duration) float64 { return float64(int64(rounds)*int64(n)) / d.Seconds() }
	per := func(d time.Duration) time.Duration { return (d / time.Duration(rounds)).Round(time.Millisecond) }
	fmt.Printf("feed-incremental, %d DID and SAP records in bodies of %d (%d callers, %d round(s))\n", n, feedBatchRecords, feedCallers, rounds)
	fmt.Printf("  %-12s %12s %10s\n", "", "records/s", "time")
	fmt.Printf("  %-12s %12.0f %10s   rounds %s\n", "COPY", rate(copyTime), per(copyTime), roundTimes(copyRounds))
	fmt.Printf("  %-12s %12.0f %10s   rounds %s\n", "function", rate(fnTime), per(fnTime), roundTimes(fnRounds))
	headline("feed-incremental: of bare COPY", copyTime.Seconds()/fnTime.Seconds())
	fmt.Printf("  ratio      throughput %.2f of bare COPY\n", copyTime.Seconds()/fnTime.Seconds())
	fmt.Printf("  target: ≥ 0.30\n\n")
	return nil
}

// benchFeedLookups measures did-check's latency with nothing else running
// and while a file batch's job is applying, alternating rounds: a source's
// monthly load must not slow the look-ups the other partners make. A third
// round, with no load but the caches dropped as each chunk's commit drops
// them, tells the two causes apart.
func benchFeedLookups(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	fc, gen, err := newFeedBench(ctx, h)
	if err != nil {
		return err
	}
	codes, bodies, err := lookupBodies(ctx, h, cfg.sample)
	if err != nil {
		return err
	}
	tok, err := h.Token(ctx, "gepi", "rdc:did:read")
	if err != nil {
		return err
	}
	url := h.URL("did-check", "")
	next := func(i int) (*http.Request, error) { return jsonPost(url, tok, bodies[i%len(bodies)]) }
	client := newClient(cfg.concurrency)
	load(ctx, client, cfg.concurrency, 2*time.Second, next) // warm-up, as compare's
	n := *feedRecords
	var quiet, flushed, busy []result
	var quietCache, flushedCache, busyCache cache.Counts
	var applied int64
	var appliedTime time.Duration
	rounds := max(1, cfg.rounds)
	for round := range rounds {
		c0 := cache.Totals()
		quiet = append(quiet, load(ctx, client, cfg.concurrency, cfg.duration, next))
		quietCache = addCounts(quietCache, cache.Totals(), c0)
		c0 = cache.Totals()
		flushed = append(flushed, withFlushes(ctx, h, func() result { return load(ctx, client, cfg.concurrency, cfg.duration, next) }))
		flushedCache = addCounts(flushedCache, cache.Totals(), c0)
		_, err := fc.fileRound(ctx, gen.with(fmt.Sprintf("bench-feed-lu-%d-", round)), n, func(ctx context.Context, id string) error {
			b0, err := fc.batch(ctx, id)
			if err != nil {
				return err
			}
			c0 := cache.Totals()
			t0 := time.Now()
			busy = append(busy, load(ctx, client, cfg.concurrency, cfg.duration, next))
			d := time.Since(t0)
			busyCache = addCounts(busyCache, cache.Totals(), c0)
			b1, err := fc.batch(ctx, id)
			if err != nil {
				return err
			}
			if b1.Stato != "IN_CORSO" {
				return fmt.Errorf("the batch was %s before the round ended: use more -feed-records or a shorter -duration", b1.Stato)
			}
			applied, appliedTime = applied+b1.RigheLette-b0.RigheLette, appliedTime+d
			return nil
		})
		if err != nil {
			return fmt.Errorf("file batch: %w", err)
		}
	}
	q, f, b := merge(quiet), merge(flushed), merge(busy)
	fmt.Printf("feed-lookups, did-check while a file of %d records is applied (%d connections, %d × %s rounds each)\n",
		n, cfg.concurrency, rounds, cfg.duration)
	fmt.Printf("  %-24s %10s %10s %10s %8s %s\n", "", "req/s", "p50", "p99", "errors", "  answered from process cache / PostgreSQL")
	for _, row := range []struct {
		label string
		r     result
		c     cache.Counts
	}{{"no load", q, quietCache}, {"no load, caches dropped", f, flushedCache}, {"file batch", b, busyCache}} {
		fmt.Printf("  %-24s %10.0f %10s %10s %8d   %s\n", row.label, row.r.rps(), row.r.pct(0.50).Round(time.Microsecond),
			row.r.pct(0.99).Round(time.Microsecond), row.r.errors, shares(row.c))
	}
	headline("feed-lookups: did-check during a file batch, of without", b.rps()/q.rps())
	fmt.Printf("  ratio      p99 %.2f× without load, throughput %.2f (against caches dropped as the job's chunks drop them: p99 %.2f×, throughput %.2f)\n",
		float64(b.pct(0.99))/float64(q.pct(0.99)), b.rps()/q.rps(), float64(b.pct(0.99))/float64(f.pct(0.99)), b.rps()/f.rps())
	fmt.Printf("  the job applied %.0f records/s during the loaded rounds; look-ups drawn from %d persons (-sample)\n",
		float64(applied)/appliedTime.Seconds(), len(codes))
	fmt.Printf("  target: p99 during the file batch ≤ 3× without\n\n")
	return check(q.errors == 0 && f.errors == 0 && b.errors == 0, "errors during the run: no load %d, caches dropped %d, file batch %d", q.errors, f.errors, b.errors)
}

// withFlushes runs f while dropping every look-up cache each second, as
// the commit of each chunk of a file batch does ("all": a chunk changes
// more than 100 rows): it tells what the job's load costs the look-ups
// from what losing their cache does.
func withFlushes(ctx context.Context, h *harness.Harness, f func() result) result {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = h.DB.Exec(ctx, `SELECT pg_notify($1, 'all')`, lookup.Channel) // a lost one only leaves the cache warmer
			}
		}
	}()
	r := f()
	close(stop)
	<-done
	return r
}

func addCounts(sum, now, before cache.Counts) cache.Counts {
	return cache.Counts{Hit: sum.Hit + now.Hit - before.Hit, Miss: sum.Miss + now.Miss - before.Miss}
}

func shares(c cache.Counts) string {
	all := float64(c.Hit + c.Miss)
	if all == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f / %.2f", float64(c.Hit)/all, float64(c.Miss)/all)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// roundTimes lists each round's time: on a noisy machine, how far apart
// they are says how much the ratio means.
func roundTimes(ds []time.Duration) string {
	var b []byte
	for i, d := range ds {
		if i > 0 {
			b = append(b, " / "...)
		}
		b = append(b, d.Round(100*time.Millisecond).String()...)
	}
	return string(b)
}

// feedClient calls feed-anpal as ANPAL, with a token renewed before it
// expires: a round of a large file outlasts one.
type feedClient struct {
	h    *harness.Harness
	tok  oauth2.TokenSource
	http *http.Client
}

func newFeedBench(ctx context.Context, h *harness.Harness) (*feedClient, *feedGen, error) {
	tok := h.TokenSource(feedClientID, "rdc:feed:anpal").TokenSource(ctx)
	if _, err := tok.Token(); err != nil {
		return nil, nil, err
	}
	gen, err := newFeedGen(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	return &feedClient{h: h, tok: tok, http: newClient(feedCallers)}, gen, nil
}

// batchState is what the bench reads of a batch.
type batchState struct {
	ID         string  `json:"id"`
	Stato      string  `json:"stato"`
	Accettati  int64   `json:"accettati"`
	Obsoleti   int64   `json:"obsoleti"`
	Scartati   int64   `json:"scartati"`
	RigheLette int64   `json:"righe_lette"`
	Errore     *string `json:"errore"`
	FileURL    string  `json:"file_url"`
	Scarti     []struct {
		Riga   int64  `json:"riga"`
		Campo  string `json:"campo"`
		Codice string `json:"codice"`
	} `json:"scarti"`
}

// call sends one request and decodes a batch from an answer of status want;
// another status is an error carrying the answer's body (a problem: never
// a record's value).
func (c *feedClient) call(ctx context.Context, method, url string, body io.Reader, size int64, contentType string, want int) (batchState, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return batchState{}, err
	}
	tok, err := c.tok.Token()
	if err != nil {
		return batchState{}, err
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodPost {
		req.Header.Set("Idempotency-Key", uuid.NewString())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return batchState{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return batchState{}, fmt.Errorf("%s %s: read the answer: %w", method, url, err)
	}
	if resp.StatusCode != want {
		return batchState{}, fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, bytes.TrimSpace(raw))
	}
	var b batchState
	if err := json.Unmarshal(raw, &b); err != nil {
		return batchState{}, fmt.Errorf("%s %s: the batch: %w", method, url, err)
	}
	return b, nil
}

func (c *feedClient) batch(ctx context.Context, id string) (batchState, error) {
	return c.call(ctx, http.MethodGet, c.h.URL(feedFunction, "/batches/"+id), nil, 0, "", http.StatusOK)
}

// fileRun is one file batch: its times, the file's size and the memory
// the process took during it.
type fileRun struct {
	total, upload time.Duration
	size          int64
	mem           memoryPeak
}

// fileRound writes a file of n records of g, sends it as a file batch and
// waits for its job, sampling the memory from the upload on; while, if set,
// runs once the job has committed its first chunk. It removes the rows the
// batch wrote.
func (c *feedClient) fileRound(ctx context.Context, g *feedGen, n int, while func(context.Context, string) error) (fileRun, error) {
	path, size, err := g.writeFile(n)
	if err != nil {
		return fileRun{}, err
	}
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		return fileRun{}, err
	}
	defer f.Close()
	b, err := c.call(ctx, http.MethodPost, c.h.URL(feedFunction, "/batches"), nil, 0, "", http.StatusCreated)
	if err != nil {
		return fileRun{}, err
	}
	run := fileRun{size: size}
	sampler := sampleMemory()
	start := time.Now()
	if _, err := c.call(ctx, http.MethodPut, c.h.BaseURL+b.FileURL, f, size, "application/x-ndjson", http.StatusAccepted); err != nil {
		sampler()
		return run, err
	}
	run.upload = time.Since(start)
	ran := while == nil
	for {
		time.Sleep(feedPoll)
		s, err := c.batch(ctx, b.ID)
		if err != nil {
			sampler()
			return run, err
		}
		if !ran && s.Stato == "IN_CORSO" && s.RigheLette > 0 {
			ran = true
			if err := while(ctx, b.ID); err != nil {
				sampler()
				return run, err
			}
			continue
		}
		if s.Stato == "FALLITO" {
			sampler()
			return run, fmt.Errorf("batch %s failed: %s", b.ID, deref(s.Errore))
		}
		if s.Stato != "COMPLETATO" {
			continue
		}
		run.total, run.mem = time.Since(start), sampler()
		if !ran {
			return run, fmt.Errorf("batch %s completed before its first checkpoint was seen: use more -feed-records", b.ID)
		}
		if s.Accettati != int64(n) || s.Scartati != 0 {
			return run, fmt.Errorf("batch %s: %d of %d records accepted, %d stale, %d refused%s", b.ID, s.Accettati, n, s.Obsoleti, s.Scartati, c.firstRejects(ctx, b.ID))
		}
		return run, dropFeed(ctx, c.h, g.prefix)
	}
}

// firstRejects describes a batch's first rejects: line, field and code.
func (c *feedClient) firstRejects(ctx context.Context, id string) string {
	b, err := c.call(ctx, http.MethodGet, c.h.URL(feedFunction, "/batches/"+id+"/scarti?limite=3"), nil, 0, "", http.StatusOK)
	if err != nil {
		return " (its rejects: " + err.Error() + ")"
	}
	out := ""
	for _, r := range b.Scarti {
		out += fmt.Sprintf("; line %d: %s %s", r.Riga, r.Campo, r.Codice)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// incremental sends n records of g in bodies of feedBatchRecords from
// feedCallers callers and checks every one was applied.
func (c *feedClient) incremental(ctx context.Context, g *feedGen, n int) (time.Duration, error) {
	firsts := make(chan int)
	var accepted atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	url := c.h.URL(feedFunction, "/")
	start := time.Now()
	for range feedCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body []byte
			for first := range firsts {
				body = body[:0]
				for i := first; i < min(n, first+feedBatchRecords); i++ {
					body = g.appendLine(body, i)
				}
				b, err := c.call(ctx, http.MethodPost, url, bytes.NewReader(body), int64(len(body)), "application/x-ndjson", http.StatusCreated)
				if err != nil {
					once.Do(func() { firstErr = err })
					continue
				}
				if len(b.Scarti) > 0 {
					r := b.Scarti[0]
					once.Do(func() { firstErr = fmt.Errorf("batch %s refused line %d: %s %s", b.ID, r.Riga, r.Campo, r.Codice) })
				}
				accepted.Add(b.Accettati)
			}
		}()
	}
	for first := 0; first < n; first += feedBatchRecords {
		firsts <- first
	}
	close(firsts)
	wg.Wait()
	d := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	if a := accepted.Load(); a != int64(n) {
		return 0, fmt.Errorf("%d of %d records accepted", a, n)
	}
	return d, nil
}

// copyFeed is the baseline: the same rows, with the members' ids and the
// state's code resolved beforehand, COPY'd by pgx with no checks, one
// table after the other.
func copyFeed(ctx context.Context, h *harness.Harness, g *feedGen, n int) (time.Duration, error) {
	// Through the proxy, as the functions reach PostgreSQL.
	conn, err := pgx.Connect(ctx, h.DBURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	start := time.Now()
	for _, t := range []struct {
		table   string
		columns []string
		first   int
		row     func(int) []any
	}{
		{"did", []string{"fonte_chiave", "componente_id", "stato", "data_did", "data_stato", "cpi", "fonte_il", "fonte_seq"}, 0, g.didRow},
		{"sap_politica", []string{"fonte_chiave", "id_politica", "componente_id", "codice_attivita", "titolo", "data_proposta",
			"data_inizio", "data_fine", "durata", "unita_durata", "ente_promotore", "id_presa_in_carico", "indice_profiling",
			"ultimo_evento", "data_ultimo_evento", "fonte_il", "fonte_seq"}, 1, g.sapRow},
	} {
		i := t.first
		copied, err := conn.CopyFrom(ctx, pgx.Identifier{t.table}, t.columns, pgx.CopyFromFunc(func() ([]any, error) {
			if i >= n {
				return nil, nil
			}
			row := t.row(i)
			i += 2
			return row, nil
		}))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t.table, err)
		}
		if want := int64((n - t.first + 1) / 2); copied != want {
			return 0, fmt.Errorf("%s: %d of %d rows copied", t.table, copied, want)
		}
	}
	return time.Since(start), nil
}

// dropFeed removes the rows of keys starting with prefix and vacuums, so
// that every round writes into tables of the same size.
func dropFeed(ctx context.Context, h *harness.Harness, prefix string) error {
	for _, t := range []string{"did", "sap_politica"} {
		if _, err := h.DB.Exec(ctx, `DELETE FROM `+t+` WHERE fonte_chiave LIKE $1 || '%'`, prefix); err != nil {
			return fmt.Errorf("remove the round's %s rows: %w", t, err)
		}
	}
	if _, err := h.DB.Exec(ctx, `VACUUM (ANALYZE) did, sap_politica`, pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// feedGen makes the i-th record of a run, as a line of NDJSON (what ANPAL
// sends) and as a row of did or sap_politica (what the baseline copies),
// with the same values: even records are DIDs, odd ones SAP policies.
type feedGen struct {
	prefix string // of the keys: a round's own
	ids    []int64
	cfs    []byte // the members' codici fiscali, 16 bytes each, as ids
	state  map[string]string
	at     time.Time // the first record's instant; each next is 1 ms later
	day0   time.Time
}

var (
	feedStates     = []string{"INSERITA", "CONVALIDATA", "SOSPESA", "CONVALIDATA"}
	feedActivities = []string{"A02", "B03", "C06"}
	feedTitles     = []string{"Patto di attivazione", "Tirocinio extracurriculare", "Orientamento specialistico"}
	feedEvents     = []string{"01", "02", "03"}
)

// newFeedGen draws the persons the records name, in random order.
func newFeedGen(ctx context.Context, h *harness.Harness) (*feedGen, error) {
	var total int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM componente`).Scan(&total); err != nil {
		return nil, err
	}
	pct := min(100, 100*float64(feedPersons)*1.1/float64(max(total, 1)))
	rows, err := h.DB.Query(ctx, `SELECT id, codice_fiscale FROM componente TABLESAMPLE BERNOULLI ($1) REPEATABLE (7) LIMIT $2`, pct, feedPersons)
	if err != nil {
		return nil, err
	}
	g := &feedGen{state: map[string]string{}, at: time.Now().UTC().Truncate(time.Second), day0: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	for rows.Next() {
		var id int64
		var code string
		if err := rows.Scan(&id, &code); err != nil {
			return nil, err
		}
		if len(code) == 16 {
			g.ids, g.cfs = append(g.ids, id), append(g.cfs, code...)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(g.ids) == 0 {
		return nil, errors.New("no persons to feed")
	}
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: the bench draws its persons reproducibly on purpose
	r.Shuffle(len(g.ids), func(i, j int) {
		g.ids[i], g.ids[j] = g.ids[j], g.ids[i]
		a, b := g.cfs[16*i:16*i+16], g.cfs[16*j:16*j+16]
		var t [16]byte
		copy(t[:], a)
		copy(a, b)
		copy(b, t[:])
	})
	rows, err = h.DB.Query(ctx, `SELECT nome, codice FROM stato_did`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, code string
		if err := rows.Scan(&name, &code); err != nil {
			return nil, err
		}
		g.state[name] = code
	}
	return g, rows.Err()
}

// with is g for keys starting with prefix.
func (g *feedGen) with(prefix string) *feedGen {
	c := *g
	c.prefix = prefix
	return &c
}

func (g *feedGen) person(i int) (int64, []byte) {
	p := i % len(g.ids)
	return g.ids[p], g.cfs[16*p : 16*p+16]
}

func (g *feedGen) key(i int) string        { return g.prefix + strconv.Itoa(i) }
func (g *feedGen) instant(i int) time.Time { return g.at.Add(time.Duration(i) * time.Millisecond) }
func (g *feedGen) day(d int) time.Time     { return g.day0.AddDate(0, 0, d) }

// did is the i-th record's DID (i even).
func (g *feedGen) did(i int) (state string, declared, reached time.Time, cpi string) {
	k := i / 2
	declared = g.day(k % 700)
	return feedStates[k%len(feedStates)], declared, declared.AddDate(0, 0, k%60), "CPI-" + strconv.Itoa(k%200)
}

// sap is the i-th record's policy (i odd); nil where the record leaves a
// field out.
type sapValues struct {
	activity, title, promoter, takenIn, event string
	proposed, last                            time.Time
	start, end                                *time.Time
	duration                                  *int32
	unit                                      *string
	profiling                                 *float64
}

func (g *feedGen) sap(i int) sapValues {
	k := i / 2
	v := sapValues{activity: feedActivities[k%3], title: feedTitles[k%3], promoter: "CPI-" + strconv.Itoa(k%200),
		takenIn: "PIC-" + strconv.Itoa(k), event: feedEvents[k%3], proposed: g.day(k % 700)}
	v.last = v.proposed.AddDate(0, 0, 10)
	if k%5 != 0 {
		s, e := v.proposed.AddDate(0, 0, 7), v.proposed.AddDate(0, 0, 97)
		v.start, v.end = &s, &e
	}
	if k%3 != 0 {
		d, u := int32(1+k%12), "M"
		v.duration, v.unit = &d, &u
	}
	if k%4 != 0 {
		p := float64(k%1000) / 1000
		v.profiling = &p
	}
	return v
}

func (g *feedGen) didRow(i int) []any {
	id, _ := g.person(i)
	state, declared, reached, cpi := g.did(i)
	return []any{g.key(i), id, g.state[state], declared, reached, cpi, g.instant(i), int64(1)}
}

func (g *feedGen) sapRow(i int) []any {
	id, _ := g.person(i)
	v := g.sap(i)
	return []any{g.key(i), g.key(i), id, v.activity, v.title, v.proposed, v.start, v.end, v.duration, v.unit,
		v.promoter, v.takenIn, v.profiling, v.event, v.last, g.instant(i), int64(1)}
}

// appendLine appends the i-th record as a line of NDJSON. The values need
// no escaping: the generator's own codes and words.
func (g *feedGen) appendLine(b []byte, i int) []byte {
	_, code := g.person(i)
	kind := "did"
	if i%2 == 1 {
		kind = "sap_politica"
	}
	b = append(b, `{"tipo":"`...)
	b = append(b, kind...)
	b = append(b, `","chiave":"`...)
	b = append(b, g.prefix...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","istante":"`...)
	b = g.instant(i).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","sequenza":1,"ritirato":false,"dati":{"codice_fiscale":"`...)
	b = append(b, code...)
	date := func(b []byte, name string, t time.Time) []byte {
		b = append(b, `","`...)
		b = append(b, name...)
		b = append(b, `":"`...)
		return t.AppendFormat(b, time.DateOnly)
	}
	text := func(b []byte, name, v string) []byte {
		b = append(b, `","`...)
		b = append(b, name...)
		b = append(b, `":"`...)
		return append(b, v...)
	}
	if i%2 == 0 {
		state, declared, reached, cpi := g.did(i)
		b = text(b, "stato", state)
		b = date(b, "data_did", declared)
		b = date(b, "data_stato", reached)
		b = text(b, "cpi", cpi)
		return append(b, "\"}}\n"...)
	}
	v := g.sap(i)
	b = text(b, "codice_attivita", v.activity)
	b = text(b, "titolo", v.title)
	b = date(b, "data_proposta", v.proposed)
	if v.start != nil {
		b = date(b, "data_inizio", *v.start)
		b = date(b, "data_fine", *v.end)
	}
	if v.duration != nil {
		b = text(b, "unita_durata", *v.unit)
		b = append(b, `","durata":`...)
		b = strconv.AppendInt(b, int64(*v.duration), 10)
		b = append(b, `,"ente_promotore":"`...)
		b = append(b, v.promoter...)
	} else {
		b = text(b, "ente_promotore", v.promoter)
	}
	b = text(b, "id_presa_in_carico", v.takenIn)
	b = text(b, "ultimo_evento", v.event)
	b = date(b, "data_ultimo_evento", v.last)
	if v.profiling != nil {
		b = append(b, `","indice_profiling":`...)
		b = strconv.AppendFloat(b, *v.profiling, 'f', 3, 64)
		return append(b, "}}\n"...)
	}
	return append(b, "\"}}\n"...)
}

// writeFile writes n records to a temporary file, line by line, and
// returns its path and size.
func (g *feedGen) writeFile(n int) (string, int64, error) {
	f, err := os.CreateTemp("", "bench-feed-*.ndjson")
	if err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	var size int64
	for i := range n {
		line = g.appendLine(line[:0], i)
		size += int64(len(line))
		if _, err := w.Write(line); err != nil {
			f.Close()
			os.Remove(f.Name())
			return "", 0, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", 0, err
	}
	return f.Name(), size, nil
}

// memoryPeak is the most the process held during a job above what it held
// before: heap in use, and memory taken from the OS (less what it returned).
type memoryPeak struct{ base, heap, sys uint64 }

var memorySamples = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes",
	"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes"}

func readMemory(s []metrics.Sample) (heap, sys uint64) {
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64(), s[2].Value.Uint64() - s[3].Value.Uint64()
}

// sampleMemory starts sampling every memoryPeriod, after a collection so
// that the base is what is live; the function it returns stops and says
// the peak.
func sampleMemory() func() memoryPeak {
	runtime.GC()
	s := make([]metrics.Sample, len(memorySamples))
	for i, name := range memorySamples {
		s[i].Name = name
	}
	baseHeap, baseSys := readMemory(s)
	var peakHeap, peakSys uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(memoryPeriod)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				heap, sys := readMemory(s)
				peakHeap, peakSys = max(peakHeap, heap), max(peakSys, sys)
			}
		}
	}()
	var once sync.Once
	var out memoryPeak
	return func() memoryPeak {
		once.Do(func() {
			close(stop)
			<-done
			out = memoryPeak{base: baseHeap, heap: peakHeap - min(peakHeap, baseHeap), sys: peakSys - min(peakSys, baseSys)}
		})
		return out
	}
}
