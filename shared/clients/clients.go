// Package clients is what every function checks about the calling client on
// each request, beyond its token: that it is still enabled, that it calls
// from an address it was registered for (allowed_cidrs), which of its
// branches are still enabled, and its rate limits.
//
// A token lives for minutes, so what its claims say can go stale: a client
// disabled by an operator must stop at once, not when its tokens expire.
// Registrations are cached per process and dropped on the PostgreSQL notices
// of the rdc_client_changed channel (migration 015), sent on every change
// of a client or a branch; while the listener is not connected nothing is
// cached, so a missed notice can never leave a revoked client working.
package clients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/ratelimit"
)

// Channel is the PostgreSQL channel of client and branch changes.
const Channel = "rdc_client_changed"

// Client is a client's registration, as a call is checked against it.
type Client struct {
	ID      string
	Enabled bool
	// AllowedCIDRs, when not empty, are the only addresses it may call from.
	AllowedCIDRs []netip.Prefix
	// Branches are the registered branches that are enabled now (APL clients).
	Branches []string
	// Limits by function name, "*" for any; absent: the configured default.
	Limits map[string]ratelimit.Limit
	// Keys are the client's registered public keys (private_key_jwt), which
	// also sign its operators' tracking evidences and its requests'
	// Agid-JWT-Signature.
	Keys jose.JSONWebKeySet
	// TrackingRequired: every call must name its operator (ModI
	// AUDIT_REST_02 tracking evidence).
	TrackingRequired bool
	// IntegrityREST (integrita_rest): the client's answers carry a
	// Digest and the platform's Agid-JWT-Signature, and its writes must
	// carry its own (ModI INTEGRITY_REST_01, package integrity).
	IntegrityREST bool
}

// AllowsAddress reports whether a call from addr is allowed; known says
// whether the address could be told at all.
func (c Client) AllowsAddress(addr netip.Addr, known bool) bool {
	if len(c.AllowedCIDRs) == 0 {
		return true
	}
	if !known {
		return false
	}
	return slices.ContainsFunc(c.AllowedCIDRs, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// Limit is the client's limit for function, or def.
func (c Client) Limit(function string, def ratelimit.Limit) ratelimit.Limit {
	if l, ok := c.Limits[function]; ok {
		return l
	}
	if l, ok := c.Limits["*"]; ok {
		return l
	}
	return def
}

// ErrUnknown means no client is registered under the id.
var ErrUnknown = errors.New("client not registered")

// Registry reads registrations, cached while it hears of their changes.
type Registry struct {
	db  *pgxpool.Pool
	log *slog.Logger

	start     sync.Once
	life      context.Context
	listening atomic.Bool

	mu    sync.RWMutex
	cache map[string]Client
	epoch uint64 // bumped on every drop, so a read that raced a drop is not cached
}

// New returns a Registry; its listener starts with the first Get and runs
// until life ends.
func New(life context.Context, pool *pgxpool.Pool, log *slog.Logger) *Registry {
	return &Registry{db: pool, life: life, log: log, cache: map[string]Client{}}
}

// Get returns the registration of id; ErrUnknown when there is none.
func (r *Registry) Get(ctx context.Context, id string) (Client, error) {
	r.start.Do(func() { go r.listen() })
	r.mu.RLock()
	c, ok := r.cache[id]
	epoch := r.epoch
	r.mu.RUnlock()
	if ok {
		return c, nil
	}
	c, err := r.load(ctx, id)
	if err != nil {
		return Client{}, err
	}
	if r.listening.Load() {
		r.mu.Lock()
		if r.epoch == epoch && len(r.cache) < maxCached {
			r.cache[id] = c
		}
		r.mu.Unlock()
	}
	return c, nil
}

// maxCached bounds the cache; registrations number in the hundreds.
const maxCached = 10_000

func (r *Registry) load(ctx context.Context, id string) (Client, error) {
	c := Client{ID: id}
	var cidrs []netip.Prefix
	var limits map[string]any
	var jwks []byte
	err := r.db.QueryRow(ctx, `
		SELECT c.abilitato, c.allowed_cidrs, c.rate_limits,
		       coalesce((SELECT array_agg(f.codice ORDER BY f.codice) FROM apl_filiale f
		                 WHERE f.codice = ANY (c.filiali) AND f.abilitata), '{}'),
		       c.jwks, c.tracking_obbligatorio, c.integrita_rest
		FROM oauth_client c WHERE c.client_id = $1`, id).Scan(&c.Enabled, &cidrs, &limits, &c.Branches, &jwks, &c.TrackingRequired, &c.IntegrityREST)
	if errors.Is(err, pgx.ErrNoRows) {
		return Client{}, ErrUnknown
	}
	if err != nil {
		return Client{}, fmt.Errorf("load client registration: %w", err)
	}
	c.AllowedCIDRs = cidrs
	if len(jwks) > 0 {
		if err := json.Unmarshal(jwks, &c.Keys); err != nil {
			// No key verifies then: the client's evidences and signatures are refused.
			r.log.Error("client registration: bad JWKS, no key used", "client", id, "err", err)
			c.Keys = jose.JSONWebKeySet{}
		}
	}
	if len(limits) > 0 {
		c.Limits = make(map[string]ratelimit.Limit, len(limits))
		for fn, v := range limits {
			s, _ := v.(string)
			l, err := ratelimit.Parse(s)
			if err != nil {
				// A bad registration must not open the door: the strictest
				// sane reading is the default, which the caller applies.
				r.log.Error("client registration: bad rate limit, default used", "client", id, "function", fn, "err", err)
				continue
			}
			c.Limits[fn] = l
		}
	}
	return c, nil
}

func (r *Registry) drop(id string) {
	r.mu.Lock()
	if id == "all" {
		clear(r.cache)
	} else {
		delete(r.cache, id)
	}
	r.epoch++
	r.mu.Unlock()
}

// listen follows Channel until life ends, reconnecting with back-off.
func (r *Registry) listen() {
	backoff := 100 * time.Millisecond
	for r.life.Err() == nil {
		err := r.listenOnce()
		r.listening.Store(false)
		r.drop("all")
		if r.life.Err() != nil {
			return
		}
		r.log.Warn("client changes listener lost; registrations read on every call until it reconnects", "err", err)
		select {
		case <-r.life.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (r *Registry) listenOnce() error {
	pc, err := r.db.Acquire(r.life)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // a listening connection must not go back to the pool
	defer conn.Close(context.Background())
	if _, err := conn.Exec(r.life, "LISTEN "+Channel); err != nil {
		return err
	}
	r.drop("all")
	r.listening.Store(true)
	for {
		n, err := conn.WaitForNotification(r.life)
		if err != nil {
			return err
		}
		r.drop(n.Payload)
	}
}

// MarshalLimits is the stored form of limits, for tools that register clients.
func MarshalLimits(limits map[string]ratelimit.Limit) ([]byte, error) {
	out := make(map[string]string, len(limits))
	for fn, l := range limits {
		out[fn] = l.String()
	}
	return json.Marshal(out)
}
