package function

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/ratelimit"
	"github.com/rdc-interop/faas/shared/web"
)

// logins limits failed client authentications, per client id and per
// source address. Checking a secret costs about 50 ms of bcrypt, so a
// guesser is stopped before any is checked: the budgets are looked at
// first (spending nothing), and spent only by a failure, so a client that
// authenticates well is never slowed by them.
type logins struct {
	limits     *ratelimit.Limiter
	perClient  ratelimit.Limit
	perAddress ratelimit.Limit
}

func (l logins) keys(r *http.Request, client string) (byClient, byAddress string) {
	if client != "" {
		// The id is the caller's word, of any length and content: hashed,
		// it is a key of fixed size that holds nothing readable.
		sum := sha256.Sum256([]byte(client))
		byClient = "login:client:" + hex.EncodeToString(sum[:16])
	}
	return byClient, "login:addr:" + web.SourceKey(r)
}

// check refuses the call (429, with Retry-After) when the client id or the
// address has failed too often lately. The X-RateLimit-* headers stay those
// of the endpoint's own limit: these budgets count only failures.
func (l logins) check(r *http.Request, client string) error {
	byClient, byAddress := l.keys(r, client)
	d := l.limits.Peek(r.Context(), byAddress, l.perAddress)
	if d.Allowed && byClient != "" {
		d = l.limits.Peek(r.Context(), byClient, l.perClient)
	}
	if d.Allowed {
		return nil
	}
	e := oauthProblem(problem.TooManyRequests, "invalid_client", "too many failed authentications; retry after the time in Retry-After")
	return e.WithHeader("Retry-After", strconv.Itoa(max(int((d.RetryAfter+time.Second-1)/time.Second), 1)))
}

// failed spends one failure of the client id's and the address's budgets.
func (l logins) failed(r *http.Request, client string) {
	byClient, byAddress := l.keys(r, client)
	l.limits.Allow(r.Context(), byAddress, l.perAddress)
	if byClient != "" {
		l.limits.Allow(r.Context(), byClient, l.perClient)
	}
}

// claimedClient is the client id a request says it is, before any check:
// the Basic user, else client_id, else the assertion's subject.
func claimedClient(r *http.Request, form url.Values) string {
	if user, _, ok := r.BasicAuth(); ok {
		if id, err := url.QueryUnescape(user); err == nil {
			return id
		}
		return ""
	}
	if id := form.Get("client_id"); id != "" {
		return id
	}
	if a := form.Get("client_assertion"); a != "" {
		if id, err := auth.AssertionSubject(a); err == nil {
			return id
		}
	}
	return ""
}
