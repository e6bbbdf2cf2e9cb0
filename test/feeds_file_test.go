package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/files"
)

// feedStore is the feeds' bucket, for checks the API cannot make.
func feedStore(t *testing.T) *files.Store {
	t.Helper()
	s, err := files.Open(h.Config, "feeds")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openFileBatch opens a file batch of source, optionally bound to a SHA-256.
func openFileBatch(t *testing.T, source, sum string) string {
	t.Helper()
	body := []byte{}
	if sum != "" {
		body = []byte(`{"sha256":"` + sum + `"}`)
	}
	r := do(t, call{url: feedURL(source, "/batches"), token: feedToken(t, source), contentType: "application/json", body: body,
		header: map[string]string{"Idempotency-Key": uuid.NewString()}})
	if r.status != http.StatusCreated {
		t.Fatalf("open a file batch: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/feed-"+source+"/batches", "post", r)
	m := r.json(t)
	if m["stato"] != "ATTESA_FILE" || !strings.HasSuffix(fmt.Sprint(m["file_url"]), "/batches/"+fmt.Sprint(m["id"])+"/file") {
		t.Fatalf("a new file batch: %s", r.body)
	}
	return m["id"].(string)
}

func putFile(t *testing.T, source, id string, body []byte) reply {
	t.Helper()
	return do(t, call{method: http.MethodPut, url: feedURL(source, "/batches/"+id+"/file"), token: feedToken(t, source),
		contentType: "application/x-ndjson", body: body})
}

func getBatch(t *testing.T, source, id string) feedAnswer {
	t.Helper()
	r := do(t, call{method: http.MethodGet, url: feedURL(source, "/batches/"+id), token: feedToken(t, source)})
	if r.status != http.StatusOK {
		t.Fatalf("batch %s: %d %s", id, r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/feed-"+source+"/batches/{id}", "get", r)
	var a feedAnswer
	decodeInto(t, r, &a)
	return a
}

// waitBatch polls the batch until it is in one of states.
func waitBatch(t *testing.T, source, id string, d time.Duration, states ...string) feedAnswer {
	t.Helper()
	var a feedAnswer
	eventually(t, d, "batch "+id+" to be "+strings.Join(states, " or "), func() bool {
		a = getBatch(t, source, id)
		return slices.Contains(states, a.Stato)
	})
	return a
}

// householdsOf feeds n households of size members each and returns the members.
func householdsOf(t *testing.T, n, size int) []string {
	t.Helper()
	at := time.Now()
	var records []map[string]any
	var codes []string
	flush := func() {
		if len(records) > 0 {
			if a := feed(t, "inps", records...); a.Scartati != 0 {
				t.Fatalf("households: %+v", a)
			}
			records = records[:0]
		}
	}
	for range n {
		protocol := "INPS-T-" + uuid.NewString()
		records = append(records, rec("nucleo", protocol, at, 0, nucleoData()))
		for range size {
			code := newPerson(t)
			codes = append(codes, code)
			records = append(records, rec("componente", code, at, 0, memberData(protocol, code)))
		}
		if len(records) > 9000 {
			flush()
		}
	}
	flush()
	return codes
}

// didFile is a file of perPerson DIDs for each of codes, under keys with prefix.
func didFile(t *testing.T, prefix string, codes []string, perPerson int) []byte {
	t.Helper()
	var b bytes.Buffer
	at := time.Now()
	for i, code := range codes {
		for j := range perPerson {
			b.Write(ndjsonOf(t, rec("did", fmt.Sprintf("%s-%d-%d", prefix, i, j), at, 0, didData(code, "INSERITA"))))
		}
	}
	return b.Bytes()
}

func TestFeedFile(t *testing.T) {
	t.Parallel()
	codes := householdsOf(t, 400, 1)
	prefix := "F-" + uuid.NewString()
	file := didFile(t, prefix, codes, 75) // 30,000 records: two chunks, 400 households
	// A cached answer of a household the file changes: it must be dropped.
	gepi := token(t, "gepi")
	if a, _ := didCheck(t, gepi, codes[len(codes)-1]); len(a.Componenti) != 1 || a.Componenti[0].StatoDid != nil {
		t.Fatalf("before the file: %+v", a)
	}
	file = append(file, []byte("not json\n\n")...)
	file = append(file, ndjsonOf(t, rec("did", prefix+"-x", time.Now(), 0, didData(newPerson(t), "INSERITA")))...)
	sum := sha256.Sum256(file)

	// A file that is not the one the batch was opened for is refused.
	id := openFileBatch(t, "anpal", hex.EncodeToString(sum[:]))
	assertProblem(t, putFile(t, "anpal", id, file[:len(file)-1]), http.StatusBadRequest)
	if a := getBatch(t, "anpal", id); a.Stato != "ATTESA_FILE" {
		t.Fatalf("after a wrong file the batch is %s", a.Stato)
	}
	r := putFile(t, "anpal", id, file)
	if r.status != http.StatusAccepted {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/feed-anpal/batches/{id}/file", "put", r)
	assertProblem(t, putFile(t, "anpal", id, file), http.StatusConflict)
	a := waitBatch(t, "anpal", id, time.Minute, "COMPLETATO", "FALLITO")
	want := feedAnswer{Stato: "COMPLETATO", Accettati: 30_000, Scartati: 2, Righe: 30_003, Byte: int64(len(file))}
	if a.Stato != want.Stato || a.Accettati != want.Accettati || a.Scartati != want.Scartati || a.Righe != want.Righe ||
		a.Byte != want.Byte || a.Totali == nil || *a.Totali != int64(len(file)) || a.Modo != "FILE" {
		t.Fatalf("file batch: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM did WHERE fonte_chiave LIKE $1`, prefix+"-%"); n != 30_000 {
		t.Fatalf("%d DIDs of the file stored, want 30,000", n)
	}
	eventually(t, 2*time.Second, "the file's DIDs to be answered", func() bool {
		a, _ := didCheck(t, gepi, codes[len(codes)-1])
		return len(a.Componenti) == 1 && a.Componenti[0].StatoDid != nil
	})
	// An applied file, personal data, is not kept.
	var object string
	if err := h.DB.QueryRow(context.Background(), `SELECT coalesce(oggetto, '') FROM feed_batch WHERE id = $1`, id).Scan(&object); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the applied file to be removed", func() bool {
		return countOf(t, `SELECT count(*) FROM feed_batch WHERE id = $1 AND oggetto IS NULL`, id) == 1
	})
	if object != "" {
		if _, err := feedStore(t).Encrypted(context.Background(), object); !errors.Is(err, files.ErrNotFound) {
			t.Fatalf("the applied file is still stored (%v)", err)
		}
	}
	rj := do(t, call{method: http.MethodGet, url: feedURL("anpal", "/batches/"+id+"/scarti"), token: feedToken(t, "anpal")})
	conformsToOpenAPI(t, "/function/feed-anpal/batches/{id}/scarti", "get", rj)
	if !strings.Contains(string(rj.body), `{"riga":30001,"campo":"","codice":"malformed"}`) ||
		!strings.Contains(string(rj.body), `{"riga":30003,"campo":"dati.codice_fiscale","codice":"unknown_person"}`) {
		t.Fatalf("file rejects: %s", rj.body)
	}
	if n := countOf(t, `SELECT count(*) FROM audit_log WHERE request_id = $1 AND action = 'feed-batch' AND function = 'feed-anpal'
		AND client_id = 'anpal' AND outcome LIKE '%accettati=30000 %'`, "feed_batch:"+id); n != 1 {
		t.Fatalf("%d audit records of the file batch, want 1", n)
	}

	// The same file sent again as another batch changes nothing.
	again := openFileBatch(t, "anpal", "")
	if r := putFile(t, "anpal", again, file); r.status != http.StatusAccepted {
		t.Fatalf("upload again: %d %s", r.status, r.body)
	}
	a = waitBatch(t, "anpal", again, time.Minute, "COMPLETATO", "FALLITO")
	if a.Stato != "COMPLETATO" || a.Accettati != 0 || a.Obsoleti != 30_000 || a.Scartati != 2 {
		t.Fatalf("file re-sent: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM did WHERE fonte_chiave LIKE $1`, prefix+"-%"); n != 30_000 {
		t.Fatalf("%d DIDs after the file was sent twice, want 30,000", n)
	}

	// The batches are listed, newest first, and a failed state can be asked for.
	l := do(t, call{method: http.MethodGet, url: feedURL("anpal", "/batches?limit=500"), token: feedToken(t, "anpal")})
	conformsToOpenAPI(t, "/function/feed-anpal/batches", "get", l)
	if l.status != http.StatusOK || !strings.Contains(string(l.body), again) || !strings.Contains(string(l.body), id) ||
		strings.Index(string(l.body), again) > strings.Index(string(l.body), id) {
		t.Fatalf("batch list: %d %.300s", l.status, l.body)
	}
	assertProblem(t, do(t, call{method: http.MethodGet, url: feedURL("anpal", "/batches?stato=PIPPO"), token: feedToken(t, "anpal")}), http.StatusBadRequest)
	assertProblem(t, do(t, call{method: http.MethodPost, url: feedURL("anpal", "/batches/"+id+"/ripresa"), token: feedToken(t, "anpal")}), http.StatusConflict)
	assertProblem(t, do(t, call{method: http.MethodGet, url: feedURL("anpal", "/batches/"+uuid.NewString()), token: feedToken(t, "anpal")}), http.StatusNotFound)
	// Another source's batch is not found: a batch belongs to its source.
	assertProblem(t, do(t, call{method: http.MethodGet, url: feedURL("inps", "/batches/"+id), token: feedToken(t, "inps")}), http.StatusNotFound)
}

// TestFeedFileResumes stops MinIO while a file is being applied: the batch
// fails with its reason, and once resumed goes on from its last checkpoint,
// so no record is applied twice (nothing is counted stale).
func TestFeedFileResumes(t *testing.T) {
	codes := householdsOf(t, 250, 4)
	prefix := "R-" + uuid.NewString()
	file := didFile(t, prefix, codes, 250) // 250,000 records, ~60 MB: more than the job reads ahead
	ctx := context.Background()

	// Hold the job at its first chunk on a lock, then stop MinIO.
	tx, err := h.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE did IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	id := openFileBatch(t, "anpal", "")
	if r := putFile(t, "anpal", id, file); r.status != http.StatusAccepted {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	eventually(t, 30*time.Second, "the job to wait on the lock", func() bool {
		return countOf(t, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INTO did%'`) > 0
	})
	h.MinIO.Cut()
	defer h.MinIO.Restore()
	if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		t.Fatal(err)
	}
	a := waitBatch(t, "anpal", id, time.Minute, "FALLITO", "COMPLETATO")
	if a.Stato != "FALLITO" || a.Errore == nil || !strings.Contains(*a.Errore, "file storage") || a.Righe == 0 || a.Righe >= 250_000 {
		t.Fatalf("batch after MinIO stopped: %+v", a)
	}
	if strings.Contains(*a.Errore, "127.0.0.1") || strings.Contains(*a.Errore, prefix) {
		t.Fatalf("the failure leaks details: %s", *a.Errore)
	}
	if n := countOf(t, `SELECT count(*) FROM feed_batch WHERE id = $1 AND oggetto IS NOT NULL`, id); n != 1 {
		t.Fatal("a failed batch's file was not kept to be resumed")
	}
	h.MinIO.Restore()

	r := do(t, call{method: http.MethodPost, url: feedURL("anpal", "/batches/"+id+"/ripresa"), token: feedToken(t, "anpal")})
	if r.status != http.StatusAccepted {
		t.Fatalf("resume: %d %s", r.status, r.body)
	}
	conformsToOpenAPI(t, "/function/feed-anpal/batches/{id}/ripresa", "post", r)
	a = waitBatch(t, "anpal", id, 2*time.Minute, "COMPLETATO", "FALLITO")
	if a.Stato != "COMPLETATO" || a.Accettati != 250_000 || a.Obsoleti != 0 || a.Righe != 250_000 || a.Tentativi != 2 {
		t.Fatalf("resumed batch: %+v", a)
	}
	if n := countOf(t, `SELECT count(*) FROM did WHERE fonte_chiave LIKE $1`, prefix+"-%"); n != 250_000 {
		t.Fatalf("%d DIDs stored, want 250,000", n)
	}
}
