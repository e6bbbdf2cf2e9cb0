// Package cache keeps look-up answers in the process and drops them when
// PostgreSQL says the data behind them changed, so a cached answer is never
// staler than the notification's delivery (milliseconds), not a TTL.
//
// How it stays correct:
//   - a trigger NOTIFYs at commit with the households that changed (or "all");
//     every process LISTENs and drops the entries of those households;
//   - a reader takes a Ticket before it reads PostgreSQL, and Put stores the
//     answer only if no invalidation happened since: Put holds a shared lock
//     across its check and its store, an invalidation takes the exclusive
//     lock to advance the epoch, so no answer read before a change can land
//     after the change's invalidation;
//   - while the listener is not connected nothing is read or written, and on
//     every (re)connection everything is dropped, since notifications may have
//     been missed meanwhile. The TTL only bounds memory.
//
// There is no second level in Redis (docs/architecture.md#look-up-cache):
// measured, a Redis round trip per miss cost more than the indexed read it
// saved, and a level shared by replicas would need a version per household
// checked in Redis on every write to stay as fresh as this one.
package cache

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Cache of one kind of look-up answer, kept as the value itself: it never
// leaves the process, so it is neither encoded nor copied.
type Cache[V any] struct {
	ttl time.Duration
	log *slog.Logger

	mu        sync.RWMutex // Put shares it; invalidations take it alone
	epoch     atomic.Uint64
	listening atomic.Bool

	lmu      sync.RWMutex
	local    map[string]entry[V] // key → answer
	maxLocal int
}

type entry[V any] struct {
	val   V
	until int64 // unix nanos
}

// maxLocalEntries bounds the cache: at a few hundred bytes an answer, some
// tens of MiB.
const maxLocalEntries = 100_000

// Counts are the process's look-ups by where they were answered, across
// every cache: numbers for benchmarks and operators, no keys or values.
type Counts struct{ Hit, Miss int64 }

var counts struct{ hit, miss atomic.Int64 }

// Totals returns the counts so far.
func Totals() Counts { return Counts{counts.hit.Load(), counts.miss.Load()} }

// Ticket is the invalidation epoch observed before reading the source.
type Ticket uint64

// New returns an empty cache whose entries live at most ttl.
func New[V any](ttl time.Duration, log *slog.Logger) *Cache[V] {
	return &Cache[V]{ttl: ttl, log: log, local: map[string]entry[V]{}, maxLocal: maxLocalEntries}
}

// usable reports whether answers can be read and stored now: only while
// the invalidations are heard.
func (c *Cache[V]) usable() bool { return c != nil && c.listening.Load() }

// Get returns the cached answer for key. It is shared with every later
// Get: read it, do not modify it.
func (c *Cache[V]) Get(key string) (V, bool) {
	var zero V
	if !c.usable() {
		return zero, false
	}
	c.lmu.RLock()
	e, ok := c.local[key]
	c.lmu.RUnlock()
	if ok && time.Now().UnixNano() < e.until {
		counts.hit.Add(1)
		return e.val, true
	}
	counts.miss.Add(1)
	return zero, false
}

// Ticket must be taken before reading the source of an answer to Put.
func (c *Cache[V]) Ticket() Ticket {
	if c == nil {
		return 0
	}
	return Ticket(c.epoch.Load())
}

// Put stores an answer read under ticket t, unless an invalidation came
// since. The cache keeps val itself: the caller must not modify it after.
func (c *Cache[V]) Put(t Ticket, key string, val V) {
	if !c.usable() {
		return
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if uint64(t) != c.epoch.Load() {
		return
	}
	now := time.Now().UnixNano()
	c.lmu.Lock()
	defer c.lmu.Unlock()
	if len(c.local) >= c.maxLocal {
		// Drop the expired entries, or failing that about half of the rest
		// (map order is random): bounded memory with no bookkeeping per hit.
		n := 0
		for k, e := range c.local {
			if now >= e.until || n%2 == 0 {
				delete(c.local, k)
			}
			n++
		}
	}
	c.local[key] = entry[V]{val: val, until: now + int64(c.ttl)}
}

// Invalidate drops keys: later Puts with older tickets are refused.
func (c *Cache[V]) Invalidate(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.lmu.Lock()
	defer c.lmu.Unlock()
	for _, k := range keys {
		delete(c.local, k)
	}
}

// InvalidateAll drops every answer cached so far.
func (c *Cache[V]) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.lmu.Lock()
	defer c.lmu.Unlock()
	clear(c.local)
}

// Resolve maps a notification payload (a household id) to the keys to drop.
type Resolve func(ctx context.Context, payload string) ([]string, error)

// Listen follows channel on PostgreSQL until ctx ends, reconnecting with
// back-off; the cache is used only while it is connected.
func (c *Cache[V]) Listen(ctx context.Context, pool *pgxpool.Pool, channel string, resolve Resolve) {
	if c == nil {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.listenOnce(ctx, pool, channel, resolve)
		c.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("cache invalidation listener lost; cache off until it reconnects", "channel", channel, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (c *Cache[V]) listenOnce(ctx context.Context, pool *pgxpool.Pool, channel string, resolve Resolve) error {
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // a listening connection must not go back to the pool
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	// Anything may have changed while no one listened.
	c.InvalidateAll()
	c.listening.Store(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == "all" {
			c.InvalidateAll()
			continue
		}
		keys, err := resolve(ctx, n.Payload)
		if err != nil {
			c.InvalidateAll()
			continue
		}
		c.Invalidate(keys...)
	}
}
