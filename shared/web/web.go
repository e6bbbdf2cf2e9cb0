// Package web is the request pipeline every function shares: request id, panic
// recovery, routing with 404/405, body limit, token check with scope, strict
// JSON decoding, the audit hook and problem+json errors.
//
// A function declares its routes; handlers return an error and never write
// error bodies themselves, so every failure is mapped to a status in one place
// (package problem) and logged once, with the request id and without personal data.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/platform"
	"github.com/rdc-interop/faas/shared/problem"
)

// HandlerFunc handles one request; an error becomes the problem+json answer.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one method and path of a function.
type Route struct {
	Method string
	// Path is a net/http pattern path relative to the function, e.g. "/" or
	// "/exports/{id}"; "/" matches only the root.
	Path string
	// Scope the token must carry; with Public false and Scope empty any valid token does.
	Scope string
	// Public routes take no token (token endpoint, metadata, keys, status).
	Public bool
	// Cron routes may also be called by the OpenFaaS cron-connector without a token:
	// such a call may only start the scheduled job (contract.md).
	Cron bool
	// MaxBody in bytes; DefaultMaxBody when zero.
	MaxBody int64
	Handle  HandlerFunc
}

// DefaultMaxBody is the contract's body limit unless a function says more.
const DefaultMaxBody = 1 << 20

// Build returns a function's routes once its platform is ready.
type Build func(p *platform.Platform) ([]Route, error)

// Function is an http.Handler serving one function's routes.
type Function struct {
	name  string
	build Build

	mu      sync.Mutex
	handler http.Handler
	p       *platform.Platform
}

// New returns the handler of the function called name. The routes are built on
// the first request, when the shared platform is first needed.
func New(name string, build Build) *Function { return &Function{name: name, build: build} }

// Name is the function's name, as in stack.yml.
func (f *Function) Name() string { return f.name }

type ctxKey struct{}

// state is what the pipeline knows about a request, kept in its context.
type state struct {
	function  string
	requestID string
	claims    *auth.Claims
	p         *platform.Platform
}

func stateOf(ctx context.Context) *state {
	s, _ := ctx.Value(ctxKey{}).(*state)
	if s == nil {
		return &state{}
	}
	return s
}

// RequestID is the request's id (the caller's X-Request-Id when sane).
func RequestID(ctx context.Context) string { return stateOf(ctx).requestID }

// Claims of the request's token; nil on public routes and cron calls.
func Claims(ctx context.Context) *auth.Claims { return stateOf(ctx).claims }

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)

func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !saneRequestID.MatchString(id) {
		id = uuid.NewString()
	}
	w.Header().Set("X-Request-Id", id)
	rec := &recorder{ResponseWriter: w}
	st := &state{function: f.name, requestID: id}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))

	h, err := f.ready()
	if err != nil {
		slog.Default().Error("function not ready", "function", f.name, "request_id", id, "err", err)
		problem.Write(rec, problem.Down("the function's configuration", err), id)
		return
	}
	st.p = f.p
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			f.p.Log.Error("panic", "function", f.name, "request_id", id, "panic", v)
			if !rec.wrote {
				problem.Write(rec, errors.New("panic"), id)
			}
		}
		f.p.Log.Info("request", "function", f.name, "method", r.Method, "status", rec.status,
			"ms", time.Since(start).Milliseconds(), "request_id", id, "client", clientOf(st))
	}()
	h.ServeHTTP(rec, r)
}

func clientOf(st *state) string {
	if st.claims == nil {
		return ""
	}
	return st.claims.Subject
}

// ready builds the routes on first use; a failure is retried on the next request.
func (f *Function) ready() (http.Handler, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handler != nil {
		return f.handler, nil
	}
	p, err := platform.Get()
	if err != nil {
		return nil, err
	}
	routes, err := f.build(p)
	if err != nil {
		return nil, err
	}
	f.p = p
	f.handler = f.compile(routes)
	return f.handler, nil
}

// compile registers each route under its method and path, so two paths
// that overlap (GET /rif/{rif...} and POST /{id}/rifiuti) can live side by
// side when their methods differ. What matches no route is a problem+json
// 404, or 405 with Allow when the path has routes for other methods.
func (f *Function) compile(routes []Route) http.Handler {
	routes = append([]Route{{Method: http.MethodGet, Path: "/status", Public: true, Handle: f.status}}, routes...)
	mux := http.NewServeMux()
	methods := map[string]bool{}
	for _, rt := range routes {
		pattern := rt.Path
		if pattern == "/" {
			pattern = "/{$}"
		}
		mux.HandleFunc(rt.Method+" "+pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := f.serve(rt, w, r); err != nil {
				f.fail(w, r, err)
			}
		})
		methods[rt.Method] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for m := range methods {
			probe := *r
			probe.Method = m
			if _, pattern := mux.Handler(&probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			f.fail(w, r, problem.New(problem.NotFound, "no such route"))
			return
		}
		sort.Strings(allow)
		f.fail(w, r, problem.Newf(problem.MethodNotAllowed, "use %s", strings.Join(allow, ", ")).
			WithHeader("Allow", strings.Join(allow, ", ")))
	})
}

func (f *Function) serve(rt Route, w http.ResponseWriter, r *http.Request) error {
	limit := rt.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		return problem.Newf(problem.TooLarge, "the body is over %d bytes", limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if !rt.Public {
		if err := f.authorize(rt, r); err != nil {
			return err
		}
	}
	return rt.Handle(w, r)
}

// CronConnector is the X-Connector value of the OpenFaaS cron-connector.
const CronConnector = "cron-connector"

// IsCron reports whether r is a scheduled call from the cron-connector.
func IsCron(r *http.Request) bool {
	return r.Header.Get("X-Connector") == CronConnector && r.Header.Get("Authorization") == ""
}

func (f *Function) authorize(rt Route, r *http.Request) error {
	if rt.Cron && IsCron(r) {
		return nil
	}
	raw, ok := bearer(r)
	if !ok {
		return unauthorized("a Bearer access token is required")
	}
	claims, err := f.p.Verifier.Verify(r.Context(), raw)
	switch {
	case errors.Is(err, auth.ErrKeysUnavailable):
		return problem.Down("the token issuer's keys", err)
	case err != nil:
		return problem.Wrap(problem.Unauthorized, err, "the access token is not valid").
			WithHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	stateOf(r.Context()).claims = claims
	if rt.Scope != "" && !claims.HasScope(rt.Scope) {
		return problem.Newf(problem.Forbidden, "the token lacks the scope %s", rt.Scope).
			WithHeader("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+rt.Scope+`"`)
	}
	return nil
}

func unauthorized(detail string) error {
	return problem.New(problem.Unauthorized, detail).WithHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return tok, tok != ""
}

// fail writes err as problem+json; server-side failures are logged in full.
func (f *Function) fail(w http.ResponseWriter, r *http.Request, err error) {
	id := RequestID(r.Context())
	status := problem.Status(err)
	if status >= 500 {
		f.p.Log.Error("request failed", "function", f.name, "request_id", id, "status", status, "err", err)
	} else {
		f.p.Log.Debug("request refused", "function", f.name, "request_id", id, "status", status, "err", err)
	}
	problem.Write(w, err, id)
}

func (f *Function) status(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := f.p.Ping(ctx); err != nil {
		return err
	}
	problem.WriteBody(w, problem.Body{Status: http.StatusOK, Title: "OK"})
	return nil
}

// Audit stores the audit record of this request (who is filled in from the
// request) and waits for its commit. An error is a 503: the answer must not
// leave without its trace.
func Audit(r *http.Request, e audit.Entry) error {
	st := stateOf(r.Context())
	if st.p == nil {
		return problem.New(problem.Internal, "audit outside a function")
	}
	if err := st.p.Audit.Write(r.Context(), Stamp(r, e)); err != nil {
		return problem.Down("the audit trail", err)
	}
	return nil
}

// Stamp fills in who asked, in which request and function: for an entry
// stored by the caller (audit.Insert in its own transaction).
func Stamp(r *http.Request, e audit.Entry) audit.Entry {
	st := stateOf(r.Context())
	e.RequestID = st.requestID
	e.Function = st.function
	if st.claims != nil {
		e.ClientID, e.Org = st.claims.Subject, st.claims.Org
	} else {
		e.ClientID, e.Org = "-", "-"
	}
	return e
}

// recorder remembers the status for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
