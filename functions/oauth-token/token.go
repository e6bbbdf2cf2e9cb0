package function

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/clients"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

type server struct {
	issuer   string
	audience string
	ttl      time.Duration
	keys     *keySource
	clients  clientStore
	log      *slog.Logger
	logins   logins
	// registrations answer whether the client may call from the request's
	// address (allowed_cidrs), as every other function asks on every call.
	registrations *clients.Registry
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// oauthError is an RFC 6749 §5.2 error inside a problem+json body: OAuth
// clients read "error", people and logs read the rest.
func oauthError(kind problem.Kind, code, detail string) error {
	return oauthProblem(kind, code, detail)
}

// oauthProblem is oauthError as the *problem.Error it is, for the callers
// that add to it (a header).
func oauthProblem(kind problem.Kind, code, detail string) *problem.Error {
	e := problem.New(kind, detail)
	e.Extensions = map[string]string{"error": code, "error_description": detail}
	if kind == problem.Unauthorized {
		e = e.WithHeader("WWW-Authenticate", `Basic realm="oauth-token"`)
	}
	return e
}

var errInvalidClient = oauthError(problem.Unauthorized, "invalid_client", "client authentication failed")

func (s *server) token(w http.ResponseWriter, r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return oauthError(problem.UnsupportedMediaType, "invalid_request", "send the request as application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return oauthError(problem.TooLarge, "invalid_request", "the request is too large")
		}
		return oauthError(problem.Invalid, "invalid_request", "the form could not be read")
	}
	form := r.PostForm
	for name, vs := range form {
		if len(vs) > 1 {
			return oauthError(problem.Invalid, "invalid_request", "a parameter is repeated")
		}
		// A NUL or other control character cannot be a client id, a secret
		// or a scope, and PostgreSQL could not even look it up.
		if web.TextError(name, vs[0], false) != nil || web.TextError(name, name, false) != nil {
			return oauthError(problem.Invalid, "invalid_request", "a parameter holds a control character or is not UTF-8")
		}
	}

	if gt := form.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			return oauthError(problem.Invalid, "invalid_request", "grant_type is required")
		}
		return oauthError(problem.Invalid, "unsupported_grant_type", "only client_credentials is supported")
	}
	claimed := claimedClient(r, form)
	if err := s.logins.check(r, claimed); err != nil {
		return err
	}
	c, err := s.authenticate(r, form)
	if errors.Is(err, errInvalidClient) {
		s.logins.failed(r, claimed)
	}
	if err != nil {
		return err
	}
	reg, err := s.registrations.Get(r.Context(), c.id)
	if err != nil {
		return err
	}
	if addr, known := web.ClientIP(r); !reg.AllowsAddress(addr, known) {
		s.log.Warn("token refused: address not allowed for the client", "client", c.id, "request_id", web.RequestID(r.Context()))
		return oauthError(problem.Forbidden, "unauthorized_client", "this client may not ask for tokens from this address")
	}
	scopes, err := grant(c.scopes, form.Get("scope"))
	if err != nil {
		return err
	}
	ring, err := s.keys.ring()
	if err != nil {
		return problem.Down("the signing keys", err)
	}
	now := time.Now().UTC()
	claims := auth.Claims{
		Issuer: s.issuer, Subject: c.id, ClientID: c.id, Audience: []string{s.audience},
		IssuedAt: now, Expiry: now.Add(s.ttl), ID: uuid.NewString(),
		Scope: strings.Join(scopes, " "), Org: c.org, AplRuolo: c.aplRuolo, Filiali: c.filiali,
	}
	tok, err := ring.Sign(claims)
	if err != nil {
		return err
	}
	s.log.Info("token issued", "client", c.id, "org", c.org, "scope", claims.Scope, "request_id", web.RequestID(r.Context()))
	w.Header().Set("Pragma", "no-cache")
	return web.JSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(s.ttl.Seconds()), "scope": claims.Scope,
	})
}

// authenticate identifies the client by exactly one of the three methods.
func (s *server) authenticate(r *http.Request, form url.Values) (client, error) {
	user, pass, basic := r.BasicAuth()
	methods := 0
	for _, used := range []bool{basic, form.Has("client_secret"), form.Has("client_assertion")} {
		if used {
			methods++
		}
	}
	if methods != 1 {
		return client{}, oauthError(problem.Invalid, "invalid_request", "use exactly one client authentication method")
	}
	switch {
	case basic:
		// RFC 6749 §2.3.1: both parts are form-urlencoded inside Basic.
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		// Both parts are the caller's text once unescaped: a control
		// character is no client's id or secret.
		if err1 != nil || err2 != nil || web.TextError("", id, false) != nil || web.TextError("", secret, false) != nil {
			return client{}, errInvalidClient
		}
		if cid := form.Get("client_id"); cid != "" && cid != id {
			return client{}, errInvalidClient
		}
		return s.bySecret(r, id, secret)
	case form.Has("client_secret"):
		return s.bySecret(r, form.Get("client_id"), form.Get("client_secret"))
	default:
		if form.Get("client_assertion_type") != assertionType {
			return client{}, oauthError(problem.Invalid, "invalid_request", "client_assertion_type must be "+assertionType)
		}
		return s.byAssertion(r, form.Get("client_id"), form.Get("client_assertion"))
	}
}

func (s *server) bySecret(r *http.Request, id, secret string) (client, error) {
	c, err := s.clients.get(r.Context(), id)
	if problem.KindOf(err) == problem.NotFound {
		// Spend the time a real check would, so unknown ids cannot be told apart.
		auth.CheckSecret(dummyHash(), secret)
		return client{}, errInvalidClient
	}
	if err != nil {
		return client{}, err
	}
	if !c.enabled || c.secretHash == "" || !auth.CheckSecret(c.secretHash, secret) {
		return client{}, errInvalidClient
	}
	return c, nil
}

func (s *server) byAssertion(r *http.Request, claimedID, assertion string) (client, error) {
	id, err := auth.AssertionSubject(assertion)
	if err != nil || (claimedID != "" && subtle.ConstantTimeCompare([]byte(claimedID), []byte(id)) != 1) {
		return client{}, errInvalidClient
	}
	c, err := s.clients.get(r.Context(), id)
	if problem.KindOf(err) == problem.NotFound {
		return client{}, errInvalidClient
	}
	if err != nil {
		return client{}, err
	}
	if !c.enabled || len(c.jwks.Keys) == 0 {
		return client{}, errInvalidClient
	}
	jti, exp, err := auth.VerifyClientAssertion(assertion, auth.AssertionCheck{
		ClientID: id, TokenURL: s.issuer, Keys: c.jwks,
	})
	if err != nil {
		s.log.Info("client assertion refused", "client", id, "err", err)
		return client{}, errInvalidClient
	}
	fresh, err := s.clients.useAssertion(r.Context(), id, jti, exp)
	if err != nil {
		return client{}, err
	}
	if !fresh {
		s.log.Warn("client assertion replayed", "client", id)
		return client{}, errInvalidClient
	}
	return c, nil
}

// grant returns the scopes to put in the token: those asked for, each of which
// the client must hold, or all of the client's when none are asked for.
func grant(held []string, asked string) ([]string, error) {
	if strings.TrimSpace(asked) == "" {
		return held, nil
	}
	var out []string
	for _, sc := range strings.Fields(asked) {
		if !slices.Contains(held, sc) {
			return nil, oauthError(problem.Invalid, "invalid_scope", "the client may not ask for scope "+sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func (s *server) metadata(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	return web.JSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer,
		"token_endpoint":                        s.issuer,
		"jwks_uri":                              s.issuer + "/jwks",
		"grant_types_supported":                 []string{"client_credentials"},
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "PS256", "ES256"},
		"scopes_supported": []string{
			"rdc:transfer:cpi", "rdc:transfer:social", "rdc:did:read", "rdc:patto:read", "rdc:exclusion:read",
			"rdc:export", "rdc:equipe", "rdc:condizionalita:write", "rdc:condizionalita:read",
			"rdc:feed:inps", "rdc:feed:anpal", "rdc:feed:gepi", "rdc:feed:siisl",
			"apl:offerte", "apl:candidature", "apl:cittadini", "apl:report", "apl:utenti",
			"rdc:audit-controller", "rdc:audit",
		},
	})
}

func (s *server) jwks(w http.ResponseWriter, r *http.Request) error {
	set, err := s.keys.published()
	if err != nil {
		return problem.Down("the signing keys", err)
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	return web.JSON(w, http.StatusOK, set)
}
