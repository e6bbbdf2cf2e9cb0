// Package audit keeps the trail of every access to personal data.
//
// The rule is "no answer without its trace": a handler writes its record and
// waits for the commit before it answers; if the record cannot be stored the
// request fails with 503. To make that affordable at high request rates,
// concurrent records are group-committed: whatever is queued while a write is
// in flight goes into the next single INSERT, so N concurrent requests cost
// about one round trip to PostgreSQL, not N.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/db"
)

// Entry is one access: who (client, org, request id), what (function, action,
// subject) and how it ended (outcome, HTTP status).
type Entry struct {
	At         time.Time
	RequestID  string
	ClientID   string
	Org        string
	Function   string
	Action     string
	SubjectRef string // a Subjects.Ref, never the codice fiscale itself
	NucleoID   int64  // 0 when no household was reached
	Outcome    string
	Status     int
	// The operator behind the call, from its tracking evidence (empty
	// when none): who, in which role, from which office, at which LoA.
	UserID, UserRole, UserLocation, LoA string
}

// Writer group-commits entries to the audit_log table.
type Writer struct {
	pool     *pgxpool.Pool
	queue    chan *pending
	maxBatch int
	wg       sync.WaitGroup
	stop     chan struct{}
	once     sync.Once
}

type pending struct {
	e    Entry
	done chan error
}

// flushers is how many batches may be in flight at once. One: while it
// commits, the next batch fills, so batches grow with the load and the
// database sees one statement per batch (measured with make bench: 3 flushers
// gave smaller batches and lower throughput).
const flushers = 1

// NewWriter starts the writer's goroutines; Close stops them.
func NewWriter(pool *pgxpool.Pool, maxBatch int) *Writer {
	if maxBatch < 1 {
		maxBatch = 256
	}
	w := &Writer{pool: pool, queue: make(chan *pending, maxBatch*flushers), maxBatch: maxBatch, stop: make(chan struct{})}
	for range flushers {
		w.wg.Add(1)
		go w.run()
	}
	return w
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("audit writer closed")

// Write stores e and returns once it is committed. An error means the entry is
// not stored and the caller must not answer with the data it audits.
func (w *Writer) Write(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	select {
	case <-w.stop:
		return ErrClosed
	default:
	}
	p := &pending{e: e, done: make(chan error, 1)}
	select {
	case w.queue <- p:
	case <-ctx.Done():
		return fmt.Errorf("queue audit record: %w", ctx.Err())
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The record may still be committed; the answer is refused all the same.
		return fmt.Errorf("wait for audit commit: %w", ctx.Err())
	}
}

// Close stops the writer after flushing what is queued.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

func (w *Writer) run() {
	defer w.wg.Done()
	batch := make([]*pending, 0, w.maxBatch)
	for {
		select {
		case p := <-w.queue:
			batch = append(batch[:0], p)
		case <-w.stop:
			w.drainOnStop()
			return
		}
	fill:
		for len(batch) < w.maxBatch {
			select {
			case p := <-w.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		err := w.insert(batch)
		for _, p := range batch {
			p.done <- err
		}
	}
}

func (w *Writer) drainOnStop() {
	for {
		select {
		case p := <-w.queue:
			p.done <- w.insert([]*pending{p})
		default:
			return
		}
	}
}

// insertSQL stores a batch in one round trip: arrays bound as parameters of
// a prepared statement (pgx caches it per connection), unnested into rows.
const insertSQL = `
INSERT INTO audit_log (` + columns + `)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::smallint[],
                     $11::text[], $12::text[], $13::text[], $14::text[])`

func (w *Writer) insert(batch []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := len(batch)
	var (
		at                                   = make([]time.Time, n)
		reqs, clients, orgs, fns, acts, outs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		subjects                             = make([]*string, n)
		nuclei                               = make([]*int64, n)
		statuses                             = make([]int16, n)
		users, roles, places, loas           = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	)
	for i, p := range batch {
		e := &p.e
		at[i], reqs[i], clients[i], orgs[i], fns[i], acts[i], outs[i], statuses[i] =
			e.At, e.RequestID, e.ClientID, e.Org, e.Function, e.Action, e.Outcome, int16(e.Status)
		if e.SubjectRef != "" {
			subjects[i] = &e.SubjectRef
		}
		if e.NucleoID != 0 {
			nuclei[i] = &e.NucleoID
		}
		if e.UserID != "" {
			users[i], roles[i], places[i], loas[i] = &e.UserID, &e.UserRole, &e.UserLocation, &e.LoA
		}
	}
	if _, err := w.pool.Exec(ctx, insertSQL, at, reqs, clients, orgs, fns, acts, subjects, nuclei, outs, statuses,
		users, roles, places, loas); err != nil {
		return fmt.Errorf("store %d audit records: %w", n, err)
	}
	return nil
}

// Queue adds e to b, a batch the caller sends in its own transaction: a
// change and its trace then commit together or not at all (a transfer uses
// it), in the round trip of the change itself.
func Queue(b *pgx.Batch, e Entry) {
	b.Queue(`INSERT INTO audit_log (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, values(e)...)
}

// columns are an audit record's, in the order of values.
const columns = `at, request_id, client_id, org, function, action, subject_ref, nucleo_id, outcome, status,
	operatore_id, operatore_ruolo, operatore_sede, operatore_loa`

// values are e's, in the order of columns: its time filled in when zero,
// no subject or household stored as NULL.
func values(e Entry) []any {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	if e.UserID == "" {
		e.UserRole, e.UserLocation, e.LoA = "", "", ""
	}
	return []any{e.At, e.RequestID, e.ClientID, e.Org, e.Function, e.Action, db.Null(e.SubjectRef), db.Null(e.NucleoID), e.Outcome, int16(e.Status),
		db.Null(e.UserID), db.Null(e.UserRole), db.Null(e.UserLocation), db.Null(e.LoA)}
}

// Subjects turns subject keys (canonical codici fiscali) into references that
// the trail can store: a keyed hash, so the trail answers "who looked at this
// person" for whoever holds the key, and leaks nothing to whoever does not.
type Subjects struct{ key []byte }

// NewSubjects returns a Subjects keyed by key (the audit-subject-key secret).
func NewSubjects(key []byte) Subjects { return Subjects{key: key} }

// Ref is the reference of subject: 32 hex characters of HMAC-SHA-256.
func (s Subjects) Ref(subject string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
