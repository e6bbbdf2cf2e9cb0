package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Limit
		ok   bool
	}{
		{"50/s:100", Limit{50, time.Second, 100}, true},
		{"10/m", Limit{10, time.Minute, 10}, true},
		{"3/h:1", Limit{3, time.Hour, 1}, true},
		{"off", Off, true},
		{" 5/s ", Limit{5, time.Second, 5}, true},
		{"", Limit{}, false},
		{"0/s", Limit{}, false},
		{"-1/s", Limit{}, false},
		{"5/d", Limit{}, false},
		{"5/s:0", Limit{}, false},
		{"5/s:x", Limit{}, false},
		{"5", Limit{}, false},
		{"2000000/s", Limit{}, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && tc.in != "" {
			if again, err := Parse(got.String()); err != nil || again != got {
				t.Errorf("Parse(%q.String()) = %v, %v", tc.in, again, err)
			}
		}
	}
}

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Fatal("REDIS_URL not set: run the tests through `make test`")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func prefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "rl-test-" + hex.EncodeToString(b) + ":"
}

var quiet = slog.New(slog.DiscardHandler)

// TestSharedBudget: two replicas (two Limiters on one Redis) draw on one
// budget, call by call for a small one.
func TestSharedBudget(t *testing.T) {
	rdb := testRedis(t)
	p := prefix()
	a, b := New(rdb, p, quiet), New(rdb, p, quiet)
	lim := Limit{Rate: 4, Period: time.Minute, Burst: 4}
	ctx := context.Background()
	allowed := 0
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if d := l.Allow(ctx, "k", lim); d.Allowed {
			allowed++
			if d.Remaining != 4-allowed {
				t.Errorf("call %d: remaining %d, want %d", i, d.Remaining, 4-allowed)
			}
		} else if d.RetryAfter <= 0 || d.RetryAfter > 15*time.Second {
			t.Errorf("refused with RetryAfter %s", d.RetryAfter)
		}
	}
	if allowed != 4 {
		t.Fatalf("%d calls allowed across two replicas, want 4", allowed)
	}
	if d := a.Peek(ctx, "k", lim); d.Allowed {
		t.Error("a peek at a spent budget allowed")
	}
	if d := a.Peek(ctx, "other", lim); !d.Allowed || d.Remaining != 4 {
		t.Errorf("a peek at a fresh budget: %+v", d)
	}
	if d := a.Peek(ctx, "other", lim); d.Remaining != 4 {
		t.Errorf("a peek spent: remaining %d", d.Remaining)
	}
}

// TestLeasedBudget: a large budget is leased in chunks, and still never
// allows more than the burst across replicas.
func TestLeasedBudget(t *testing.T) {
	rdb := testRedis(t)
	p := prefix()
	a, b := New(rdb, p, quiet), New(rdb, p, quiet)
	lim := Limit{Rate: 20, Period: time.Second, Burst: 200}
	if chunk(lim) != 10 {
		t.Fatalf("chunk %d", chunk(lim))
	}
	// A slow budget is never leased: what lapses would not refill in time.
	if c := chunk(Limit{Rate: 60, Period: time.Minute, Burst: 60}); c != 1 {
		t.Fatalf("chunk of 60/m:60 is %d", c)
	}
	start := time.Now()
	ctx := context.Background()
	allowed := 0
	for i := range 300 {
		l := a
		if i%3 == 0 {
			l = b
		}
		if l.Allow(ctx, "k", lim).Allowed {
			allowed++
		}
	}
	refilled := int(time.Since(start).Seconds()*20) + 1
	if allowed > 200+refilled || allowed < 180 {
		t.Fatalf("%d of 300 calls allowed on a budget of 200 (+%d refilled)", allowed, refilled)
	}
}

// TestWithoutRedis: no Redis, or one that does not answer, limits per
// process with the same budget, and says so in the decision.
func TestWithoutRedis(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer dead.Close()
	for name, l := range map[string]*Limiter{"none": New(nil, "p:", quiet), "down": New(dead, "p:", quiet)} {
		lim := Limit{Rate: 3, Period: time.Minute, Burst: 3}
		allowed := 0
		for range 5 {
			d := l.Allow(context.Background(), "k", lim)
			if d.Limit != lim {
				t.Errorf("%s: decision without its limit", name)
			}
			if d.Allowed {
				allowed++
			} else if d.RetryAfter <= 0 {
				t.Errorf("%s: refused without RetryAfter", name)
			}
		}
		if allowed != 3 {
			t.Errorf("%s: %d of 5 allowed on a budget of 3", name, allowed)
		}
		if !l.Allow(context.Background(), "k", Off).Allowed {
			t.Errorf("%s: Off refused", name)
		}
	}
}

// BenchmarkAllow is one call's cost: a large budget (leased in chunks), a
// small one (a Redis round trip per call), and no Redis.
func BenchmarkAllow(b *testing.B) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		b.Fatal("REDIS_URL not set: run through `make test`")
	}
	opts, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	for _, bc := range []struct {
		name string
		l    *Limiter
		lim  Limit
	}{
		{"leased", New(rdb, prefix(), quiet), Limit{1_000_000, time.Second, 1_000_000}},
		{"per-call", New(rdb, prefix(), quiet), Limit{1_000_000, time.Second, 19}},
		{"local", New(nil, prefix(), quiet), Limit{1_000_000, time.Second, 1_000_000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.l.Allow(context.Background(), "k", bc.lim)
				}
			})
		})
	}
}
