package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// tokenCache remembers verified tokens by the SHA-256 of their raw form. It
// is split into shards, each with its own lock, because every request of
// every partner reads it: one RWMutex would make all cores contend on one
// cache line.
type tokenCache struct {
	shards   []cacheShard
	mask     uint64
	perShard int
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]cacheEntry
	_  [32]byte // keeps neighbouring shards' locks off one cache line
}

type cacheEntry struct {
	claims *Claims
	until  int64 // Unix nanoseconds: min(exp + leeway, cached + 5 min)
}

// newTokenCache sizes the shards so each holds at least 64 entries: a
// small cache stays one shard and is bounded exactly.
func newTokenCache(capacity int) *tokenCache {
	n := 1
	for n < 32 && capacity/(n*2) >= 64 {
		n *= 2
	}
	c := &tokenCache{shards: make([]cacheShard, n), mask: uint64(n - 1), perShard: capacity / n}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(sum *[sha256.Size]byte) *cacheShard {
	return &c.shards[binary.LittleEndian.Uint64(sum[:8])&c.mask]
}

// get returns the cached claims if they are still valid at now; expiry is
// checked on every hit, so a cached token dies at its exp like any other.
func (c *tokenCache) get(sum *[sha256.Size]byte, now time.Time) *Claims {
	s := c.shard(sum)
	s.mu.RLock()
	e, ok := s.m[*sum]
	s.mu.RUnlock()
	if !ok || now.UnixNano() >= e.until {
		return nil
	}
	return e.claims
}

func (c *tokenCache) put(sum *[sha256.Size]byte, claims *Claims, until, now time.Time) {
	s := c.shard(sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[*sum]; !ok && len(s.m) >= c.perShard {
		s.evict(now, c.perShard)
	}
	s.m[*sum] = cacheEntry{claims: claims, until: until.UnixNano()}
}

// evict drops the expired entries and, if that frees too little, about half
// of the rest, in Go's randomised map order. That keeps memory bounded with no
// bookkeeping on the hot path; a token evicted by mistake is only verified
// again. Halving makes the O(n) sweep rare: once per n/2 new tokens.
func (s *cacheShard) evict(now time.Time, capacity int) {
	t := now.UnixNano()
	for k, e := range s.m {
		if t >= e.until {
			delete(s.m, k)
		}
	}
	if len(s.m) < capacity {
		return
	}
	drop := len(s.m) - capacity/2
	for k := range s.m {
		if drop == 0 {
			break
		}
		delete(s.m, k)
		drop--
	}
}

// len is the number of entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
