// Package cache keeps look-up answers in Redis and drops them when PostgreSQL
// says the data behind them changed, so a cached answer is never staler than
// the notification's delivery (milliseconds), not a TTL.
//
// How it stays correct:
//   - a trigger NOTIFYs at commit with the households that changed (or "all");
//     every process LISTENs and deletes the keys of those households;
//   - a reader takes a Ticket before it reads PostgreSQL, and Put stores the
//     answer only if no invalidation happened since: Put holds a shared lock
//     across its check and its SET, an invalidation takes the exclusive lock to
//     advance the epoch, so no SET can land after the DEL it raced with;
//   - while the listener is not connected nothing is read or written, and on
//     every (re)connection the process moves to a new key generation, since
//     notifications may have been missed meanwhile;
//   - keys belong to one process (an instance id in the key): each process
//     invalidates exactly what it wrote. The TTL only bounds memory.
//
// Answers are kept at two levels: a bounded map in the process, which costs
// no round trip, and Redis, which outlives the process's memory limits and
// its restarts within a key generation. Both follow the same tickets, epochs
// and generations, so the local level is exactly as fresh as Redis.
//
// What goes to Redis is sealed (Sealer): answers name household members, so
// Redis holds only ciphertext bound to its key, and keys hold subject
// references (HMACs), never a codice fiscale. Without a key Redis is not used.
//
// Redis is a cache here: when it fails, callers read PostgreSQL, and Redis is
// left alone for a few seconds instead of adding a timeout to every request.
package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Cache of one kind of look-up answer.
type Cache struct {
	rdb    *redis.Client // nil: process-local level only
	seal   *Sealer
	prefix string
	ttl    time.Duration
	log    *slog.Logger

	mu        sync.RWMutex // Put shares it; invalidations take it alone
	epoch     atomic.Uint64
	gen       atomic.Uint64
	listening atomic.Bool
	downUntil atomic.Int64 // unix nanos; Redis is skipped until then

	lmu      sync.RWMutex
	local    map[string]entry // full key (with generation) → answer
	maxLocal int
}

type entry struct {
	val   []byte
	until int64 // unix nanos
}

// maxLocalEntries bounds the process-local level: at a few hundred bytes an
// answer, some tens of MiB.
const maxLocalEntries = 100_000

// Counts are the process's look-ups by where they were answered, across
// every cache: numbers for benchmarks and operators, no keys or values.
type Counts struct{ Local, Redis, Miss int64 }

var counts struct{ local, redis, miss atomic.Int64 }

// Totals returns the counts so far.
func Totals() Counts {
	return Counts{counts.local.Load(), counts.redis.Load(), counts.miss.Load()}
}

// Ticket is the invalidation epoch observed before reading the source.
type Ticket uint64

// New returns a cache whose Redis keys start with prefix. Values go to Redis
// sealed by seal; with rdb or seal nil only the process-local level is used,
// so an answer is never written to Redis in clear.
func New(rdb *redis.Client, seal *Sealer, prefix string, ttl time.Duration, log *slog.Logger) *Cache {
	if rdb != nil && seal == nil {
		noKey.Do(func() {
			log.Warn("no cache-key secret: look-up answers are cached in each process only, not in Redis")
		})
		rdb = nil
	}
	b := make([]byte, 6)
	rand.Read(b)
	return &Cache{rdb: rdb, seal: seal, prefix: prefix + hex.EncodeToString(b) + ":", ttl: ttl, log: log,
		local: map[string]entry{}, maxLocal: maxLocalEntries}
}

// noKey says once per process, not once per look-up, that Redis is left out.
var noKey sync.Once

// pause is how long Redis is left alone after an error.
const pause = 5 * time.Second

// Usable reports whether answers can be read and stored now; callers skip
// preparing an answer for Put when it is not.
func (c *Cache) Usable() bool { return c != nil && c.listening.Load() }

// redisUsable reports whether Redis, the second level, is to be used now.
func (c *Cache) redisUsable() bool {
	return c.rdb != nil && time.Now().UnixNano() >= c.downUntil.Load()
}

func (c *Cache) failed(op string, err error) {
	c.downUntil.Store(time.Now().Add(pause).UnixNano())
	c.log.Warn("redis unavailable; reading PostgreSQL", "op", op, "pause_s", pause.Seconds(), "err", err)
}

func (c *Cache) key(k string) string {
	return c.prefix + strconv.FormatUint(c.gen.Load(), 10) + ":" + k
}

// Get returns the cached answer for key. The slice is shared: do not modify it.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool) {
	if !c.Usable() {
		return nil, false
	}
	full := c.key(key)
	c.lmu.RLock()
	e, ok := c.local[full]
	c.lmu.RUnlock()
	if ok && time.Now().UnixNano() < e.until {
		counts.local.Add(1)
		return e.val, true
	}
	if !c.redisUsable() {
		counts.miss.Add(1)
		return nil, false
	}
	t := c.epoch.Load()
	b, err := c.rdb.Get(ctx, full).Bytes()
	if errors.Is(err, redis.Nil) {
		counts.miss.Add(1)
		return nil, false
	}
	if err != nil {
		counts.miss.Add(1)
		c.failed("get", err)
		return nil, false
	}
	b, ok = c.seal.Open(full, b)
	if !ok {
		// Tampered, sealed under another key or by a retired key: read again.
		counts.miss.Add(1)
		return nil, false
	}
	counts.redis.Add(1)
	// Kept locally only if no invalidation passed since before the GET: its
	// DEL may have come after the value was read.
	c.mu.RLock()
	if c.epoch.Load() == t {
		c.putLocal(full, b)
	}
	c.mu.RUnlock()
	return b, true
}

// Ticket must be taken before reading the source of an answer to Put.
func (c *Cache) Ticket() Ticket {
	if c == nil {
		return 0
	}
	return Ticket(c.epoch.Load())
}

// Put stores an answer read under ticket t, unless an invalidation came since.
func (c *Cache) Put(ctx context.Context, t Ticket, key string, val []byte) {
	if !c.Usable() {
		return
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if uint64(t) != c.epoch.Load() {
		return
	}
	full := c.key(key)
	c.putLocal(full, val)
	if !c.redisUsable() {
		return
	}
	if err := c.rdb.Set(ctx, full, c.seal.Seal(full, val), c.ttl).Err(); err != nil {
		c.failed("set", err)
	}
}

func (c *Cache) putLocal(full string, val []byte) {
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
	c.local[full] = entry{val: val, until: now + int64(c.ttl)}
}

// Invalidate drops keys: later Puts with older tickets are refused, then the keys are deleted.
func (c *Cache) Invalidate(ctx context.Context, keys ...string) {
	c.mu.Lock()
	c.epoch.Add(1)
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.key(k)
	}
	c.lmu.Lock()
	for _, k := range full {
		delete(c.local, k)
	}
	c.lmu.Unlock()
	c.mu.Unlock()
	if len(full) == 0 || c.rdb == nil {
		return
	}
	if err := c.rdb.Del(ctx, full...).Err(); err != nil {
		// The keys may survive in Redis: move to a new generation so they are unreachable.
		c.InvalidateAll()
		c.failed("del", err)
	}
}

// InvalidateAll makes every answer cached so far unreachable (they expire by TTL).
func (c *Cache) InvalidateAll() {
	c.mu.Lock()
	c.epoch.Add(1)
	c.gen.Add(1)
	c.lmu.Lock()
	clear(c.local)
	c.lmu.Unlock()
	c.mu.Unlock()
}

// Resolve maps a notification payload (a household id) to the keys to drop.
type Resolve func(ctx context.Context, payload string) ([]string, error)

// Listen follows channel on PostgreSQL until ctx ends, reconnecting with
// back-off; the cache is used only while it is connected.
func (c *Cache) Listen(ctx context.Context, pool *pgxpool.Pool, channel string, resolve Resolve) {
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

func (c *Cache) listenOnce(ctx context.Context, pool *pgxpool.Pool, channel string, resolve Resolve) error {
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
		c.Invalidate(ctx, keys...)
	}
}
