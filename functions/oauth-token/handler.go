// Package function is oauth-token, the authorisation server of the function
// set: it issues OAuth 2.0 access tokens by client credentials (RFC 6749 §4.4)
// as signed JWTs (RFC 9068), and publishes its metadata (RFC 8414) and keys.
//
// Partners authenticate with client_secret_basic, client_secret_post or
// private_key_jwt (RFC 7523, as PDND does). The other functions only verify
// tokens against the published keys, so an external authorisation server can
// replace this one by configuration (OAUTH_ISSUER, OAUTH_JWKS_URL).
package function

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/web"
)

var handler = web.New("oauth-token", func(p *deps.Set, bg *web.Background) ([]web.Route, error) {
	ttl, reload := p.Config.AccessTokenTTL, p.Config.OAuthKeysReload
	s := &server{
		issuer:   strings.TrimSuffix(p.Config.OAuthIssuer, "/"),
		audience: p.Config.OAuthAudience,
		ttl:      ttl,
		keys:     newKeySource(p.Config.Secrets, reload),
		clients:  clientStore{db: p.DB},
		log:      p.Log,
		logins: logins{
			limits: p.Limits, perClient: p.Config.RateLimitLoginClient, perAddress: p.Config.RateLimitLoginAddress,
		},
		registrations: p.Clients,
	}
	if _, err := s.keys.ring(); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return []web.Route{
		{Method: http.MethodPost, Path: "/", Public: true, MaxBody: 64 << 10, Handle: s.token},
		{Method: http.MethodPost, Path: "/token", Public: true, MaxBody: 64 << 10, Handle: s.token},
		{Method: http.MethodGet, Path: "/.well-known/oauth-authorization-server", Public: true, Handle: s.metadata},
		{Method: http.MethodGet, Path: "/jwks", Public: true, Handle: s.jwks},
	}, nil
})

// Handle is the OpenFaaS golang-middleware entry point.
func Handle(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }
