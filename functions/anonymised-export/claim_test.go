package function

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/dbtest"
	"github.com/rdc-interop/faas/shared/problem"
)

// readyExport inserts a PRONTO export of org and returns its id.
func readyExport(t *testing.T, pool *pgxpool.Pool, org string) string {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	_, err := pool.Exec(context.Background(), `
		INSERT INTO export (id, org, client_id, tipo, da, a, stato, oggetto, byte, sha256)
		VALUES ($1, $2, 'c', 'aggregati', '2024-01-01', '2024-01-31', 'PRONTO', $3, 10, 'abc')`, id, org, "o/"+id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func kindOf(t *testing.T, err error, want problem.Kind) {
	t.Helper()
	if problem.KindOf(err) != want {
		t.Fatalf("error %v, want kind %d", err, want)
	}
}

// TestTakeDownloadOnce: of many claims at once exactly one wins; the
// others are 409 while it holds, and 410 once it has finished.
func TestTakeDownloadOnce(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	id := readyExport(t, pool, "MLPS")

	const n = 8
	claims, errs := make([]*claim, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			claims[i], errs[i] = takeDownload(ctx, pool, id, "MLPS")
		})
	}
	close(start)
	wg.Wait()
	var won *claim
	for i := range n {
		if errs[i] == nil {
			if won != nil {
				t.Fatal("two claims of one export at once")
			}
			won = claims[i]
			continue
		}
		kindOf(t, errs[i], problem.Conflict)
	}
	if won == nil {
		t.Fatal("no claim won")
	}
	if won.object != "o/"+id || won.size != 10 || won.sum != "abc" || !won.sure(downloadLease/2) {
		t.Fatalf("claim %+v", won)
	}
	// Another recipient's export is not found, claimed or not.
	_, err := takeDownload(ctx, pool, id, "REGIONE:12")
	kindOf(t, err, problem.NotFound)

	ok, err := won.finish(ctx, pool, time.Now(), "jws", audit.Entry{Function: "anonymised-export", Action: "export-download", Outcome: "downloaded"})
	if err != nil || !ok {
		t.Fatalf("finish: %v %v", ok, err)
	}
	_, err = takeDownload(ctx, pool, id, "MLPS")
	kindOf(t, err, problem.Gone)
	var claimed bool
	if err := pool.QueryRow(ctx, `SELECT scaricamento_id IS NOT NULL FROM export WHERE id = $1`, id).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed {
		t.Error("a downloaded export keeps its claim")
	}
}

// TestDownloadReleaseAndLease: a released claim can be taken again at
// once; a claim whose lease ran out (its replica died) is taken by the next
// download, and the first holder can then neither renew nor finish.
func TestDownloadReleaseAndLease(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	id := readyExport(t, pool, "REGIONE:12")

	first, err := takeDownload(ctx, pool, id, "REGIONE:12")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.release(ctx, pool); err != nil {
		t.Fatal(err)
	}
	second, err := takeDownload(ctx, pool, id, "REGIONE:12")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	// The first holder's late release does not free the second's claim.
	if err := first.release(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, err = takeDownload(ctx, pool, id, "REGIONE:12")
	kindOf(t, err, problem.Conflict)
	if !second.renew(ctx, pool) {
		t.Fatal("the holder could not renew its lease")
	}

	// second's replica dies: its lease runs out.
	if _, err := pool.Exec(ctx, `UPDATE export SET scaricamento_scade_il = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	third, err := takeDownload(ctx, pool, id, "REGIONE:12")
	if err != nil {
		t.Fatalf("after the lease ran out: %v", err)
	}
	if second.renew(ctx, pool) || second.sure(0) {
		t.Error("a holder whose claim was taken over renewed it")
	}
	if ok, err := second.finish(ctx, pool, time.Now(), "jws", audit.Entry{Function: "anonymised-export", Action: "export-download", Outcome: "downloaded"}); ok || err != nil {
		t.Fatalf("a holder whose claim was taken over finished the download: %v %v", ok, err)
	}
	var stato string
	if err := pool.QueryRow(ctx, `SELECT stato FROM export WHERE id = $1`, id).Scan(&stato); err != nil {
		t.Fatal(err)
	}
	if stato != "PRONTO" {
		t.Fatalf("export %s", stato)
	}
	if ok, err := third.finish(ctx, pool, time.Now(), "jws", audit.Entry{Function: "anonymised-export", Action: "export-download", Outcome: "downloaded"}); !ok || err != nil {
		t.Fatalf("the holder could not finish: %v %v", ok, err)
	}
}

// TestDownloadNotReady: a queued or failed export is 409, an expired one 410.
func TestDownloadNotReady(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	for stato, want := range map[string]problem.Kind{"IN_CODA": problem.Conflict, "FALLITO": problem.Conflict, "SCADUTO": problem.Gone} {
		id := readyExport(t, pool, "MLPS")
		if _, err := pool.Exec(ctx, `UPDATE export SET stato = $2 WHERE id = $1`, id, stato); err != nil {
			t.Fatal(err)
		}
		_, err := takeDownload(ctx, pool, id, "MLPS")
		kindOf(t, err, want)
	}
}

// TestSendStopsWithoutLease: no byte is written once the lease may run out
// before the write would end; with the lease sure, the file goes out whole.
func TestSendStopsWithoutLease(t *testing.T) {
	file := bytes.Repeat([]byte("0123456789"), chunkSize/5)
	c := &claim{until: time.Now().Add(downloadStall / 2)}
	w := httptest.NewRecorder()
	if _, _, err := c.send(w, bytes.NewReader(file)); !errors.Is(err, errClaimLost) || w.Body.Len() != 0 {
		t.Fatalf("sent %d bytes (%v) with a lease about to run out", w.Body.Len(), err)
	}
	c = &claim{until: time.Now().Add(downloadLease)}
	w = httptest.NewRecorder()
	n, sum, err := c.send(w, bytes.NewReader(file))
	want := sha256.Sum256(file)
	if err != nil || n != int64(len(file)) || sum != hex.EncodeToString(want[:]) || !bytes.Equal(w.Body.Bytes(), file) {
		t.Fatalf("sent %d of %d bytes, sum %s (%v)", n, len(file), sum, err)
	}
}

// TestQuotaUnderConcurrency: of max+1 requests of one recipient at once,
// max pass and one is 429 with Retry-After; the schedule's jobs and
// another recipient's do not count, nor a job silent for staleAfter.
func TestQuotaUnderConcurrency(t *testing.T) {
	pool := dbtest.Pool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO export_destinatario (org, max_attivi) VALUES ('REGIONE:15', 2)`); err != nil {
		t.Fatal(err)
	}
	insert := func(q db.DBTX, org, client, stato string, day int) error {
		_, err := q.Exec(ctx, `
			INSERT INTO export (id, org, client_id, tipo, da, a, stato) VALUES ($1, $2, $3, 'microdati', $4::date, $4::date, $5)`,
			uuid.Must(uuid.NewV7()), org, client, time.Date(2024, 1, day, 0, 0, 0, 0, time.UTC), stato)
		return err
	}
	// Not counted: the schedule's, another recipient's, a finished one, a dead one.
	for i, row := range [][3]string{{"REGIONE:15", scheduledClient, "IN_CORSO"}, {"REGIONE:12", "r12", "IN_CODA"}, {"REGIONE:15", "r15", "PRONTO"}, {"REGIONE:15", "r15", "IN_CORSO"}} {
		if err := insert(pool, row[0], row[1], row[2], 28-i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE export SET aggiornato_il = now() - interval '1 hour' WHERE org = 'REGIONE:15' AND da = '2024-01-25'`); err != nil {
		t.Fatal(err)
	}

	const n = 3
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.Transact(ctx, pool, func(tx pgx.Tx) error {
				if err := withinQuota(ctx, tx, "REGIONE:15"); err != nil {
					return err
				}
				// Hold the slot a moment, so the others arrive while it is uncommitted.
				time.Sleep(50 * time.Millisecond)
				return insert(tx, "REGIONE:15", "r15", "IN_CODA", i+1)
			})
		})
	}
	close(start)
	wg.Wait()
	passed := 0
	for _, err := range errs {
		if err == nil {
			passed++
			continue
		}
		kindOf(t, err, problem.TooManyRequests)
		var pe *problem.Error
		if !errors.As(err, &pe) || pe.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After: %v", err)
		}
		if strings.Contains(err.Error(), "REGIONE") {
			t.Errorf("the refusal names the recipient: %v", err)
		}
	}
	if passed != 2 {
		t.Fatalf("%d of %d requests at once passed a quota of 2", passed, n)
	}
	// A recipient without a row gets the default.
	for i := range defaultMaxActive {
		if err := db.Transact(ctx, pool, func(tx pgx.Tx) error {
			if err := withinQuota(ctx, tx, "MLPS"); err != nil {
				return err
			}
			return insert(tx, "MLPS", "m", "IN_CORSO", i+1)
		}); err != nil {
			t.Fatalf("request %d of MLPS: %v", i+1, err)
		}
	}
	err := db.Transact(ctx, pool, func(tx pgx.Tx) error { return withinQuota(ctx, tx, "MLPS") })
	kindOf(t, err, problem.TooManyRequests)
}
