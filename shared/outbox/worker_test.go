package outbox

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/dbtest"
)

func TestBackoff(t *testing.T) {
	o := Options{BackoffBase: time.Second, BackoffMax: time.Minute}
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{7, 30 * time.Second, time.Minute},   // 64 s capped at 60 s
		{100, 30 * time.Second, time.Minute}, // no overflow
	}
	for _, tt := range tests {
		for range 50 {
			if d := Backoff(o, tt.attempt); d < tt.min || d > tt.max {
				t.Fatalf("attempt %d: %v outside [%v, %v]", tt.attempt, d, tt.min, tt.max)
			}
		}
	}
}

// partner is a receiving platform: a token endpoint and a notification
// endpoint that fails while failing is set.
type partner struct {
	srv     *httptest.Server
	failing atomic.Bool
	delay   atomic.Int64 // nanoseconds each notification takes to answer
	calls   atomic.Int64 // notification POSTs answered, refused ones included
	mu      sync.Mutex
	posts   map[string]int // by Idempotency-Key
	bodies  map[string]map[string]any
}

func newPartner(t *testing.T) *partner {
	t.Helper()
	p := &partner{posts: map[string]int{}, bodies: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if id, secret, _ := r.BasicAuth(); id != "rdc" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":300}`) // a failed write shows as the worker's error
	})
	mux.HandleFunc("POST /notify", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		p.calls.Add(1)
		time.Sleep(time.Duration(p.delay.Load()))
		if p.failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body) // a body that is not JSON is recorded as nil, for the test to find
		p.mu.Lock()
		key := r.Header.Get("Idempotency-Key")
		p.posts[key]++
		p.bodies[key] = body
		p.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *partner) config() Partner {
	return Partner{Name: "ANPAL", Kind: Transfer, Sender: "transfer-to-cpi", URL: p.srv.URL + "/notify", TokenURL: p.srv.URL + "/token", ClientID: "rdc", ClientSecret: "s3cret"}
}

// queued writes n transfers' notifications (Queue) and returns their ids.
func queued(t *testing.T, pool *pgxpool.Pool, n int) []string {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		INSERT INTO comune VALUES ('058091', 'H501', 'Roma', 'RM', '12') ON CONFLICT DO NOTHING;
		INSERT INTO nucleo (id, protocollo_domanda, stato_domanda, data_presentazione, isee, reddito_familiare,
		                    patrimonio_mobiliare, patrimonio_immobiliare, data_dsu, importo_beneficio, comune_residenza, indirizzo, cap)
		VALUES (1, 'P1', 'ACCOLTA', '2025-01-10', 1, 1, 1, 1, '2025-01-01', 500, '058091', 'Via Roma 1', '00100')
		ON CONFLICT DO NOTHING`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	b := &pgx.Batch{}
	for range n {
		id := uuid.NewString()
		Queue(b, Message{ID: id, Partner: "ANPAL", Kind: Transfer, Body: []byte(`{"id_trasferimento":"` + id + `","verso":"CPI"}`), Household: 1})
		ids = append(ids, id)
	}
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestDeliveryOnceEachAcrossWorkers(t *testing.T) {
	pool := dbtest.Pool(t)
	p := newPartner(t)
	ids := queued(t, pool, 60)
	// Two replicas sweep at once: the leases split the work.
	w1, w2 := New(pool, p.config(), Options{Batch: 7}, quiet()), New(pool, p.config(), Options{Batch: 5}, quiet())
	var wg sync.WaitGroup
	var r1, r2 Result
	wg.Add(2)
	go func() { defer wg.Done(); r1, _ = w1.Sweep(context.Background()) }()
	go func() { defer wg.Done(); r2, _ = w2.Sweep(context.Background()) }()
	wg.Wait()
	if r1.Delivered+r2.Delivered != len(ids) {
		t.Fatalf("delivered %d + %d, want %d", r1.Delivered, r2.Delivered, len(ids))
	}
	for _, id := range ids {
		if p.posts[id] != 1 {
			t.Errorf("%s posted %d times", id, p.posts[id])
		}
		if p.bodies[id]["id_trasferimento"] != id || p.bodies[id]["verso"] != "CPI" {
			t.Errorf("body %v", p.bodies[id])
		}
	}
	items, err := List(context.Background(), pool, "CONSEGNATA", 100)
	if err != nil || len(items) != len(ids) {
		t.Fatalf("%d delivered listed, err %v", len(items), err)
	}
	var audited int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'notify' AND org = 'ANPAL' AND nucleo_id = 1`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != len(ids) {
		t.Errorf("%d audit records for %d deliveries", audited, len(ids))
	}
}

func TestDeadLetterAndRequeue(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := newPartner(t)
	ids := queued(t, pool, 3)
	p.failing.Store(true)
	w := New(pool, p.config(), Options{MaxAttempts: 3, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}, quiet())
	var dead int
	for i := 0; i < 20 && dead < len(ids); i++ {
		r, err := w.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dead += r.DeadLettered
		time.Sleep(5 * time.Millisecond)
	}
	items, err := List(ctx, pool, "SCARTATA", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(ids) {
		t.Fatalf("%d set aside, want %d", len(items), len(ids))
	}
	for _, it := range items {
		if it.Tentativi != 3 || it.UltimoErrore == nil || *it.UltimoErrore != "HTTP 502" {
			t.Errorf("set aside after %d attempts, last error %v", it.Tentativi, it.UltimoErrore)
		}
	}
	// Set aside means left alone.
	if r, _ := w.Sweep(ctx); r != (Result{}) {
		t.Fatalf("a sweep touched set-aside notifications: %+v", r)
	}
	p.failing.Store(false)
	n, err := Requeue(ctx, pool, ids[:1])
	if err != nil || n != 1 {
		t.Fatalf("requeued %d, err %v", n, err)
	}
	if r, _ := w.Sweep(ctx); r.Delivered != 1 {
		t.Fatalf("after requeueing one: %+v", r)
	}
	if n, _ := Requeue(ctx, pool, nil); n != 2 {
		t.Fatalf("requeue all: %d", n)
	}
	if r, _ := w.Sweep(ctx); r.Delivered != 2 {
		t.Fatalf("after requeueing all: %+v", r)
	}
}

func TestTokenRefusedIsRetried(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := newPartner(t)
	queued(t, pool, 1)
	cfg := p.config()
	cfg.ClientSecret = "wrong"
	w := New(pool, cfg, Options{}, quiet())
	r, err := w.Sweep(ctx)
	if err != nil || r.Retried != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	items, _ := List(ctx, pool, "IN_ATTESA", 10)
	if len(items) != 1 || items[0].UltimoErrore == nil || !strings.HasPrefix(*items[0].UltimoErrore, "token endpoint: HTTP 401") {
		t.Fatalf("%+v", items)
	}
	if len(p.posts) != 0 {
		t.Fatal("posted without a token")
	}
}

func TestNoPartnerConfiguredWaits(t *testing.T) {
	pool := dbtest.Pool(t)
	queued(t, pool, 1)
	w := New(pool, Partner{Name: "ANPAL"}, Options{}, quiet())
	if r, err := w.Sweep(context.Background()); err != nil || r != (Result{}) {
		t.Fatalf("%+v %v", r, err)
	}
	items, _ := List(context.Background(), pool, "IN_ATTESA", 10)
	if len(items) != 1 || items[0].Tentativi != 0 {
		t.Fatalf("%+v", items)
	}
}

// TestLeaseOfADeadWorkerExpires: a replica that claimed notifications and
// died leaves them to the others once its lease runs out, and not before.
func TestLeaseOfADeadWorkerExpires(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := newPartner(t)
	ids := queued(t, pool, 4)
	opt := Options{Timeout: 100 * time.Millisecond} // lease: 4 rounds of a batch of 32, and one more
	dead := New(pool, p.config(), opt, quiet())
	start := time.Now()
	if claimed, err := dead.claim(ctx); err != nil || len(claimed) != len(ids) {
		t.Fatalf("claimed %d, err %v", len(claimed), err)
	}
	live := New(pool, p.config(), opt, quiet())
	if r, err := live.Sweep(ctx); err != nil || r.Delivered != 0 {
		t.Fatalf("took leased notifications: %+v %v", r, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := live.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Delivered == len(ids) {
			break
		}
		if r.Delivered != 0 {
			t.Fatalf("after the lease: %+v", r)
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease of a dead worker never ran out")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("taken over after %v, before the lease ran out", took)
	}
}

// state is a notification's row as the outcome checks need it; times in
// microseconds, as PostgreSQL keeps them, so that states compare with ==.
type state struct {
	Stato      string
	Tentativi  int
	Errore     string
	Prossimo   int64
	Consegnata int64 // 0: not delivered
	Claim      string
	Audited    int
}

func stateOf(t *testing.T, pool *pgxpool.Pool, id string) state {
	t.Helper()
	var s state
	err := pool.QueryRow(context.Background(), `
		SELECT stato, tentativi, coalesce(ultimo_errore, ''), (extract(epoch FROM prossimo_tentativo) * 1e6)::bigint,
		       coalesce((extract(epoch FROM consegnata_il) * 1e6)::bigint, 0), coalesce(tentativo_id::text, ''),
		       (SELECT count(*) FROM audit_log WHERE request_id = 'consegna:' || c.id::text)
		FROM consegna c WHERE id = $1`, id).Scan(&s.Stato, &s.Tentativi, &s.Errore, &s.Prossimo, &s.Consegnata, &s.Claim, &s.Audited)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// takeOver waits, sweeping with w, until w has delivered the notification a
// stalled worker holds: its lease ran out, w claimed it and delivered it.
func takeOver(t *testing.T, w *Worker) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := w.Sweep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if r.Delivered == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled worker's lease never ran out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLateOutcomeOfALostLeaseIsIgnored: a worker that stalled past its
// lease, while another took the notification and delivered it, records
// nothing when its own POST finally ends: a late failure neither sets the
// delivered notification back to pending (to be sent again) nor aside,
// and a late success adds no second delivery record.
func TestLateOutcomeOfALostLeaseIsIgnored(t *testing.T) {
	cases := []struct {
		name        string
		failing     bool
		maxAttempts int
	}{
		{"late failure", true, 12},
		{"late last failure", true, 1},
		{"late success", false, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool := dbtest.Pool(t)
			id := queued(t, pool, 1)[0]
			opt := Options{Timeout: 50 * time.Millisecond, Batch: 1, MaxAttempts: tc.maxAttempts}
			slow, fast := newPartner(t), newPartner(t)
			slow.failing.Store(tc.failing)
			stalled := New(pool, slow.config(), opt, quiet())
			due, err := stalled.claim(ctx)
			if err != nil || len(due) != 1 {
				t.Fatalf("claimed %d, err %v", len(due), err)
			}
			takeOver(t, New(pool, fast.config(), opt, quiet()))
			before := stateOf(t, pool, id)
			if before.Stato != "CONSEGNATA" || before.Audited != 1 {
				t.Fatalf("after the other worker: %+v", before)
			}

			// The stalled worker's POST ends now.
			if _, err := stalled.deliver(ctx, due[0]); err != nil {
				t.Fatal(err)
			}
			after := stateOf(t, pool, id)
			if after != before {
				t.Fatalf("a late outcome changed a delivered notification: %+v, was %+v", after, before)
			}
			if r, err := New(pool, fast.config(), opt, quiet()).Sweep(ctx); err != nil || r != (Result{}) {
				t.Fatalf("the notification is due again: %+v %v", r, err)
			}
			if fast.posts[id] != 1 {
				t.Fatalf("delivered %d times", fast.posts[id])
			}
		})
	}
}

// TestLateFailureLeavesTheNewLeaseAlone: a stalled worker's failure, ended
// while another worker holds the notification, neither cuts that worker's
// lease short (its next attempt) nor prevents it from recording its own
// delivery.
func TestLateFailureLeavesTheNewLeaseAlone(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	id := queued(t, pool, 1)[0]
	opt := Options{Timeout: 50 * time.Millisecond, Batch: 1}
	slow, fast := newPartner(t), newPartner(t)
	slow.failing.Store(true)
	stalled, other := New(pool, slow.config(), opt, quiet()), New(pool, fast.config(), opt, quiet())
	first, err := stalled.claim(ctx)
	if err != nil || len(first) != 1 {
		t.Fatalf("claimed %d, err %v", len(first), err)
	}
	var second []notification
	deadline := time.Now().Add(5 * time.Second)
	for len(second) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled worker's lease never ran out")
		}
		time.Sleep(20 * time.Millisecond)
		if second, err = other.claim(ctx); err != nil {
			t.Fatal(err)
		}
	}
	held := stateOf(t, pool, id)
	if _, err := stalled.deliver(ctx, first[0]); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, pool, id); s != held {
		t.Fatalf("a late failure changed a notification leased by another worker: %+v, was %+v", s, held)
	}
	if o, err := other.deliver(ctx, second[0]); err != nil || o != delivered {
		t.Fatalf("the lease holder's delivery: %v %v", o, err)
	}
	if s := stateOf(t, pool, id); s.Stato != "CONSEGNATA" || s.Tentativi != 1 || s.Audited != 1 {
		t.Fatalf("after delivery: %+v", s)
	}
}

// TestLeaseOutlastsABatch: a batch whose every POST is slow, yet within the
// timeout, is still leased when its last POSTs end, so a second worker
// sweeping all along takes none of it and nothing is sent twice.
func TestLeaseOutlastsABatch(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := newPartner(t)
	const batch = 6 * parallel // six rounds of POSTs
	ids := queued(t, pool, batch)
	opt := Options{Timeout: 400 * time.Millisecond, Batch: batch}
	p.delay.Store(int64(250 * time.Millisecond))

	// The lease is as long as the batch can take, by the configuration.
	probe := New(pool, p.config(), Options{Batch: batch}, quiet())
	due, err := probe.claim(ctx)
	if err != nil || len(due) != batch {
		t.Fatalf("claimed %d, err %v", len(due), err)
	}
	var ns int64
	if err := pool.QueryRow(ctx, `SELECT (extract(epoch FROM min(prossimo_tentativo) - now()) * 1e9)::bigint FROM consegna`).Scan(&ns); err != nil {
		t.Fatal(err)
	}
	leased := time.Duration(ns)
	if worst := 6 * 10 * time.Second; leased <= worst { // six rounds of 10 s POSTs
		t.Fatalf("leased for %v, a batch takes up to %v", leased, worst)
	}
	if _, err := pool.Exec(ctx, `UPDATE consegna SET prossimo_tentativo = now()`); err != nil { // the probe lets go
		t.Fatal(err)
	}

	busy := New(pool, p.config(), opt, quiet())
	done := make(chan Result, 1)
	go func() {
		r, err := busy.Sweep(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	deadline := time.Now().Add(10 * time.Second)
	for p.calls.Load() == 0 { // claimed, all at once
		if time.Now().After(deadline) {
			t.Fatal("no notification posted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	other := New(pool, p.config(), opt, quiet())
	var stolen Result
	var r Result
	for sweeping := true; sweeping; {
		select {
		case r = <-done:
			sweeping = false
		default:
			s, err := other.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stolen.Delivered += s.Delivered
			time.Sleep(10 * time.Millisecond)
		}
	}
	if r.Delivered != batch || stolen.Delivered != 0 {
		t.Errorf("the batch's worker delivered %d, the other %d, of %d", r.Delivered, stolen.Delivered, batch)
	}
	for _, id := range ids {
		if p.posts[id] != 1 {
			t.Errorf("%s posted %d times", id, p.posts[id])
		}
	}
}

// TestReleasedWhenTheLeaseCannotCoverAPost: a notification whose batch ran
// so late that its POST could outlast the lease is not POSTed but given
// back, due now, and the next sweep delivers it.
func TestReleasedWhenTheLeaseCannotCoverAPost(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := newPartner(t)
	id := queued(t, pool, 1)[0]
	w := New(pool, p.config(), Options{}, quiet())
	due, err := w.claim(ctx)
	if err != nil || len(due) != 1 {
		t.Fatalf("claimed %d, err %v", len(due), err)
	}
	late := due[0]
	late.postBy = time.Now().Add(w.opt.Timeout / 2) // the batch ran late
	if o, err := w.attempt(ctx, late); err != nil || o != released {
		t.Fatalf("outcome %v, err %v", o, err)
	}
	if p.calls.Load() != 0 {
		t.Fatal("posted with too little lease left")
	}
	var dueNow bool
	if err := pool.QueryRow(ctx, `SELECT prossimo_tentativo <= now() FROM consegna WHERE id = $1`, id).Scan(&dueNow); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, pool, id); s.Stato != "IN_ATTESA" || s.Tentativi != 0 || !dueNow {
		t.Fatalf("not given back: %+v", s)
	}
	if r, err := w.Sweep(ctx); err != nil || r.Delivered != 1 || p.posts[id] != 1 {
		t.Fatalf("after release: %+v %v, %d posts", r, err, p.posts[id])
	}
}

// TestSendReplacesThePost: a worker with a Send (the report's e-mails)
// hands it each row of its kind, with the row's address, and keeps the
// outbox's retries: a failure is recorded in Send's words and retried, a
// success delivered once. Rows of other kinds are not its.
func TestSendReplacesThePost(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	id, other := uuid.NewString(), uuid.NewString()
	b := &pgx.Batch{}
	Queue(b, Message{ID: id, Partner: "APL:1/x/email", Kind: ReportEmail, Body: []byte(`{"n":1}`), URL: "mailto:x@example.org"})
	Queue(b, Message{ID: other, Partner: "APL:1", Kind: Report, Body: []byte(`{"n":2}`), URL: "http://127.0.0.1:1/"})
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Delivery
	fail := true
	w := New(pool, Partner{Kind: ReportEmail, Sender: "test", Send: func(_ context.Context, d Delivery) string {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, d)
		if fail {
			return "smtp: temporary 451"
		}
		return ""
	}}, Options{BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}, quiet())
	if r, err := w.Sweep(ctx); err != nil || r.Retried != 1 {
		t.Fatalf("first sweep %+v %v", r, err)
	}
	var state, last string
	if err := pool.QueryRow(ctx, `SELECT stato, ultimo_errore FROM consegna WHERE id = $1`, id).Scan(&state, &last); err != nil || state != "IN_ATTESA" || last != "smtp: temporary 451" {
		t.Fatalf("after a failure: %s %q %v", state, last, err)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	delivered := 0
	for i := 0; i < 100 && delivered == 0; i++ {
		time.Sleep(5 * time.Millisecond)
		r, err := w.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		delivered += r.Delivered
	}
	if delivered != 1 || len(got) != 2 {
		t.Fatalf("delivered %d after %d sends", delivered, len(got))
	}
	if d := got[1]; d.ID != id || d.To != "APL:1/x/email" || d.URL != "mailto:x@example.org" || string(d.Body) != `{"n":1}` {
		t.Errorf("send got %+v", d)
	}
	if err := pool.QueryRow(ctx, `SELECT stato FROM consegna WHERE id = $1`, other).Scan(&state); err != nil || state != "IN_ATTESA" {
		t.Errorf("a webhook row was taken by the e-mail worker: %s %v", state, err)
	}
}
