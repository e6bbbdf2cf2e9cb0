package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// ErrInvalidToken is wrapped by every refusal of a token (a 401).
var ErrInvalidToken = errors.New("invalid token")

// ErrKeysUnavailable means the issuer's keys could not be fetched and none
// cached fits: the caller answers 503, not 401, since the token may be good.
var ErrKeysUnavailable = errors.New("token keys unavailable")

func invalidToken(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

// Algorithms accepted for access tokens and client assertions: asymmetric
// only, never "none" or HMAC (which a public key could be abused to forge).
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// VerifierConfig says whose tokens to accept.
type VerifierConfig struct {
	JWKSURL         string
	Issuer          string
	Audience        string
	HTTPClient      *http.Client
	Leeway          time.Duration // clock skew; 30 s when zero
	Now             func() time.Time
	MaxCacheEntries int // verified-token cache size; 10,000 when zero
}

// Verifier checks access tokens. Verifying an RSA signature costs tens of
// microseconds, and partners reuse a token for its whole life, so a verified
// token is remembered (by its hash, until it expires or for 5 minutes) and
// a repeat costs a hash and a map look-up.
type Verifier struct {
	cfg VerifierConfig

	keysMu    sync.RWMutex
	keys      jose.JSONWebKeySet
	fetchedAt time.Time
	fetch     singleflight.Group

	cacheMu sync.RWMutex
	cache   map[[32]byte]cached
}

type cached struct {
	claims *Claims
	until  time.Time
}

// keysMaxAge is how long fetched keys are trusted before a refresh;
// refetchMin spaces the refetches that an unknown kid triggers, so a flood of
// forged tokens cannot turn into a flood of requests to the issuer.
const (
	keysMaxAge = 10 * time.Minute
	refetchMin = 5 * time.Second
	cacheFor   = 5 * time.Minute
)

// NewVerifier makes no request: a function starts even when the issuer is down.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxCacheEntries == 0 {
		cfg.MaxCacheEntries = 10000
	}
	return &Verifier{cfg: cfg, cache: map[[32]byte]cached{}}
}

// Verify checks raw and returns its claims.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	now := v.cfg.Now()
	sum := sha256.Sum256([]byte(raw))
	v.cacheMu.RLock()
	c, ok := v.cache[sum]
	v.cacheMu.RUnlock()
	if ok && now.Before(c.until) && now.Before(c.claims.Expiry.Add(v.cfg.Leeway)) {
		return c.claims, nil
	}
	claims, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	until := now.Add(cacheFor)
	if exp := claims.Expiry.Add(v.cfg.Leeway); exp.Before(until) {
		until = exp
	}
	v.cacheMu.Lock()
	if len(v.cache) >= v.cfg.MaxCacheEntries {
		v.evict(now)
	}
	v.cache[sum] = cached{claims: claims, until: until}
	v.cacheMu.Unlock()
	return claims, nil
}

// evict drops expired entries, and if that frees nothing, about half of the
// rest (map order is random): bounded memory without bookkeeping per hit.
func (v *Verifier) evict(now time.Time) {
	for k, c := range v.cache {
		if !now.Before(c.until) {
			delete(v.cache, k)
		}
	}
	if len(v.cache) < v.cfg.MaxCacheEntries {
		return
	}
	n := 0
	for k := range v.cache {
		if n%2 == 0 {
			delete(v.cache, k)
		}
		n++
	}
}

func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (*Claims, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, invalidToken("malformed")
	}
	jws, err := jose.ParseSigned(raw, Algorithms)
	if err != nil {
		return nil, invalidToken("malformed or disallowed algorithm")
	}
	if len(jws.Signatures) != 1 {
		return nil, invalidToken("malformed")
	}
	hdr := jws.Signatures[0].Protected
	typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
	if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" {
		return nil, invalidToken("not an access token (typ)")
	}
	key, err := v.key(ctx, hdr.KeyID, now)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, invalidToken("bad signature")
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, invalidToken("malformed claims")
	}
	switch {
	case c.Issuer != v.cfg.Issuer:
		return nil, invalidToken("wrong issuer")
	case !slices.Contains(c.Audience, v.cfg.Audience):
		return nil, invalidToken("wrong audience")
	case c.Subject == "":
		return nil, invalidToken("no subject")
	case c.Expiry.Unix() <= 0 || !now.Before(c.Expiry.Add(v.cfg.Leeway)):
		return nil, invalidToken("expired")
	case c.IssuedAt.After(now.Add(v.cfg.Leeway)):
		return nil, invalidToken("issued in the future")
	}
	return &c, nil
}

// key returns the public key for kid, fetching the JWKS when it is unknown or stale.
func (v *Verifier) key(ctx context.Context, kid string, now time.Time) (*jose.JSONWebKey, error) {
	v.keysMu.RLock()
	found := v.keys.Key(kid)
	age := now.Sub(v.fetchedAt)
	have := len(v.keys.Keys) > 0
	v.keysMu.RUnlock()
	if len(found) > 0 && age < keysMaxAge {
		return &found[0], nil
	}
	if len(found) == 0 && have && age < refetchMin {
		return nil, invalidToken("unknown key")
	}
	_, err, _ := v.fetch.Do("jwks", func() (any, error) { return nil, v.refresh(ctx) })
	v.keysMu.RLock()
	found = v.keys.Key(kid)
	v.keysMu.RUnlock()
	switch {
	case len(found) > 0:
		// A failed refresh keeps the keys already known.
		return &found[0], nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	return nil, invalidToken("unknown key")
}

func (v *Verifier) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return fmt.Errorf("jwks request: %w", err)
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decode jwks: %w", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return errors.New("the jwks holds a private key")
		}
	}
	v.keysMu.Lock()
	v.keys, v.fetchedAt = set, v.cfg.Now()
	v.keysMu.Unlock()
	return nil
}
