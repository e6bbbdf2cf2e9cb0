package cache

import (
	"log/slog"
	"testing"
	"time"
)

// newLocal is a cache with only the process-local level, as if its listener
// were connected.
func newLocal(maxLocal int) *Cache[string] {
	c := New[string](time.Minute, slog.New(slog.DiscardHandler))
	c.maxLocal = maxLocal
	c.listening.Store(true)
	return c
}

func TestLocalLevel(t *testing.T) {
	tests := []struct {
		name    string
		between func(c *Cache[string]) // runs between taking the ticket and Put
		after   func(c *Cache[string]) // runs after Put
		want    bool
	}{
		{"stored", nil, nil, true},
		{"invalidation before put refuses it", func(c *Cache[string]) { c.Invalidate("k") }, nil, false},
		{"invalidation of another key also refuses it", func(c *Cache[string]) { c.Invalidate("other") }, nil, false},
		{"invalidate drops it", nil, func(c *Cache[string]) { c.Invalidate("k") }, false},
		{"invalidate all drops it", nil, func(c *Cache[string]) { c.InvalidateAll() }, false},
		{"other key's invalidation keeps it", nil, func(c *Cache[string]) { c.Invalidate("other") }, true},
		{"listener lost hides it", nil, func(c *Cache[string]) { c.listening.Store(false) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newLocal(10)
			tk := c.Ticket()
			if tt.between != nil {
				tt.between(c)
			}
			c.Put(tk, "k", "v")
			if tt.after != nil {
				tt.after(c)
			}
			got, ok := c.Get("k")
			if ok != tt.want || (ok && got != "v") {
				t.Fatalf("Get = %q, %v; want found=%v", got, ok, tt.want)
			}
		})
	}
}

func TestLocalLevelIsBounded(t *testing.T) {
	c := newLocal(100)
	for i := range 1000 {
		c.Put(c.Ticket(), string(rune('a'+i%26))+string(rune(i)), "v")
	}
	if n := len(c.local); n > 100 {
		t.Fatalf("%d local entries, bound is 100", n)
	}
}

func TestLocalLevelExpires(t *testing.T) {
	c := newLocal(10)
	c.ttl = time.Millisecond
	c.Put(c.Ticket(), "k", "v")
	time.Sleep(5 * time.Millisecond)
	if _, ok := c.Get("k"); ok {
		t.Fatal("expired entry still served")
	}
}
