package delivery

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
	mu      sync.Mutex
	posts   map[string]int // by Idempotency-Key
	bodies  map[string]map[string]any
}

func newPartner(t *testing.T) *partner {
	p := &partner{posts: map[string]int{}, bodies: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if id, secret, _ := r.BasicAuth(); id != "rdc" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":300}`)
	})
	mux.HandleFunc("POST /notify", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if p.failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
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

// outbox writes n transfers with their notifications and returns their ids.
func outbox(t *testing.T, pool *pgxpool.Pool, n int) []string {
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
	for range n {
		id := uuid.NewString()
		_, err := pool.Exec(ctx, `
			INSERT INTO consegna (id, destinatario, tipo, corpo, nucleo_id)
			VALUES ($1::uuid, 'ANPAL', 'TRASFERIMENTO', json_build_object('id_trasferimento', $1::uuid, 'verso', 'CPI'), 1)`, id)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestDeliveryOnceEachAcrossWorkers(t *testing.T) {
	pool := dbtest.Pool(t)
	p := newPartner(t)
	ids := outbox(t, pool, 60)
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
	pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'notify' AND org = 'ANPAL' AND nucleo_id = 1`).Scan(&audited)
	if audited != len(ids) {
		t.Errorf("%d audit records for %d deliveries", audited, len(ids))
	}
}

func TestDeadLetterAndRequeue(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := newPartner(t)
	ids := outbox(t, pool, 3)
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
	outbox(t, pool, 1)
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
	outbox(t, pool, 1)
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
// died leaves them to the others once its lease runs out.
func TestLeaseOfADeadWorkerExpires(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.Pool(t)
	p := newPartner(t)
	ids := outbox(t, pool, 4)
	opt := Options{Timeout: 100 * time.Millisecond} // lease: 300 ms
	dead := New(pool, p.config(), opt, quiet())
	if claimed, err := dead.claim(ctx); err != nil || len(claimed) != len(ids) {
		t.Fatalf("claimed %d, err %v", len(claimed), err)
	}
	live := New(pool, p.config(), opt, quiet())
	if r, err := live.Sweep(ctx); err != nil || r.Delivered != 0 {
		t.Fatalf("took leased notifications: %+v %v", r, err)
	}
	time.Sleep(400 * time.Millisecond)
	if r, err := live.Sweep(ctx); err != nil || r.Delivered != len(ids) {
		t.Fatalf("after the lease: %+v %v", r, err)
	}
}
