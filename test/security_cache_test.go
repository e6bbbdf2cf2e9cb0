package test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rdc-interop/faas/shared/cf"
)

// TestCacheHoldsNoCodiceFiscale reads Redis as someone with access to it
// (a dump, a replica) would: after did-check has answered, no key and no
// value of the run may hold a member's codice fiscale, and no look-up answer
// is there at all: the look-ups cache in the process only
// (docs/architecture.md#look-up-cache).
func TestCacheHoldsNoCodiceFiscale(t *testing.T) {
	ctx := context.Background()
	cfg := h.Config // the functions' own settings
	if cfg.RedisURL == "" {
		t.Fatal("the run has no Redis")
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	tok := token(t, "gepi")

	codes := h.Fixtures.DidAttiva
	asked := codes[len(codes)-1]
	for _, code := range codes[len(codes)-3:] {
		if _, r := didCheck(t, tok, code); r.status != http.StatusOK {
			t.Fatalf("did-check: status %d: %s", r.status, r.body)
		}
	}
	// The calls went through the rate limiter, whose budgets are in Redis
	// (redis_rate puts its own prefix before the run's): there is something
	// to read once its keys are there.
	pattern := "*" + cfg.RedisPrefix + "*"
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, err := rdb.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(n) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no key under the run's Redis prefix: nothing to inspect")
		}
	}

	var codesInClear [][]byte
	seen := map[string]bool{}
	for member := range expectedHousehold(t, asked) {
		canonical := string(mustCanonical(t, member))
		for _, s := range []string{member, canonical, strings.ToLower(member), strings.ToLower(canonical)} {
			if !seen[s] {
				seen[s] = true
				codesInClear = append(codesInClear, []byte(s))
			}
		}
	}

	var keys int
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		keys++
		for _, code := range codesInClear {
			if strings.Contains(key, string(code)) {
				t.Errorf("a Redis key holds a household member's codice fiscale (%s)", cf.Code(code).Masked())
			}
		}
		var val []byte
		switch typ, _ := rdb.Type(ctx, key).Result(); typ {
		case "none": // expired or deleted since the scan
			continue
		case "string":
			val, err = rdb.Get(ctx, key).Bytes()
		default: // whatever its structure, its serialised form
			var s string
			s, err = rdb.Dump(ctx, key).Result()
			val = []byte(s)
		}
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range codesInClear {
			if bytes.Contains(val, code) {
				t.Errorf("a Redis value holds a household member's codice fiscale (%s)", cf.Code(code).Masked())
			}
		}
		if bytes.Contains(val, []byte(`"codice_fiscale"`)) {
			t.Error("a Redis value is a look-up answer")
		}
		if strings.Contains(key, cfg.RedisPrefix+"did-check:") {
			t.Error("a look-up answer is cached in Redis")
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if keys == 0 {
		t.Fatal("no key read under the run's prefix")
	}
}

func mustCanonical(t *testing.T, code string) cf.Code {
	t.Helper()
	c, err := cf.Parse(code)
	if err != nil {
		t.Fatal(err)
	}
	return c.Canonical()
}
