// Package ratelimit holds the request limits every function applies: per
// client and function, per source address for calls without a token, and
// per client id and address for failed logins at the token endpoint.
//
// The limits are kept in Redis with GCRA (github.com/go-redis/redis_rate),
// so every replica of a function draws on the same budget. When Redis is
// not configured or does not answer, each process falls back to its own
// token buckets (golang.org/x/time/rate) with the same limits: a replica
// then allows up to the limit on its own, which is looser than a shared
// budget but never unlimited, and never an error for the caller.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limit is a rate (events per Period) with a burst. The zero Limit means
// no limit.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// Off is no limit at all.
var Off = Limit{}

// IsOff reports whether l limits nothing.
func (l Limit) IsOff() bool { return l.Rate <= 0 || l.Period <= 0 }

// String is the form Parse reads.
func (l Limit) String() string {
	if l.IsOff() {
		return "off"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[l.Period]
	return fmt.Sprintf("%d/%s:%d", l.Rate, unit, l.Burst)
}

// Parse reads "<n>/<s|m|h>[:<burst>]" (burst defaults to n) or "off".
func Parse(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Off, nil
	}
	bad := errors.New(`want "<n>/<s|m|h>[:<burst>]" or "off", e.g. 50/s:100`)
	n, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, bad
	}
	unit, burst, hasBurst := strings.Cut(rest, ":")
	var l Limit
	switch unit {
	case "s":
		l.Period = time.Second
	case "m":
		l.Period = time.Minute
	case "h":
		l.Period = time.Hour
	default:
		return Limit{}, bad
	}
	var err error
	if l.Rate, err = strconv.Atoi(n); err != nil || l.Rate < 1 || l.Rate > 1_000_000 {
		return Limit{}, bad
	}
	l.Burst = l.Rate
	if hasBurst {
		if l.Burst, err = strconv.Atoi(burst); err != nil || l.Burst < 1 || l.Burst > 1_000_000 {
			return Limit{}, bad
		}
	}
	return l, nil
}

// Decision is the outcome of one check, with what the X-RateLimit-* headers say.
type Decision struct {
	Allowed    bool
	Limit      Limit
	Remaining  int
	Reset      time.Duration // until the budget is whole again
	RetryAfter time.Duration // until the next call is allowed, when not Allowed
}

// Limiter checks limits, in Redis when it can.
type Limiter struct {
	redis  *redis_rate.Limiter // nil: local only
	prefix string
	log    *slog.Logger

	mu    sync.Mutex
	local map[string]*rate.Limiter

	leases     sync.Map // key → *lease
	leaseCount atomic.Int64

	// down is set while Redis fails, so a failing Redis costs one timed-out
	// call every retryEvery instead of one per request.
	downSince atomic.Int64
}

// retryEvery is how often Redis is tried again once it failed.
const retryEvery = 2 * time.Second

// maxLocal bounds the local buckets; past it they are all dropped (a
// fresh bucket is full, so that only ever loosens the limit for a moment).
const maxLocal = 100_000

// New returns a Limiter over rdb (nil: per-process limits only); prefix
// namespaces its keys.
func New(rdb *redis.Client, prefix string, log *slog.Logger) *Limiter {
	l := &Limiter{prefix: prefix, log: log, local: map[string]*rate.Limiter{}}
	if rdb != nil {
		l.redis = redis_rate.NewLimiter(rdb)
	}
	return l
}

// Allow spends one event of key's budget under lim.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) Decision {
	return l.check(ctx, key, lim, 1)
}

// Peek tells whether key's budget has room for one event, spending nothing:
// the token endpoint looks before it checks a secret and spends only when
// the check fails.
func (l *Limiter) Peek(ctx context.Context, key string, lim Limit) Decision {
	return l.check(ctx, key, lim, 0)
}

func (l *Limiter) check(ctx context.Context, key string, lim Limit, n int) Decision {
	if lim.IsOff() {
		return Decision{Allowed: true}
	}
	if n == 1 && chunk(lim) > 1 {
		if d, ok := l.leased(ctx, key, lim); ok {
			return d
		}
	} else if d, ok := l.shared(ctx, key, lim, n); ok {
		return d
	}
	return l.own(key, lim, n)
}

// A lease is a few calls of a key's budget taken from Redis at once and
// spent by this process, so that a busy client costs Redis one round trip
// per chunk of calls instead of one per call. What a process leased and did
// not spend within leaseFor is given up, never handed back; a chunk is never
// more than the budget refills in leaseFor, so what is given up is made good
// by the time it lapses, and a client calling now and then is not charged a
// chunk per call.
type lease struct {
	mu        sync.Mutex
	tokens    int       // calls leased and not yet spent
	until     time.Time // when unspent ones lapse
	remaining int       // the budget left in Redis after the lease
	reset     time.Duration
}

// leaseFor is how long leased calls may be spent.
const leaseFor = time.Second

// chunk is how many calls are leased at once: a twentieth of the burst, at
// most 64 and at most what refills in leaseFor, so a small or slow budget
// is counted call by call.
func chunk(lim Limit) int {
	refill := int(int64(lim.Rate) * int64(leaseFor) / int64(lim.Period))
	return max(min(lim.Burst/20, 64, refill), 1)
}

func (l *Limiter) leased(ctx context.Context, key string, lim Limit) (Decision, bool) {
	if l.redis == nil || l.redisDown() {
		return Decision{}, false
	}
	ls := l.leaseOf(key)

	ls.mu.Lock()
	defer ls.mu.Unlock()
	now := time.Now()
	if ls.tokens > 0 && now.Before(ls.until) {
		ls.tokens--
		return Decision{Allowed: true, Limit: lim, Remaining: ls.remaining + ls.tokens, Reset: ls.reset}, true
	}
	res, err := l.redis.AllowAtMost(ctx, l.prefix+key, redis_rate.Limit{Rate: lim.Rate, Period: lim.Period, Burst: lim.Burst}, chunk(lim))
	if err != nil {
		l.failed(ctx, err)
		return Decision{}, false
	}
	l.recovered()
	if res.Allowed < 1 {
		return Decision{Limit: lim, Reset: max(res.ResetAfter, 0), RetryAfter: max(res.RetryAfter, lim.Period/time.Duration(lim.Rate))}, true
	}
	ls.tokens, ls.until, ls.remaining, ls.reset = res.Allowed-1, now.Add(leaseFor), res.Remaining, max(res.ResetAfter, 0)
	return Decision{Allowed: true, Limit: lim, Remaining: ls.remaining + ls.tokens, Reset: ls.reset}, true
}

// leaseOf is key's lease, read without a lock on the hot path (a busy
// client asks for the same key from every request).
func (l *Limiter) leaseOf(key string) *lease {
	if ls, ok := l.leases.Load(key); ok {
		return ls.(*lease)
	}
	if l.leaseCount.Add(1) > maxLocal {
		l.leases.Clear()
		l.leaseCount.Store(1)
	}
	ls, _ := l.leases.LoadOrStore(key, &lease{})
	return ls.(*lease)
}

func (l *Limiter) redisDown() bool {
	since := l.downSince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) < retryEvery
}

func (l *Limiter) failed(ctx context.Context, err error) {
	if ctx.Err() == nil && l.downSince.Swap(time.Now().UnixNano()) == 0 {
		l.log.Warn("rate limits: Redis unavailable, limiting per process", "err", err)
	}
}

func (l *Limiter) recovered() {
	if l.downSince.Swap(0) != 0 {
		l.log.Info("rate limits: Redis is back, limits shared again")
	}
}

func (l *Limiter) shared(ctx context.Context, key string, lim Limit, n int) (Decision, bool) {
	if l.redis == nil || l.redisDown() {
		return Decision{}, false
	}
	res, err := l.redis.AllowN(ctx, l.prefix+key, redis_rate.Limit{Rate: lim.Rate, Period: lim.Period, Burst: lim.Burst}, n)
	if err != nil {
		l.failed(ctx, err)
		return Decision{}, false
	}
	l.recovered()
	d := Decision{Limit: lim, Remaining: res.Remaining, Reset: max(res.ResetAfter, 0)}
	if n == 0 {
		d.Allowed = res.Remaining >= 1
	} else {
		d.Allowed = res.Allowed >= n
	}
	if !d.Allowed {
		d.RetryAfter = max(res.RetryAfter, time.Second/time.Duration(max(lim.Rate, 1)))
		if n == 0 {
			// A peek is refused when the budget is spent: room for one
			// comes back after one emission interval.
			d.RetryAfter = lim.Period / time.Duration(lim.Rate)
		}
	}
	return d, true
}

func (l *Limiter) own(key string, lim Limit, n int) Decision {
	l.mu.Lock()
	b, ok := l.local[key]
	if !ok || b.Burst() != lim.Burst || b.Limit() != perSecond(lim) {
		if len(l.local) >= maxLocal {
			clear(l.local)
		}
		b = rate.NewLimiter(perSecond(lim), lim.Burst)
		l.local[key] = b
	}
	l.mu.Unlock()
	now := time.Now()
	d := Decision{Limit: lim}
	if n == 0 {
		d.Allowed = b.TokensAt(now) >= 1
	} else {
		d.Allowed = b.AllowN(now, n)
	}
	tokens := b.TokensAt(now)
	d.Remaining = max(int(math.Floor(tokens)), 0)
	interval := lim.Period / time.Duration(lim.Rate)
	d.Reset = time.Duration((float64(lim.Burst) - tokens) * float64(interval))
	if !d.Allowed {
		d.RetryAfter = time.Duration((1 - tokens) * float64(interval))
	}
	return d
}

func perSecond(l Limit) rate.Limit { return rate.Limit(float64(l.Rate) / l.Period.Seconds()) }
