// Package outbox is the consegna table, both sides: an event queues its
// notifications in its own transaction (Queue: a transfer made, an offer's
// refusal, an agency's report), and a Worker in the function that wrote
// them notifies the partner platform of each, at least once.
//
// A Worker claims due notifications with a lease (it pushes their next
// attempt past its own deadline, under FOR UPDATE SKIP LOCKED), so replicas
// share the work, and a worker that dies mid-delivery leaves its rows to be
// retried after the lease rather than lost. The lease outlasts the whole
// batch it covers, and a worker records an outcome only on a row it still
// holds: a worker that lost its lease (it stalled, and another took the row
// and delivered it) cannot set a delivered notification back to pending,
// nor count a repeat. Each POST carries
// Idempotency-Key: <the event's id>, so the partner can drop the repeats
// that at-least-once delivery allows. Failures are retried with exponential
// back-off and jitter; after MaxAttempts a notification is set aside
// (SCARTATA) for an operator to see (List) and re-queue (Requeue).
package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/db"
)

// Kinds of notification (consegna.tipo): a worker delivers one kind to one
// partner, each to its own URL.
const (
	Transfer = "TRASFERIMENTO"
	Refusal  = "RIFIUTO_OFFERTA"
	Report   = "REPORT_APL"
	// Equipe: a change of an Equipe case, for the other side (GEPI or ANPAL).
	Equipe = "EQUIPE"
	// Conditionality: a fact that may lead to a sanction, for INPS.
	Conditionality = "CONDIZIONALITA"
	// ReportEmail: an agency's daily report e-mailed to one of its super
	// users. Its rows are not POSTed: the worker of this kind has a Send
	// (SMTP), so the HTTP worker of Report never takes them.
	ReportEmail = "REPORT_APL_EMAIL"
)

// Partner is a receiving platform and how to call it.
type Partner struct {
	Name         string // ANPAL, GEPI or INPS: consegna.destinatario; empty: every destination of Kind
	Kind         string // the notifications this worker delivers: consegna.tipo
	Sender       string // the function that notifies, for the audit trail
	URL          string // where they are POSTed; empty: each row's url, else they wait
	TokenURL     string // the partner's OAuth2 token endpoint (client credentials); empty: no token
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Sign, when set, signs each body; the POST carries the JWS in
	// SignatureHeader, for receivers with no token endpoint (an agency's
	// webhook) to check against the service's published keys.
	Sign func(body []byte) (string, error)
	// Send, when set, delivers each notification instead of the POST (an
	// e-mail), with the same claims, retries and audit; it returns "" or
	// why it failed, in words fit for the outbox (no body, no address).
	Send func(ctx context.Context, d Delivery) string
}

// Delivery is one notification as a Partner.Send sees it.
type Delivery struct {
	ID   string // the event's id: the receiver's key for repeats
	To   string // consegna.destinatario
	Body []byte
	URL  string // the row's own address, if any
}

// SignatureHeader carries a body's JWS when the partner has no token endpoint.
const SignatureHeader = "X-Rdc-Signature"

// Options tune the retries; zero values take the defaults.
type Options struct {
	MaxAttempts int           // before the dead-letter state; 12
	BackoffBase time.Duration // first retry delay; 2 s
	BackoffMax  time.Duration // longest retry delay; 15 min
	Poll        time.Duration // how often due retries are looked for; 5 s
	Timeout     time.Duration // one POST, token included; 10 s
	Batch       int           // notifications claimed at once; 32
}

func (o *Options) defaults() {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 2 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 15 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
}

// Configure is where and how partner's notifications of kind are POSTed,
// from the configuration (config.Partner: its NotifyURL for transfers and
// reports, its RefusalURL for refusals; an empty URL leaves them waiting),
// with the retry settings. sender is the function that notifies.
func Configure(cfg config.Config, partner, kind, sender string) (Partner, Options) {
	pc := cfg.Partners[partner]
	url := pc.NotifyURL
	if kind == Refusal {
		url = pc.RefusalURL
	}
	pt := Partner{Name: partner, Kind: kind, Sender: sender, URL: url, TokenURL: pc.TokenURL,
		ClientID: pc.ClientID, ClientSecret: pc.ClientSecret, Scopes: pc.Scopes}
	return pt, OptionsOf(cfg.Delivery)
}

// OptionsOf are the retry settings of the configuration; unset ones keep
// their defaults.
func OptionsOf(d config.Delivery) Options {
	return Options{MaxAttempts: d.MaxAttempts, BackoffBase: d.BackoffBase, BackoffMax: d.BackoffMax, Poll: d.Poll, Timeout: d.Timeout}
}

// parallel is how many POSTs one worker has in flight.
const parallel = 8

// lease is how long a claim holds its notifications. A batch is POSTed
// parallel at a time, each POST (token included) bounded by Timeout, so
// the batch needs ceil(Batch/parallel) Timeouts at worst; one Timeout more
// covers recording the outcomes. A lease shorter than its batch let another
// worker take the batch's tail while it was still being POSTed.
func (o Options) lease() time.Duration {
	rounds := (o.Batch + parallel - 1) / parallel
	return time.Duration(rounds+1) * o.Timeout
}

// Worker delivers one partner's notifications.
type Worker struct {
	pool    *pgxpool.Pool
	partner Partner
	opt     Options
	log     *slog.Logger
	http    *http.Client
	wake    chan struct{}

	mu     sync.Mutex
	tokens oauth2.TokenSource // nil until first needed, and after a 401
}

// New returns a worker; Run starts it.
func New(pool *pgxpool.Pool, partner Partner, opt Options, log *slog.Logger) *Worker {
	opt.defaults()
	return &Worker{pool: pool, partner: partner, opt: opt, log: log,
		http: &http.Client{Timeout: opt.Timeout}, wake: make(chan struct{}, 1)}
}

// configured: the worker has a URL, or delivers rows that carry theirs
// (no partner name: every destination of its kind).
func (w *Worker) configured() bool { return w.partner.URL != "" || w.partner.Name == "" }

// Wake asks for a sweep now: a transfer just committed.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sweeps when woken and every Poll, until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	if !w.configured() {
		w.log.Warn("no notification URL configured: notifications wait in the outbox", "partner", w.partner.Name, "kind", w.partner.Kind)
		return
	}
	t := time.NewTicker(w.opt.Poll)
	defer t.Stop()
	for {
		if _, err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("delivery sweep failed; retrying at the next poll", "partner", w.partner.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Result counts what a sweep did.
type Result struct{ Delivered, Retried, DeadLettered int }

// Sweep delivers every notification due now.
func (w *Worker) Sweep(ctx context.Context) (Result, error) {
	var res Result
	if !w.configured() {
		return res, nil
	}
	for {
		due, err := w.claim(ctx)
		if err != nil {
			return res, err
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		sem := make(chan struct{}, parallel)
		var firstErr error
		given := 0 // released, to be claimed again
		for _, n := range due {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				outcome, err := w.attempt(ctx, n)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				switch outcome {
				case delivered:
					res.Delivered++
				case retried:
					res.Retried++
				case deadLettered:
					res.DeadLettered++
				case released:
					given++
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return res, firstErr
		}
		// Released notifications are due again now, under a fresh lease;
		// a claim that attempted none (the database answers too slowly for
		// any POST to fit) leaves them to the next poll.
		if given == len(due) || len(due) < w.opt.Batch && given == 0 {
			return res, nil
		}
	}
}

type notification struct {
	id, to   string // the event's id and its destination
	attempts int
	body     []byte
	url      string    // the row's own URL, if any
	nucleo   int64     // the household whose data leaves, 0 if none
	claim    uuid.UUID // this claim's consegna.tentativo_id
	// postBy is when, on this process's clock, a POST must have ended for
	// its outcome to be recorded within the lease.
	postBy time.Time
}

// claimSQL leases the due notifications: their next attempt moves past the
// deadline of this batch, so no other worker takes them meanwhile.
const claimSQL = `
WITH due AS (
    SELECT id, destinatario FROM consegna
    WHERE tipo = $2 AND ($1 = '' OR destinatario = $1) AND stato = 'IN_ATTESA' AND prossimo_tentativo <= now()
    ORDER BY prossimo_tentativo
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE consegna c SET prossimo_tentativo = now() + $4 * interval '1 millisecond', tentativo_id = $5
FROM due
WHERE c.id = due.id AND c.destinatario = due.destinatario
RETURNING c.id::text, c.destinatario, c.tentativi, c.corpo, coalesce(c.url, ''), coalesce(c.nucleo_id, 0)`

// leaseGuard ends every statement that records an outcome or gives a row
// back ($1 id, $2 destination, $3 the claim): it matches only a row this
// claim still holds, which a later claim, taken after the lease ran out,
// no longer is. Each such statement also clears tentativo_id.
const leaseGuard = `id = $1 AND destinatario = $2 AND stato = 'IN_ATTESA' AND tentativo_id = $3`

func (w *Worker) claim(ctx context.Context) ([]notification, error) {
	lease := w.opt.lease()
	// Taken before the statement, hence before PostgreSQL's now(): counted
	// from here, the lease ends no later than it does in the database,
	// whichever of the two clocks is ahead.
	start := time.Now()
	postBy := start.Add(lease - w.opt.Timeout/2)
	claim := uuid.New()
	rows, err := w.pool.Query(ctx, claimSQL, w.partner.Name, w.partner.Kind, w.opt.Batch, lease.Milliseconds(), claim)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notification, error) {
		n := notification{claim: claim, postBy: postBy}
		err := r.Scan(&n.id, &n.to, &n.attempts, &n.body, &n.url, &n.nucleo)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
}

type outcome int

const (
	notRecorded outcome = iota
	delivered
	retried
	deadLettered
	released   // not attempted: its lease could not cover the POST
	superseded // the lease was lost; another worker owns the row's fate
)

// attempt delivers n if a whole POST still fits in its lease. A batch slowed
// past its estimate (recording outcomes took long) does not start a POST
// that could end after the lease, when another worker may have taken the
// row: it gives the row back, due now, to be claimed afresh.
func (w *Worker) attempt(ctx context.Context, n notification) (outcome, error) {
	if time.Now().Add(w.opt.Timeout).After(n.postBy) {
		tag, err := w.pool.Exec(ctx, `UPDATE consegna SET prossimo_tentativo = now(), tentativo_id = NULL WHERE `+leaseGuard, n.id, n.to, n.claim)
		if err != nil {
			return notRecorded, fmt.Errorf("release notification: %w", err)
		}
		if tag.RowsAffected() == 0 {
			w.lostLease(n, "release")
			return superseded, nil
		}
		return released, nil
	}
	return w.deliver(ctx, n)
}

// deliver POSTs one notification and records how it went, on the row only
// if this worker still holds it. The error is about recording: the POST's
// own failure is the outcome.
func (w *Worker) deliver(ctx context.Context, n notification) (outcome, error) {
	failure := w.post(ctx, n)
	attempt := n.attempts + 1
	if failure == "" {
		// The partner now holds the household's data: that is an access, and
		// it leaves its audit record with the delivery, in one statement.
		trace := audit.System("consegna", n.id, audit.Entry{ClientID: w.partner.ClientID, Org: n.to, Function: w.partner.Sender,
			Action: "notify", NucleoID: n.nucleo, Outcome: "delivered", Status: http.StatusOK})
		changed, err := audit.Change(ctx, w.pool, trace, `
			UPDATE consegna SET stato = 'CONSEGNATA', tentativi = $4, consegnata_il = now(), ultimo_errore = NULL, tentativo_id = NULL
			WHERE `+leaseGuard+` RETURNING id`,
			n.id, n.to, n.claim, attempt)
		if err != nil {
			// The lease expires and the partner gets a repeat it recognises by its key.
			return notRecorded, fmt.Errorf("record delivery: %w", err)
		}
		if changed == 0 {
			// Whoever holds the row now delivers it again, under the same key.
			w.lostLease(n, "delivered")
			return superseded, nil
		}
		return delivered, nil
	}
	dead := attempt >= w.opt.MaxAttempts
	state := "IN_ATTESA"
	if dead {
		state = "SCARTATA"
	}
	tag, err := w.pool.Exec(ctx, `
		UPDATE consegna SET stato = $4, tentativi = $5, ultimo_errore = $6,
		       prossimo_tentativo = now() + $7 * interval '1 millisecond', tentativo_id = NULL
		WHERE `+leaseGuard, n.id, n.to, n.claim, state, attempt, failure, Backoff(w.opt, attempt).Milliseconds())
	if err != nil {
		return notRecorded, fmt.Errorf("record failed delivery: %w", err)
	}
	if tag.RowsAffected() == 0 {
		w.lostLease(n, "failed: "+failure)
		return superseded, nil
	}
	if dead {
		w.log.Error("notification set aside after its last attempt; re-queue it once the partner is fixed",
			"partner", n.to, "kind", w.partner.Kind, "id", n.id, "attempts", attempt, "last_error", failure)
		return deadLettered, nil
	}
	return retried, nil
}

// lostLease logs an outcome left unrecorded because the row is no longer
// this claim's: delivered or set aside meanwhile, or claimed by another
// worker after the lease ran out. That worker's record stands.
func (w *Worker) lostLease(n notification, what string) {
	w.log.Warn("notification no longer leased by this worker: its outcome is not recorded",
		"partner", n.to, "kind", w.partner.Kind, "id", n.id, "outcome", what)
}

// Backoff is the delay before attempt+1: exponential from BackoffBase, capped
// at BackoffMax, with jitter over its upper half so that the retries of a
// burst, failed together, do not return together.
func Backoff(o Options, attempt int) time.Duration {
	o.defaults()
	d := o.BackoffMax
	if attempt-1 < 30 {
		if e := o.BackoffBase << (attempt - 1); e > 0 && e < d {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // G404: retry jitter, not a secret
}

// post sends n and returns "" or why it failed, in words fit for the outbox
// and the logs: a status or a class of network error, never a body.
func (w *Worker) post(ctx context.Context, n notification) string {
	ctx, cancel := context.WithTimeout(ctx, w.opt.Timeout)
	defer cancel()
	if w.partner.Send != nil {
		return w.partner.Send(ctx, Delivery{ID: n.id, To: n.to, Body: n.body, URL: n.url})
	}
	url := w.partner.URL
	if n.url != "" {
		url = n.url
	}
	if url == "" {
		return "no URL for this destination"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(n.body))
	if err != nil {
		return "bad notification URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", n.id)
	if w.partner.TokenURL != "" {
		tok, err := w.token(ctx)
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.Response != nil {
				return fmt.Sprintf("token endpoint: HTTP %d", re.Response.StatusCode)
			}
			return "token endpoint: " + netClass(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	}
	if w.partner.Sign != nil {
		sig, err := w.partner.Sign(n.body)
		if err != nil {
			return "signing failed"
		}
		req.Header.Set(SignatureHeader, sig)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return netClass(err)
	}
	// Drained so that the connection can be reused; a failure only costs that.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		w.dropToken() // revoked or rotated: the next attempt asks for a new one
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return ""
}

func (w *Worker) token(ctx context.Context) (*oauth2.Token, error) {
	w.mu.Lock()
	if w.tokens == nil {
		cc := clientcredentials.Config{ClientID: w.partner.ClientID, ClientSecret: w.partner.ClientSecret,
			TokenURL: w.partner.TokenURL, Scopes: w.partner.Scopes}
		// The token source keeps this context for its refreshes: only the
		// HTTP client, with its timeout, matters in it.
		w.tokens = cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, w.http))
	}
	ts := w.tokens
	w.mu.Unlock()
	type result struct {
		t   *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	go func() { t, err := ts.Token(); ch <- result{t, err} }()
	select {
	case r := <-ch:
		return r.t, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (w *Worker) dropToken() {
	w.mu.Lock()
	w.tokens = nil
	w.mu.Unlock()
}

func netClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return "network: " + op.Op
	}
	return "request failed"
}

// Item is a notification as an operator sees it: no personal data.
type Item struct {
	ID                string // the transfer's or the refusal's
	Destinatario      string
	Tipo              string
	Stato             string
	Tentativi         int
	UltimoErrore      *string
	ProssimoTentativo time.Time
	CreatoIl          time.Time
}

// List returns up to limit notifications in state (IN_ATTESA, CONSEGNATA,
// SCARTATA), oldest first.
func List(ctx context.Context, q db.DBTX, state string, limit int) ([]Item, error) {
	rows, err := q.Query(ctx, `
		SELECT id::text, destinatario, tipo, stato, tentativi, ultimo_errore, prossimo_tentativo, creato_il
		FROM consegna WHERE stato = $1 ORDER BY creato_il LIMIT $2`, state, limit)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var i Item
		err := r.Scan(&i.ID, &i.Destinatario, &i.Tipo, &i.Stato, &i.Tentativi, &i.UltimoErrore, &i.ProssimoTentativo, &i.CreatoIl)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return items, nil
}

// Requeue puts set-aside notifications back in line, with their attempts
// counted afresh; ids empty means every one set aside. It returns how many.
func Requeue(ctx context.Context, q db.DBTX, ids []string) (int64, error) {
	tag, err := q.Exec(ctx, `
		UPDATE consegna SET stato = 'IN_ATTESA', tentativi = 0, prossimo_tentativo = now()
		WHERE stato = 'SCARTATA' AND (coalesce(cardinality($1::uuid[]), 0) = 0 OR id = ANY ($1::uuid[]))`, ids)
	if err != nil {
		return 0, fmt.Errorf("requeue notifications: %w", err)
	}
	return tag.RowsAffected(), nil
}
