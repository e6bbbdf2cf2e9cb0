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

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cf"
)

// TestCacheHoldsNoCodiceFiscale reads Redis as someone with access to it
// (a dump, a replica) would: after did-check has cached a household's
// answer there, no key and no value of the run may hold a member's codice
// fiscale.
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
	subjectKey, err := cfg.Secrets.Get("audit-subject-key", "AUDIT_SUBJECT_KEY")
	if err != nil {
		t.Fatal(err)
	}
	subjects := audit.NewSubjects([]byte(subjectKey))
	tok := token(t, "gepi")

	// Ask until an answer is in Redis (its key ends with the subject's
	// reference). A Redis pause left by an earlier outage test keeps an
	// answer in the process only, so a later code is tried then.
	var asked string
	codes := h.Fixtures.DidAttiva
	for i := len(codes) - 1; i >= 0 && i >= len(codes)-5 && asked == ""; i-- {
		code := codes[i]
		if _, r := didCheck(t, tok, code); r.status != http.StatusOK {
			t.Fatalf("did-check: status %d: %s", r.status, r.body)
		}
		ref := subjects.Ref(string(mustCanonical(t, code)))
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			keys, err := rdb.Keys(ctx, cfg.RedisPrefix+"did-check:*:"+ref).Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) > 0 {
				asked = code
				break
			}
		}
	}
	if asked == "" {
		t.Fatal("no did-check answer reached Redis: nothing to inspect")
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

	var keys, values int
	iter := rdb.Scan(ctx, 0, cfg.RedisPrefix+"*", 1000).Iterator()
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
		values++
		for _, code := range codesInClear {
			if bytes.Contains(val, code) {
				t.Errorf("a Redis value holds a household member's codice fiscale (%s)", cf.Code(code).Masked())
			}
		}
		if bytes.Contains(val, []byte(`"codice_fiscale"`)) {
			t.Error("a Redis value is a look-up answer in clear")
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if values == 0 {
		t.Fatalf("%d keys and no value read under the run's prefix", keys)
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
