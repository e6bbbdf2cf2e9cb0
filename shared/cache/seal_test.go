package cache

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A did-check answer as the look-ups cache it: a household's codici fiscali.
var (
	members = []string{"RSSMRA80A01H501U", "BNCLRA82B45F205X", "RSSLCU10C12H501Z"}
	answer  = []byte(`{"n":4242,"a":[{"codice_fiscale":"` + members[0] + `","stato":"CONVALIDATA","data_did":"2024-03-01"},` +
		`{"codice_fiscale":"` + members[1] + `","stato":null,"data_did":null},` +
		`{"codice_fiscale":"` + members[2] + `","stato":null,"data_did":null}]}`)
)

const (
	oldKey = "old-secret-0123456789abcdef"
	newKey = "new-secret-0123456789abcdef"
)

func mustKeys(t testing.TB, secret string) *Sealer {
	t.Helper()
	s, err := ParseKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	old, both := mustKeys(t, oldKey), mustKeys(t, newKey+","+oldKey)
	sealed := old.Seal("k1", answer)
	tests := []struct {
		name   string
		sealer *Sealer
		key    string
		val    []byte
		want   bool
	}{
		{"same key opens", old, "k1", sealed, true},
		{"rotated list still opens the old key's values", both, "k1", sealed, true},
		{"another Redis key does not open", old, "k2", sealed, false},
		{"a key no longer listed does not open", mustKeys(t, newKey), "k1", sealed, false},
		{"a flipped byte does not open", old, "k1", flip(sealed, len(sealed)-20), false},
		{"a flipped key id does not open", old, "k1", flip(sealed, 2), false},
		{"another version does not open", old, "k1", flip(sealed, 0), false},
		{"truncated does not open", old, "k1", sealed[:headerLen+10], false},
		{"the plain value does not open", old, "k1", answer, false},
		{"empty does not open", old, "k1", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.sealer.Open(tt.key, tt.val)
			if ok != tt.want || (ok && !bytes.Equal(got, answer)) {
				t.Fatalf("Open = %q, %v; want opened=%v", got, ok, tt.want)
			}
		})
	}
	if s := both.Seal("k1", answer); func() bool { _, ok := old.Open("k1", s); return ok }() {
		t.Error("the first key of the list does not seal: the old key opens a new value")
	}
	if a, b := old.Seal("k1", answer), old.Seal("k1", answer); bytes.Equal(a, b) {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func TestParseKeys(t *testing.T) {
	for _, bad := range []string{"", " \n", "tiny-key", newKey + ",tiny-key"} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		} else if strings.TrimSpace(bad) != "" && strings.Contains(err.Error(), strings.TrimSpace(bad)) {
			t.Errorf("error %q echoes the secret", err)
		}
	}
	s := mustKeys(t, " "+newKey+"\n"+oldKey+"\n")
	if len(s.keys) != 2 {
		t.Fatalf("%d keys parsed from two lines", len(s.keys))
	}
}

// redisCache is a cache on the test run's Redis, sealing with seal, as if
// its listener were connected. Its keys are deleted at the end.
func redisCache(t *testing.T, seal *Sealer) (*Cache, *redis.Client) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("REDIS_URL not set: run through `go run ./infra/cmd/devstack test`")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	prefix := os.Getenv("REDIS_PREFIX") + "cache-unit:" + t.Name() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	c := New(rdb, seal, prefix, time.Minute, slog.New(slog.DiscardHandler))
	c.listening.Store(true)
	return c, rdb
}

// forgetLocal empties the process-local level, so the next Get reads Redis.
func forgetLocal(c *Cache) {
	c.lmu.Lock()
	clear(c.local)
	c.lmu.Unlock()
}

func TestRedisHoldsNoPersonalData(t *testing.T) {
	ctx := context.Background()
	c, rdb := redisCache(t, mustKeys(t, newKey))
	c.Put(ctx, c.Ticket(), "2025-01-01:ref", answer)

	raw, err := rdb.Get(ctx, c.key("2025-01-01:ref")).Bytes()
	if err != nil {
		t.Fatalf("raw GET of the cached value: %v", err)
	}
	for _, code := range members {
		if bytes.Contains(raw, []byte(code)) {
			t.Fatalf("the value in Redis holds a member's codice fiscale in clear")
		}
	}
	if bytes.Equal(raw, answer) || bytes.Contains(raw, []byte(`"codice_fiscale"`)) {
		t.Fatal("the value in Redis is the plain JSON")
	}

	forgetLocal(c)
	before := Totals().Redis
	got, ok := c.Get(ctx, "2025-01-01:ref")
	if !ok || !bytes.Equal(got, answer) {
		t.Fatalf("Get after a round trip through Redis = %q, %v", got, ok)
	}
	if Totals().Redis != before+1 {
		t.Fatal("the answer did not come from Redis")
	}
}

func TestRedisValueThatDoesNotOpenIsAMiss(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		spoil func(t *testing.T, c *Cache, rdb *redis.Client) // leaves an unusable value under key "k"
	}{
		{"tampered", func(t *testing.T, c *Cache, rdb *redis.Client) {
			t.Helper()
			c.Put(ctx, c.Ticket(), "k", answer)
			raw, _ := rdb.Get(ctx, c.key("k")).Bytes()
			rdb.Set(ctx, c.key("k"), flip(raw, len(raw)/2), time.Minute)
		}},
		{"copied from another key", func(t *testing.T, c *Cache, rdb *redis.Client) {
			t.Helper()
			c.Put(ctx, c.Ticket(), "other", answer)
			raw, _ := rdb.Get(ctx, c.key("other")).Bytes()
			rdb.Set(ctx, c.key("k"), raw, time.Minute)
		}},
		{"sealed by a retired key", func(t *testing.T, c *Cache, rdb *redis.Client) {
			t.Helper()
			rdb.Set(ctx, c.key("k"), mustKeys(t, oldKey).Seal(c.key("k"), answer), time.Minute)
		}},
		{"written in clear", func(t *testing.T, c *Cache, rdb *redis.Client) {
			t.Helper()
			rdb.Set(ctx, c.key("k"), answer, time.Minute)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rdb := redisCache(t, mustKeys(t, newKey))
			tt.spoil(t, c, rdb)
			if n, err := rdb.Exists(ctx, c.key("k")).Result(); err != nil || n != 1 {
				t.Fatalf("no value to read under the key (%v)", err)
			}
			forgetLocal(c)
			if got, ok := c.Get(ctx, "k"); ok {
				t.Fatalf("Get = %q, a hit", got)
			}
			if !c.redisUsable() {
				t.Fatal("a value that does not open was taken for a Redis failure")
			}
		})
	}
}

func TestRotatedKeyStillReads(t *testing.T) {
	ctx := context.Background()
	c, rdb := redisCache(t, mustKeys(t, newKey+" "+oldKey))
	rdb.Set(ctx, c.key("k"), mustKeys(t, oldKey).Seal(c.key("k"), answer), time.Minute)
	if got, ok := c.Get(ctx, "k"); !ok || !bytes.Equal(got, answer) {
		t.Fatalf("Get of a value sealed by the second key = %q, %v", got, ok)
	}
}

func TestNoKeyKeepsRedisOut(t *testing.T) {
	ctx := context.Background()
	c, rdb := redisCache(t, nil)
	c.Put(ctx, c.Ticket(), "k", answer)
	if n, err := rdb.Exists(ctx, c.key("k")).Result(); err != nil || n != 0 {
		t.Fatalf("without a key the value went to Redis (exists=%d, %v)", n, err)
	}
	if got, ok := c.Get(ctx, "k"); !ok || !bytes.Equal(got, answer) {
		t.Fatalf("the process-local level lost the answer: %q, %v", got, ok)
	}
}

// The cost a sealed value adds to the Redis level, per value written and
// read back, against the bare Redis SET and GET it rides on.
func BenchmarkSealOpen(b *testing.B) {
	s := mustKeys(b, newKey+","+oldKey)
	const key = "rdc:did-check:0123456789ab:1:2025-01-01:0123456789abcdef0123456789abcdef"
	for b.Loop() {
		if _, ok := s.Open(key, s.Seal(key, answer)); !ok {
			b.Fatal("does not open")
		}
	}
}

func BenchmarkRedisSetGet(b *testing.B) {
	for _, mode := range []string{"plain", "sealed"} {
		b.Run(mode, func(b *testing.B) {
			url := os.Getenv("REDIS_URL")
			if url == "" {
				b.Skip("REDIS_URL not set")
			}
			opts, _ := redis.ParseURL(url)
			rdb := redis.NewClient(opts)
			defer rdb.Close()
			ctx := context.Background()
			key := os.Getenv("REDIS_PREFIX") + "cache-bench:k"
			defer rdb.Del(ctx, key)
			s := mustKeys(b, newKey)
			for b.Loop() {
				v := answer
				if mode == "sealed" {
					v = s.Seal(key, answer)
				}
				rdb.Set(ctx, key, v, time.Minute)
				got, err := rdb.Get(ctx, key).Bytes()
				if err != nil {
					b.Fatal(err)
				}
				if mode == "sealed" {
					if _, ok := s.Open(key, got); !ok {
						b.Fatal("does not open")
					}
				}
			}
		})
	}
}
