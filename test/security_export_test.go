package test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// exportOnceGet is a GET that reports instead of failing the test, so that
// it can run in goroutines. The body is hashed and counted as it arrives;
// only its start is kept, for the checks of an error answer.
func exportOnceGet(client *http.Client, url, tok string) (r reply, n int64, sum string, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return reply{}, 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, 0, "", err
	}
	defer resp.Body.Close()
	h := sha256.New()
	var start []byte
	n, err = io.Copy(io.MultiWriter(h, writerFunc(func(p []byte) (int, error) {
		if len(start) < 1<<16 {
			start = append(start, p[:min(len(p), 1<<16-len(start))]...)
		}
		return len(p), nil
	})), resp.Body)
	if err != nil {
		return reply{}, 0, "", err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: start}, n, hex.EncodeToString(h.Sum(nil)), nil
}

// exportOnceRefused checks a refused download without printing a file
// that came instead of the refusal.
func exportOnceRefused(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("download: status %d (%d bytes), want %d", r.status, len(r.body), status)
	}
	assertProblem(t, r, status)
	conformsToOpenAPI(t, "/function/anonymised-export/exports/{id}/download", "get", r)
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// exportOnceBigFile puts size random bytes in place of a ready export's file
// (and its size and hash in the row), so that a download lasts long enough
// to overlap others and to be cut off mid-body: the aggregates of the test
// data are a few KiB, which the sockets' buffers would swallow whole.
func exportOnceBigFile(t *testing.T, id string, size int64) (sum string) {
	t.Helper()
	ctx := context.Background()
	var object string
	if err := h.DB.QueryRow(ctx, `SELECT oggetto FROM export WHERE id = $1 AND stato = 'PRONTO'`, id).Scan(&object); err != nil {
		t.Fatalf("export %s is not ready: %v", id, err)
	}
	info, err := exportStore(t).Put(ctx, object, io.LimitReader(rand.Reader, size), "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.DB.Exec(ctx, `UPDATE export SET byte = $2, sha256 = $3 WHERE id = $1`, id, info.Size, info.SHA256); err != nil {
		t.Fatal(err)
	}
	return info.SHA256
}

// exportOnceReceipt checks that the receipt describes the download that
// delivered size bytes hashing to sum, and that one download is recorded.
func exportOnceReceipt(t *testing.T, tok, id, sum string, size int64) {
	t.Helper()
	// The receipt is stored a moment after the client has the last byte.
	var r reply
	eventually(t, 10*time.Second, "the receipt", func() bool {
		r = do(t, call{method: http.MethodGet, url: h.URL(exportFn, "/exports/"+id+"/receipt"), token: tok})
		return r.status != http.StatusNotFound
	})
	if r.status != http.StatusOK {
		t.Fatalf("receipt: %d %s", r.status, r.body)
	}
	var rc struct {
		IDExport string `json:"id_export"`
		SHA256   string `json:"sha256"`
		Byte     int64  `json:"byte"`
		Firma    string `json:"firma"`
	}
	decodeInto(t, r, &rc)
	if rc.IDExport != id || rc.SHA256 != sum || rc.Byte != size {
		t.Fatalf("the receipt says %s, %d bytes hashing to %s; the download delivered %d bytes hashing to %s", rc.IDExport, rc.Byte, rc.SHA256, size, sum)
	}
	var signed struct {
		SHA256 string `json:"sha256"`
		Byte   int64  `json:"byte"`
	}
	if err := json.Unmarshal(verifyWithJWKS(t, rc.Firma), &signed); err != nil || signed.SHA256 != sum || signed.Byte != size {
		t.Fatalf("the signed receipt covers %+v (%v)", signed, err)
	}
	var downloaded int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = $1 AND outcome = 'downloaded:' || $2`, exportFn, id).Scan(&downloaded); err != nil {
		t.Fatal(err)
	}
	if downloaded != 1 {
		t.Errorf("%d completed downloads audited, want 1", downloaded)
	}
}

// TestExportDownloadOnce: of four downloads of one export at once, one
// gets the whole file and the others 409 (a download is in progress) or
// 410 (it is done); the receipt and the audit trail describe that one.
func TestExportDownloadOnce(t *testing.T) {
	tok, id, _ := readyExport(t, "regione-12", "aggregati", daysAgo(120), daysAgo(91))
	const size = 24 << 20
	sum := exportOnceBigFile(t, id, size)
	url := h.URL(exportFn, "/exports/"+id+"/download")

	const n = 4
	replies, lengths, sums, errs := make([]reply, n), make([]int64, n), make([]string, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
			defer client.CloseIdleConnections()
			<-start
			replies[i], lengths[i], sums[i], errs[i] = exportOnceGet(client, url, tok)
		})
	}
	close(start)
	wg.Wait()
	var whole []int
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("download %d: %v", i, errs[i])
		}
		switch replies[i].status {
		case http.StatusOK:
			if lengths[i] != size || sums[i] != sum {
				t.Errorf("download %d: 200 with %d bytes hashing to %s, the file has %d hashing to %s", i, lengths[i], sums[i], size, sum)
			}
			whole = append(whole, i)
		case http.StatusConflict, http.StatusGone:
			exportOnceRefused(t, replies[i], replies[i].status)
		default:
			t.Errorf("download %d: status %d: %s", i, replies[i].status, replies[i].body)
		}
	}
	statuses := make([]int, n)
	for i := range n {
		statuses[i] = replies[i].status
	}
	if len(whole) != 1 {
		t.Fatalf("%d of %d parallel downloads got the file (statuses %v), want exactly 1", len(whole), n, statuses)
	}
	t.Logf("parallel downloads: %v", statuses)
	// The download is recorded once its last byte has gone, which may be
	// a moment after the client has read it: 409 until then, 410 after.
	var after reply
	eventually(t, 10*time.Second, "the completed download to be recorded", func() bool {
		after = do(t, call{method: http.MethodGet, url: url, token: tok})
		return after.status != http.StatusConflict
	})
	exportOnceRefused(t, after, http.StatusGone)
	exportOnceReceipt(t, tok, id, sum, size)
	var started int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE function = $1 AND outcome = 'started:' || $2`, exportFn, id).Scan(&started); err != nil {
		t.Fatal(err)
	}
	if started != 1 {
		t.Errorf("%d downloads audited as started, want 1 (only the one that held the claim sends data)", started)
	}
}

// TestExportDownloadInterrupted: a download cut off mid-body holds the
// export while it runs (another download is 409), then releases it, and
// the next download gets the whole file and the receipt.
func TestExportDownloadInterrupted(t *testing.T) {
	tok, id, _ := readyExport(t, "regione-12", "aggregati", daysAgo(150), daysAgo(121))
	const size = 48 << 20
	sum := exportOnceBigFile(t, id, size)
	url := h.URL(exportFn, "/exports/"+id+"/download")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	cut := &http.Client{Transport: &http.Transport{}}
	resp, err := cut.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first download: status %d", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	// While it runs, the export is taken.
	exportOnceRefused(t, do(t, call{method: http.MethodGet, url: url, token: tok}), http.StatusConflict)
	// The client goes away with most of the file unread.
	cancel()
	resp.Body.Close()
	cut.CloseIdleConnections()

	// The claim is released: the export is downloadable again, whole.
	client := &http.Client{Timeout: time.Minute}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, n, got, err := exportOnceGet(client, url, tok)
		if err != nil {
			t.Fatal(err)
		}
		if r.status == http.StatusConflict && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if r.status != http.StatusOK {
			t.Fatalf("after the interrupted download: status %d", r.status)
		}
		if n != size || got != sum {
			t.Fatalf("the second download delivered %d bytes hashing to %s, the file has %d hashing to %s", n, got, size, sum)
		}
		break
	}
	exportOnceReceipt(t, tok, id, sum, size)
}

// TestExportDownloadClaimAcrossReplicas: the claim lives in PostgreSQL.
// A download another replica is serving (a live lease on the row) makes
// this one 409 and changes nothing; once that lease has run out (its
// replica died mid-download) the export is downloadable again.
func TestExportDownloadClaimAcrossReplicas(t *testing.T) {
	tok, id, _ := readyExport(t, "regione-15", "aggregati", daysAgo(180), daysAgo(151))
	ctx := context.Background()
	url := h.URL(exportFn, "/exports/"+id+"/download")
	other := "018f0000-0000-7000-8000-000000000001"
	if _, err := h.DB.Exec(ctx, `UPDATE export SET scaricamento_id = $2, scaricamento_scade_il = now() + interval '1 minute' WHERE id = $1`, id, other); err != nil {
		t.Fatal(err)
	}
	exportOnceRefused(t, do(t, call{method: http.MethodGet, url: url, token: tok}), http.StatusConflict)
	var claim, stato string
	if err := h.DB.QueryRow(ctx, `SELECT scaricamento_id::text, stato FROM export WHERE id = $1`, id).Scan(&claim, &stato); err != nil {
		t.Fatal(err)
	}
	if claim != other || stato != "PRONTO" {
		t.Fatalf("a refused download changed the export: claim %s, %s", claim, stato)
	}
	if _, err := h.DB.Exec(ctx, `UPDATE export SET scaricamento_scade_il = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	r := do(t, call{method: http.MethodGet, url: url, token: tok})
	if r.status != http.StatusOK {
		t.Fatalf("after the other replica's lease ran out: %d %s", r.status, r.body)
	}
	s := sha256.Sum256(r.body)
	exportOnceReceipt(t, tok, id, hex.EncodeToString(s[:]), int64(len(r.body)))
	if err := h.DB.QueryRow(ctx, `SELECT coalesce(scaricamento_id::text, ''), stato FROM export WHERE id = $1`, id).Scan(&claim, &stato); err != nil {
		t.Fatal(err)
	}
	if claim != "" || stato != "SCARICATO" {
		t.Errorf("after the download: claim %q, %s", claim, stato)
	}
}

// TestExportQuota: a recipient has at most export_destinatario.max_attivi
// exports it asked for queued or running; of max+1 requests at once, max
// are accepted and the others get 429 with Retry-After and leave nothing
// behind: not a job, not their Idempotency-Key.
func TestExportQuota(t *testing.T) {
	ctx := context.Background()
	const org, limit = "MLPS", 2
	var before *int
	// No row is a recipient with the default quota: before stays nil.
	if err := h.DB.QueryRow(ctx, `SELECT max_attivi FROM export_destinatario WHERE org = $1`, org).Scan(&before); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	if _, err := h.DB.Exec(ctx, `
		INSERT INTO export_destinatario (org, max_attivi) VALUES ($1, $2)
		ON CONFLICT (org) DO UPDATE SET max_attivi = EXCLUDED.max_attivi`, org, limit); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if before == nil {
			if _, err := h.DB.Exec(ctx, `DELETE FROM export_destinatario WHERE org = $1`, org); err != nil {
				t.Fatal(err)
			}
		} else {
			if _, err := h.DB.Exec(ctx, `UPDATE export_destinatario SET max_attivi = $2 WHERE org = $1`, org, *before); err != nil {
				t.Fatal(err)
			}
		}
	})
	tok := token(t, "mlps")
	// Earlier tests' jobs would take slots: start from none.
	eventually(t, 2*time.Minute, "the recipient's earlier jobs to end", func() bool {
		var active int
		if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM export WHERE org = $1 AND client_id <> '-' AND stato IN ('IN_CODA', 'IN_CORSO')`, org).Scan(&active); err != nil {
			t.Fatal(err)
		}
		return active == 0
	})

	type ask struct {
		key  string
		body []byte
		r    reply
		err  error
	}
	asks := make([]*ask, limit+1)
	for i := range asks {
		b, _ := json.Marshal(map[string]any{"tipo": "aggregati", "periodo": map[string]string{"da": daysAgo(400 - i), "a": daysAgo(380 - i)}})
		asks[i] = &ask{key: "quota-" + randomHex(8), body: b}
	}
	post := func(a *ask) (reply, error) {
		req, _ := http.NewRequest(http.MethodPost, h.URL(exportFn, ""), strings.NewReader(string(a.body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", a.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return reply{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
	}
	var since time.Time
	if err := h.DB.QueryRow(ctx, `SELECT now()`).Scan(&since); err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range asks {
		wg.Go(func() {
			<-start
			a.r, a.err = post(a)
		})
	}
	close(start)
	wg.Wait()

	var accepted []string
	var refused []*ask
	for _, a := range asks {
		if a.err != nil {
			t.Fatal(a.err)
		}
		switch a.r.status {
		case http.StatusAccepted:
			id, _ := a.r.json(t)["id_export"].(string)
			accepted = append(accepted, id)
		case http.StatusTooManyRequests:
			refused = append(refused, a)
		default:
			t.Errorf("status %d: %s", a.r.status, a.r.body)
		}
	}
	t.Cleanup(func() { // no job of this test outlives it
		for _, id := range accepted {
			waitExport(t, tok, id)
		}
	})
	if len(accepted) != limit || len(refused) != 1 {
		t.Fatalf("%d requests at once with a limit of %d: %d accepted, %d refused with 429", limit+1, limit, len(accepted), len(refused))
	}
	no := refused[0]
	assertProblem(t, no.r, http.StatusTooManyRequests)
	conformsToOpenAPI(t, "/function/anonymised-export", "post", no.r)
	if s, err := strconv.Atoi(no.r.header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("429 with Retry-After %q", no.r.header.Get("Retry-After"))
	}
	var created int
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM export WHERE org = $1 AND client_id <> '-' AND creato_il >= $2`, org, since).Scan(&created); err != nil {
		t.Fatal(err)
	}
	if created != limit {
		t.Errorf("%d exports were created for the %d accepted requests", created, limit)
	}

	// Once the accepted jobs have ended, the refused request is a new one:
	// its key was not kept, so it is accepted (202), not replayed.
	for _, id := range accepted {
		waitExport(t, tok, id)
	}
	again, err := post(no)
	if err != nil {
		t.Fatal(err)
	}
	if again.status != http.StatusAccepted {
		t.Fatalf("the refused request, sent again with slots free: %d %s", again.status, again.body)
	}
	id, _ := again.json(t)["id_export"].(string)
	accepted = append(accepted, id)
	if it := waitExport(t, tok, id); it.Stato != "PRONTO" {
		t.Fatalf("the export asked again ended %s", it.Stato)
	}
}
