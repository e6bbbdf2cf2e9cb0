package test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/outbox"
)

// TestOutboxLeaseCoversTheBatch (issue 11): an agency's webhook that
// answers every first notification slowly, though within DELIVERY_TIMEOUT,
// then fails it, makes one worker's batch take four rounds of POSTs.
// Deployed, a function has several replicas, each with its worker (the
// transfers at least two). The gateway serves one replica of
// apl-daily-report; the test runs a second one's webhook worker, as the
// function starts it, on the same database. (The scheduled call sweeps once
// per slot, so it cannot be the second sweeper; the agency's webhook is
// used because each row names its URL.) Each notification is held by one
// worker at a time (never two POSTs of it in flight at once), answered 2xx
// once, recorded delivered once, and never set back to pending after it
// was delivered.
func TestOutboxLeaseCoversTheBatch(t *testing.T) {
	ctx := context.Background()
	timeout := h.Config.Delivery.Timeout
	slow := timeout * 9 / 10
	// A worker claims 32 at a time and POSTs 8 at once: four slow rounds.
	const n = 32

	type calls struct{ posts, inFlight, overlaps, ok int }
	var mu sync.Mutex
	seen := map[string]*calls{}
	firsts := 0 // first POSTs answered
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		c := seen[key]
		if c == nil {
			c = &calls{}
			seen[key] = c
		}
		c.posts++
		if c.inFlight > 0 {
			c.overlaps++
		}
		c.inFlight++
		first := c.posts == 1
		mu.Unlock()
		defer func() { mu.Lock(); c.inFlight--; mu.Unlock() }()
		if first {
			time.Sleep(slow)
			mu.Lock()
			firsts++
			mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		mu.Lock()
		c.ok++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	// The function starts its worker with its first request.
	if r := do(t, call{method: http.MethodGet, url: h.URL(reportFn, "/status")}); r.status != http.StatusOK {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	opt := outbox.OptionsOf(h.Config.Delivery)
	replica := outbox.New(h.DB, outbox.Partner{Kind: outbox.Report, Sender: "apl-daily-report"}, opt,
		slog.New(slog.DiscardHandler))
	rctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { replica.Run(rctx); close(stopped) }()
	defer func() { stop(); <-stopped }()

	// Whichever worker claims first takes all of them, in one batch.
	var ids []string
	b := &pgx.Batch{}
	for g := range n {
		id := uuid.NewString()
		outbox.Queue(b, outbox.Message{ID: id, Partner: "APL:1001", Kind: outbox.Report, Body: []byte(fmt.Sprintf(`{"prova":%d}`, g+1)),
			URL: hook.URL, At: time.Now().Add(-time.Hour)})
		ids = append(ids, id)
	}
	if err := h.DB.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := h.DB.Exec(context.Background(), `DELETE FROM consegna WHERE id = ANY ($1::uuid[])`, ids); err != nil {
			t.Error(err)
		}
	})

	delivered := map[string]bool{}
	var regressed []string
	observe := func() (all bool) {
		rows, err := h.DB.Query(ctx, `SELECT id::text, stato FROM consegna WHERE id = ANY ($1::uuid[])`, ids)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		count := 0
		for rows.Next() {
			var id, state string
			if err := rows.Scan(&id, &state); err != nil {
				t.Fatal(err)
			}
			if state == "CONSEGNATA" {
				delivered[id] = true
				count++
			} else if delivered[id] {
				regressed = append(regressed, id)
				delete(delivered, id)
			}
		}
		return count == n
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		batchDone := firsts == n
		mu.Unlock()
		if observe() && batchDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for the notifications: %d of %d delivered", len(delivered), n)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if len(regressed) > 0 {
		t.Errorf("%d delivered notifications were set back to pending", len(regressed))
	}
	mu.Lock()
	defer mu.Unlock()
	overlaps, repeats := 0, 0
	for _, id := range ids {
		c := seen[id]
		if c == nil {
			t.Fatalf("%s never posted", id)
		}
		overlaps += c.overlaps
		if c.ok != 1 {
			repeats++
		}
	}
	if overlaps > 0 {
		t.Errorf("%d POSTs of a notification while another POST of it was in flight: two workers held it", overlaps)
	}
	if repeats > 0 {
		t.Errorf("%d of %d notifications were answered 2xx other than once", repeats, n)
	}
	audited := int64s(t, `SELECT count(*) FROM audit_log WHERE action = 'notify' AND request_id = ANY (SELECT 'consegna:' || x FROM unnest($1::text[]) x) GROUP BY request_id HAVING count(*) <> 1`, ids)
	if len(audited) > 0 {
		t.Errorf("%d notifications recorded as delivered more than once", len(audited))
	}
}
