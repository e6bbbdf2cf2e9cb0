package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/rdc-interop/faas/shared/problem"
)

// ErrInvalidToken is wrapped by every refusal of a token: the caller answers
// 401. The message adds a short reason and never the token itself, so it can
// be logged.
var ErrInvalidToken = errors.New("invalid token")

// ErrKeysUnavailable means the token could not be checked at all: the
// issuer's JWKS could not be fetched and no cached key fits (or the verifier
// is misconfigured). The caller answers 503, not 401, since the token may
// well be good and the client should retry rather than ask for a new one.
var ErrKeysUnavailable = errors.New("token signing keys unavailable")

// The keys being out of reach is a dependency down (503), wherever the
// error surfaces.
func init() {
	problem.Classify(func(err error) *problem.Error {
		if errors.Is(err, ErrKeysUnavailable) {
			return problem.Down("the token issuer's keys", err)
		}
		return nil
	})
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

// The refusals are built once: a flood of garbage tokens should cost no
// allocations for the error.
var (
	errMalformed  = invalid("malformed")
	errAlg        = invalid("disallowed algorithm")
	errTyp        = invalid("not an access token (typ)")
	errNoKid      = invalid("no key id")
	errUnknownKey = invalid("unknown key")
	errKeyAlg     = invalid("key not usable with the token's algorithm")
	errKeyUse     = invalid("key does not sign access tokens")
	errSignature  = invalid("bad signature")
	errClaims     = invalid("malformed claims")
	errIssuer     = invalid("wrong issuer")
	errAudience   = invalid("wrong audience")
	errSubject    = invalid("no subject")
	errNoExpiry   = invalid("no expiry")
	errExpired    = invalid("expired")
	errFuture     = invalid("issued in the future")
	errNotYet     = invalid("not yet valid")
)

const (
	// keysMaxAge is how long a fetched JWKS is used before it is refreshed
	// (in the background: the stale keys keep working meanwhile).
	keysMaxAge = 10 * time.Minute
	// refetchInterval spaces JWKS fetches, so a flood of tokens with made-up kids
	// turns into at most one request to the issuer per 30 s.
	refetchInterval = 30 * time.Second
	// failBackoff spaces fetches while no key was ever fetched: requests
	// fail fast with ErrKeysUnavailable instead of each waiting for a
	// timeout, yet the issuer's return is noticed within seconds.
	failBackoff = 2 * time.Second
	// cacheFor bounds how long a verified token is trusted without a new
	// check, so a key withdrawn from the JWKS stops working within minutes.
	cacheFor = 5 * time.Minute
	// maxTokenLen refuses absurd inputs before hashing or parsing them; the
	// largest real token (an APL with many branches) is a few KiB.
	maxTokenLen  = 32 << 10
	maxJWKSBytes = 1 << 20
	fetchTimeout = 5 * time.Second
)

// VerifierConfig says whose tokens to accept.
type VerifierConfig struct {
	JWKSURL         string
	Issuer          string           // required iss
	Audience        string           // required audience value
	HTTPClient      *http.Client     // 5 s timeout when nil
	Leeway          time.Duration    // clock skew; 30 s when zero, none when negative
	Now             func() time.Time // time.Now when nil; a seam for tests
	MaxCacheEntries int              // verified-token cache size; 10,000 when zero, no cache when negative
}

// Verifier checks RFC 9068 access tokens against the issuer's JWKS. It is
// safe for concurrent use; make one per process and share it.
//
// Partners reuse a token for its whole lifetime, and an RSA verification
// costs tens of microseconds, so a verified token is remembered by its
// SHA-256 until it expires (at most 5 minutes): a repeat costs a hash and a
// map look-up. Only successes are remembered, so a refused token is refused
// again for the same reason.
type Verifier struct {
	cfg    VerifierConfig
	cfgErr error

	keys atomic.Pointer[keySet] // nil until the first successful fetch

	mu          sync.Mutex // guards the fields below
	lastAttempt time.Time  // end of the last fetch, successful or not
	lastErr     error      // its error
	gen         uint64     // fetches completed
	refreshing  bool       // a background refresh is under way

	fetches singleflight.Group
	cache   *tokenCache // nil when disabled
}

type keySet struct {
	keys []jose.JSONWebKey // the access-token keys
	// others are the kids of keys the JWKS publishes for other things
	// (receipts, webhooks): a token naming one is refused at once, without
	// a fetch, as no fetch can make it an access-token key.
	others  map[string]bool
	fetched time.Time
}

// find returns the access-token key for kid usable with alg, or the reason
// a known kid cannot verify the token; both nil means kid is unknown (a
// rotated key, perhaps), to tell it from an algorithm mix-up or a document
// key.
func (s *keySet) find(kid, alg string) (*jose.JSONWebKey, error) {
	known := false
	for i := range s.keys {
		if s.keys[i].KeyID == kid {
			known = true
			if usableKey(&s.keys[i], alg) {
				return &s.keys[i], nil
			}
		}
	}
	switch {
	case known:
		return nil, errKeyAlg
	case s.others[kid]:
		return nil, errKeyUse
	}
	return nil, nil
}

// NewVerifier makes no request: a function must start, and answer its health
// checks, even while the issuer is down. A configuration error is reported
// by every Verify, as ErrKeysUnavailable, so it shows as a 503 rather than
// as partners' tokens being "invalid".
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = 30 * time.Second
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxCacheEntries == 0 {
		cfg.MaxCacheEntries = 10000
	}
	v := &Verifier{cfg: cfg}
	if cfg.MaxCacheEntries > 0 {
		v.cache = newTokenCache(cfg.MaxCacheEntries)
	}
	u, err := url.Parse(cfg.JWKSURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		v.cfgErr = fmt.Errorf("%w: verifier misconfigured: JWKS URL %q is not an http(s) URL", ErrKeysUnavailable, cfg.JWKSURL)
	case cfg.Issuer == "":
		v.cfgErr = fmt.Errorf("%w: verifier misconfigured: no issuer", ErrKeysUnavailable)
	case cfg.Audience == "":
		v.cfgErr = fmt.Errorf("%w: verifier misconfigured: no audience", ErrKeysUnavailable)
	}
	return v
}

// Verify checks raw, a compact JWS access token, and returns its claims. The
// claims are the caller's copy, but their slices are shared with the cache:
// append to them freely, do not overwrite their elements.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if v.cfgErr != nil {
		return nil, v.cfgErr
	}
	if len(raw) == 0 || len(raw) > maxTokenLen {
		return nil, errMalformed
	}
	now := v.cfg.Now()
	var sum [sha256.Size]byte
	if v.cache != nil {
		sum = sha256.Sum256(stringBytes(raw))
		if c := v.cache.get(&sum, now); c != nil {
			return c.clone(), nil
		}
	}
	c, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		until := now.Add(cacheFor)
		if exp := c.Expiry.Add(v.cfg.Leeway); exp.Before(until) {
			until = exp
		}
		v.cache.put(&sum, c, until, now)
	}
	return c.clone(), nil
}

// stringBytes views s as bytes without copying it: the copy would be the
// only large allocation of a cache hit. Sum256 neither keeps nor modifies it.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) } //nolint:gosec // G103: deliberate, read-only view, as the comment above says

func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (*Claims, error) {
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		if alg, ok := headerAlg(raw); ok && !isAllowedAlg(alg) {
			return nil, errAlg
		}
		return nil, errMalformed
	}
	if len(jws.Signatures) != 1 {
		return nil, errMalformed
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, errTyp
	}
	if h.KeyID == "" {
		return nil, errNoKid
	}
	key, err := v.key(ctx, h.KeyID, h.Algorithm, now)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, errSignature
	}
	var c Claims
	nbf, err := c.decode(payload)
	if err != nil {
		return nil, errClaims
	}
	leeway := v.cfg.Leeway
	switch {
	case c.Issuer != v.cfg.Issuer:
		return nil, errIssuer
	case !slices.Contains(c.Audience, v.cfg.Audience):
		return nil, errAudience
	case c.Subject == "":
		return nil, errSubject
	case c.Expiry.IsZero():
		return nil, errNoExpiry
	case !now.Before(c.Expiry.Add(leeway)):
		return nil, errExpired
	case c.IssuedAt.After(now.Add(leeway)):
		return nil, errFuture
	case nbf.After(now.Add(leeway)):
		return nil, errNotYet
	}
	return &c, nil
}

// headerAlg reads the alg of a token go-jose refused, only to say why.
func headerAlg(raw string) (string, bool) {
	seg, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return "", false
	}
	return h.Alg, true
}

// key returns the public key for kid and alg. A known key is used even when
// the JWKS is stale (a refresh starts in the background); an unknown kid
// causes a fetch, at most one per refetchInterval, shared by concurrent callers.
func (v *Verifier) key(ctx context.Context, kid, alg string, now time.Time) (*jose.JSONWebKey, error) {
	ks := v.keys.Load()
	if ks != nil {
		k, err := ks.find(kid, alg)
		if k != nil {
			if now.Sub(ks.fetched) >= keysMaxAge {
				v.refreshInBackground(now)
			}
			return k, nil
		}
		if err != nil {
			return nil, err
		}
	}
	gen, ok, lastErr := v.mayFetch(now, ks != nil)
	if !ok {
		if lastErr != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, lastErr)
		}
		if ks == nil {
			return nil, ErrKeysUnavailable
		}
		return nil, errUnknownKey
	}
	err := v.fetch(ctx, gen)
	if ks = v.keys.Load(); ks != nil {
		k, ferr := ks.find(kid, alg)
		if k != nil {
			return k, nil
		}
		if ferr != nil {
			return nil, ferr
		}
	}
	if err != nil {
		// A failed fetch keeps the old keys, but they do not hold this kid:
		// the token may be good, so this is not the client's fault.
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	return nil, errUnknownKey
}

// mayFetch reports whether a fetch is due and the generation it would
// follow; when it is not, lastErr is why the last one failed (nil if it did not).
func (v *Verifier) mayFetch(now time.Time, haveKeys bool) (gen uint64, ok bool, lastErr error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	wait := refetchInterval
	if !haveKeys {
		wait = failBackoff
	}
	if v.gen > 0 && now.Sub(v.lastAttempt) < wait {
		return 0, false, v.lastErr
	}
	return v.gen, true, nil
}

// fetch joins or starts the one fetch in flight, and stops waiting (not
// fetching: others may share the result) when ctx ends.
func (v *Verifier) fetch(ctx context.Context, gen uint64) error {
	ch := v.fetches.DoChan("jwks", func() (any, error) { return nil, v.fetchOnce(gen) })
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the JWKS: %w", context.Cause(ctx))
	}
}

func (v *Verifier) refreshInBackground(now time.Time) {
	v.mu.Lock()
	if v.refreshing || now.Sub(v.lastAttempt) < refetchInterval {
		v.mu.Unlock()
		return
	}
	v.refreshing = true
	gen := v.gen
	v.mu.Unlock()
	go func() {
		<-v.fetches.DoChan("jwks", func() (any, error) { return nil, v.fetchOnce(gen) })
		v.mu.Lock()
		v.refreshing = false
		v.mu.Unlock()
	}()
}

// fetchOnce downloads the JWKS unless a fetch completed since the caller
// decided one was due (gen moved on): singleflight alone would let a caller
// arriving just after a fetch ended start another.
func (v *Verifier) fetchOnce(gen uint64) error {
	v.mu.Lock()
	if v.gen != gen {
		err := v.lastErr
		v.mu.Unlock()
		return err
	}
	v.mu.Unlock()
	ks, err := v.download()
	now := v.cfg.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	v.lastAttempt, v.lastErr = now, err
	if err == nil {
		ks.fetched = now
		v.keys.Store(ks)
	}
	return err
}

// download fetches and parses the JWKS. The request does not carry a
// caller's context: its result is shared, and a client hanging up must not
// fail it for everyone.
func (v *Verifier) download() (*keySet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil, fmt.Errorf("fetch JWKS %s: status %d", v.cfg.JWKSURL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS %s: %w", v.cfg.JWKSURL, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("read JWKS %s: larger than %d bytes", v.cfg.JWKSURL, maxJWKSBytes)
	}
	ks, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", v.cfg.JWKSURL, err)
	}
	return ks, nil
}

// parseJWKS keeps the usable access-token keys and skips the rest one by
// one: issuers publish encryption keys, certificates and key types this
// package does not know, and one such key must not make all the others
// unusable.
//
// Which keys sign access tokens is what the JWKS says in TypsMember: a key
// is one only if it lists at+jwt. The service publishes its document keys
// (receipts, webhooks) in the same JWKS, with "use":"sig" like any signing
// key, and their holders must not be able to mint tokens with them. A JWKS
// in which no key carries the member is an external authorisation server's
// (an API gateway, Keycloak, PDND: docs/contract.md lets one replace
// oauth-token), which signs nothing but tokens there, so all its signing
// keys are access-token keys. Once any key carries the member, every key
// without at+jwt is refused, so a key published without the member beside
// marked ones is not trusted either.
func parseJWKS(body []byte) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var parsed []PublishedKey
	marked := false
	for _, raw := range doc.Keys {
		var k PublishedKey
		if json.Unmarshal(raw, &k) != nil || k.KeyID == "" {
			continue
		}
		marked = marked || k.Typs != nil
		parsed = append(parsed, k)
	}
	ks := &keySet{others: map[string]bool{}}
	for i := range parsed {
		k := &parsed[i]
		switch {
		case marked && !k.Signs(TypAccessToken):
			ks.others[k.KeyID] = true
		case trustableKey(&k.JSONWebKey):
			ks.keys = append(ks.keys, k.JSONWebKey)
		}
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("no usable access-token signing key (RS256, PS256 or ES256, with a kid, and rdc_typ at+jwt when keys are marked)")
	}
	return ks, nil
}
