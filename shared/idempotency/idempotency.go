// Package idempotency makes a creating POST safe to repeat (docs/contract.md#idempotency): the same Idempotency-Key with the same body gets the first
// answer again, with another body a 422, and concurrent requests with one key
// make one effect. A key is remembered where it was used (Scope): for its
// client, function, method and resource; sent anywhere else it is a new key.
//
// PostgreSQL holds the keys, in the transaction that creates the resource:
// a key exists exactly when its resource does, whatever fails and when. A
// concurrent duplicate's INSERT waits on the first one's uncommitted row and
// then sees either the resource (replay) or nothing (the first failed, this
// one proceeds). Redis could only be a faster first check, never the record.
//
// A handler reads its request's Key (Read, or web.IdempotencyKey), claims
// it in the transaction that creates the resource (Key.Claim), and either
// answers the earlier resource again or creates it and queues the key's
// completion in the same transaction (Key.Complete).
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// maxKeyLen bounds a key: a UUID is 36 characters, and no partner needs 255.
const maxKeyLen = 255

// Retention is how long keys are kept: the contract promises 24 h; twice that
// covers a retry across a day boundary and clocks that disagree.
const Retention = 48 * time.Hour

// Scope is where a key was used. A key belongs to one client, function,
// method and resource: the same key anywhere else is an independent request,
// so a partner that reuses a key across resources (one per batch, one per
// caller) never has a second effect silently replaced by the first's answer.
type Scope struct {
	Client   string // the token's subject
	Function string // the function's name, as in stack.yml
	Method   string
	// Path is the request's path within the function, e.g. "/{id}/rifiuti"
	// with its id. A handler whose resource can be spelled several ways
	// (an id with leading zeros, a UUID in capitals) sets the canonical
	// spelling, so a retry finds its key however it spells the resource.
	Path string
}

// Key is one creating request's Idempotency-Key as it is remembered: the
// key where it was sent (Scope), and the body it was sent with.
type Key struct {
	Scope
	Value       string // the header's value; "" when the client sent none: nothing is remembered
	Fingerprint []byte // SHA-256 of the body
}

// maxPathLen bounds a stored path well below PostgreSQL's limit on an index
// entry; the routes that take keys have paths of tens of bytes.
const maxPathLen = 1024

// Read takes the key from the header, the fingerprint from the body (which
// it puts back for the handler to decode), and the scope from client,
// function and r's method and path. A key must be 1–255 printable ASCII
// characters.
func Read(r *http.Request, client, function string) (Key, error) {
	key := r.Header.Get(Header)
	if _, present := r.Header[http.CanonicalHeaderKey(Header)]; present {
		if err := CheckKey(key); err != nil {
			return Key{}, err
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Key{}, problem.Newf(problem.TooLarge, "the body is over %d bytes", mbe.Limit)
		}
		return Key{}, problem.Wrap(problem.Invalid, err, "the body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	return Key{
		Scope: Scope{Client: client, Function: function, Method: r.Method, Path: r.URL.Path},
		Value: key, Fingerprint: sum[:],
	}, nil
}

// CheckKey refuses a key the contract would not accept.
func CheckKey(key string) error {
	if len(key) == 0 || len(key) > maxKeyLen {
		return problem.Field(Header, "invalid", "must be 1 to 255 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return problem.Field(Header, "invalid", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// Claim takes the key in its scope inside tx, the transaction that creates
// the resource. It returns the resource an earlier request with the same
// key, scope and body created (replay: answer it again), or "" when this
// request is the first (proceed: create the resource and queue Complete in
// the same transaction). A key used in the same scope with another body is
// a 422. Without a key it returns "" and remembers nothing.
//
// Claim also purges some of the function's expired keys (see purgeBatch),
// so that no function's old keys wait for another's scheduled job.
func (k Key) Claim(ctx context.Context, tx pgx.Tx) (earlier string, err error) {
	if k.Value == "" {
		return "", nil
	}
	if len(k.Path) > maxPathLen {
		return "", problem.New(problem.Invalid, "the path is too long to be used with an Idempotency-Key")
	}
	if err := purges.purge(ctx, tx, k.Function); err != nil {
		return "", err
	}
	s := k.Scope
	tag, err := tx.Exec(ctx, `
		INSERT INTO idempotenza (client_id, funzione, metodo, percorso, chiave, impronta) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`, s.Client, s.Function, s.Method, s.Path, k.Value, k.Fingerprint)
	if err != nil {
		return "", fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return "", nil
	}
	var fingerprint []byte
	var resource *string
	err = tx.QueryRow(ctx, `
		SELECT impronta, risorsa FROM idempotenza
		WHERE client_id = $1 AND funzione = $2 AND metodo = $3 AND percorso = $4 AND chiave = $5`,
		s.Client, s.Function, s.Method, s.Path, k.Value).Scan(&fingerprint, &resource)
	if err != nil {
		return "", fmt.Errorf("read idempotency key: %w", err)
	}
	if !bytes.Equal(fingerprint, k.Fingerprint) {
		return "", problem.New(problem.Unprocessable, "this Idempotency-Key was used with another body")
	}
	if resource == nil {
		// Committed without a resource: only a bug could do it.
		return "", fmt.Errorf("idempotency key committed without its resource")
	}
	return *resource, nil
}

// Complete adds to b, to run in the first request's transaction, the
// record of what it created: an id the replay reads the resource by, or
// the answer itself. Without a key it adds nothing.
func (k Key) Complete(b *pgx.Batch, resource string) {
	if k.Value == "" {
		return
	}
	s := k.Scope
	b.Queue(`UPDATE idempotenza SET risorsa = $6
	         WHERE client_id = $1 AND funzione = $2 AND metodo = $3 AND percorso = $4 AND chiave = $5`,
		s.Client, s.Function, s.Method, s.Path, k.Value, resource)
}

// Purge deletes every function's keys older than Retention and says how
// many: the transfers' scheduled job runs it, a sweep on top of the few
// keys each Claim purges.
func Purge(ctx context.Context, q db.DBTX) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM idempotenza WHERE creato_il < now() - $1 * interval '1 second'`, int64(Retention.Seconds()))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Each Claim purges some of its function's expired keys, in its own
// transaction, so no function depends on another's scheduled job (only
// the transfers have one every minute; apl-citizens has none) to keep its
// keys from piling up. The cost is bounded twice: one statement deletes at
// most purgeBatch keys, skipping those another transaction holds; and once
// a purge finds fewer than that (none are left), the process does not look
// again for that function until purgeEvery has passed. A purge that found
// purgeBatch lets the next claim go on, so the purge keeps pace with any
// rate of new keys (each claim makes one and may delete purgeBatch). A
// request that fails rolls its purge back with the rest: the keys wait for
// the next one.
const (
	purgeBatch = 64
	purgeEvery = time.Minute
)

// purgeSQL deletes up to $3 keys of function $1 older than $2 seconds.
const purgeSQL = `
DELETE FROM idempotenza WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM idempotenza
    WHERE funzione = $1 AND creato_il < now() - $2 * interval '1 second'
    LIMIT $3
    FOR UPDATE SKIP LOCKED))`

// purger remembers, per function, when this process next looks for
// expired keys.
type purger struct {
	mu   sync.Mutex
	next map[string]time.Time
}

var purges = &purger{next: map[string]time.Time{}}

func (p *purger) purge(ctx context.Context, tx pgx.Tx, function string) error {
	now := time.Now()
	p.mu.Lock()
	due := !now.Before(p.next[function])
	if due {
		p.next[function] = now.Add(purgeEvery)
	}
	p.mu.Unlock()
	if !due {
		return nil
	}
	tag, err := tx.Exec(ctx, purgeSQL, function, int64(Retention.Seconds()), purgeBatch)
	if err != nil {
		p.again(function)
		return fmt.Errorf("purge expired idempotency keys: %w", err)
	}
	if tag.RowsAffected() == purgeBatch {
		p.again(function) // more may be due: the next claim goes on
	}
	return nil
}

// again lets the next claim of function purge.
func (p *purger) again(function string) {
	p.mu.Lock()
	delete(p.next, function)
	p.mu.Unlock()
}
