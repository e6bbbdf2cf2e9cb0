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
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/clients"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/ratelimit"
	"github.com/rdc-interop/faas/shared/schedule"
	"github.com/rdc-interop/faas/shared/tracking"
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
	// MaxBody in bytes; DefaultMaxBody when zero.
	MaxBody int64
	Handle  HandlerFunc
	// Reveals is how much beneficiary data the route's answer holds, which
	// the operator behind a call (tracking evidence) must be allowed to
	// see: zero is tracking.Full. A route that can answer with less asks
	// Operator(ctx).Sees() and leaves the rest out.
	Reveals tracking.Data
	// Integrity is how the route takes part in AgID ModI INTEGRITY_REST_01
	// (integrity.go): zero, not at all, and the pipeline adds nothing.
	Integrity Integrity

	// Scheduled, when set, is the route's scheduled job, and Schedule its
	// cron schedule (UTC). The OpenFaaS cron-connector calls the route
	// without a token; the pipeline sends such a call to Scheduled, at most
	// once per slot of Schedule whoever sends it (package schedule), and
	// never to Handle, which sees only calls with a token. stack.yml's
	// annotation must fire on the same schedule.
	Scheduled HandlerFunc
	Schedule  string
}

// DefaultMaxBody is the contract's body limit unless a function says more.
const DefaultMaxBody = 1 << 20

// Build returns a function's routes once the process's dependencies are
// ready. It only wires: what must run in the background (outbox workers,
// cache listeners) it hands to bg, which starts it once the whole build has
// succeeded, so a build that fails leaves nothing running.
type Build func(p *deps.Set, bg *Background) ([]Route, error)

// Background collects the goroutines a Build wants run.
type Background struct{ runs []func(context.Context) }

// Go runs run, under the process's life, once the build has succeeded.
func (b *Background) Go(run func(context.Context)) { b.runs = append(b.runs, run) }

// Function is an http.Handler serving one function's routes.
type Function struct {
	name  string
	build Build

	mu      sync.Mutex
	handler http.Handler
	p       *deps.Set

	signer signerOnce // signs answers (ModI INTEGRITY_REST_01), read on first use
}

// New returns the handler of the function called name. The routes are built on
// the first request, when the process's dependencies are first needed.
func New(name string, build Build) *Function { return &Function{name: name, build: build} }

// Name is the function's name, as in stack.yml.
func (f *Function) Name() string { return f.name }

type ctxKey struct{}

// state is what the pipeline knows about a request, kept in its context.
type state struct {
	function  string
	requestID string
	claims    *auth.Claims
	client    clients.Client // the token's client's registration, as checked (zero on public routes)
	operator  *tracking.Operator
	p         *deps.Set
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

// Operator is the person behind the call, from its verified tracking
// evidence; nil when the call carries none (a platform's own job).
func Operator(ctx context.Context) *tracking.Operator { return stateOf(ctx).operator }

var (
	saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)
	// codeShape is a codice fiscale's shape, check letter right or not, with
	// the omocodia letters where digits go: a caller's "request id" of that
	// shape is a person's code, not an opaque token.
	codeShape = regexp.MustCompile(`(?i)[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)
)

// SaneRequestID reports whether a caller's X-Request-Id may be kept: a short
// opaque token of safe characters that holds no codice fiscale. The id is
// echoed in answers, logged and stored in the audit trail in clear, so
// anything else is replaced by a new one.
func SaneRequestID(id string) bool {
	return saneRequestID.MatchString(id) && !codeShape.MatchString(id) && cf.MaskAll(id) == id
}

func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !SaneRequestID(id) {
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
			if v == http.ErrAbortHandler { //nolint:errorlint // recover() gives the sentinel itself, compared as net/http does
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
	p, err := deps.Get()
	if err != nil {
		return nil, err
	}
	var bg Background
	routes, err := f.build(p, &bg)
	if err != nil {
		return nil, err
	}
	h, err := f.compile(routes)
	if err != nil {
		return nil, err
	}
	f.p = p
	f.handler = h
	for _, run := range bg.runs {
		go run(p.Life)
	}
	return f.handler, nil
}

// compile registers each route under its method and path, so two paths
// that overlap (GET /rif/{rif...} and POST /{id}/rifiuti) can live side by
// side when their methods differ. What matches no route is a problem+json
// 404, or 405 with Allow when the path has routes for other methods.
func (f *Function) compile(routes []Route) (http.Handler, error) {
	for _, rt := range routes {
		if (rt.Scheduled == nil) != (rt.Schedule == "") {
			return nil, fmt.Errorf("route %s %s: Scheduled and Schedule go together", rt.Method, rt.Path)
		}
		if rt.Schedule != "" {
			if _, err := schedule.Parse(rt.Schedule); err != nil {
				return nil, fmt.Errorf("route %s %s: %w", rt.Method, rt.Path, err)
			}
		}
	}
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
	}), nil
}

func (f *Function) serve(rt Route, w http.ResponseWriter, r *http.Request) error {
	limit := rt.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		return problem.Newf(problem.TooLarge, "the body is over %d bytes", limit)
	}
	body := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), limit: limit}
	r.Body = body
	err := f.dispatch(rt, w, r)
	if err != nil && body.over {
		// However the handler read the body (decoder, ReadAll, form), a
		// body over the limit is a 413, whatever framing it came with.
		return problem.Wrap(problem.TooLarge, err, fmt.Sprintf("the body is over %d bytes", limit))
	}
	return err
}

func (f *Function) dispatch(rt Route, w http.ResponseWriter, r *http.Request) error {
	switch {
	case rt.Scheduled != nil && isCron(r):
		if err := f.limitAddress(w, r); err != nil {
			return err
		}
		return f.scheduled(rt, w, r)
	case rt.Public:
		if err := f.limitAddress(w, r); err != nil {
			return err
		}
	default:
		if err := f.authorize(rt, w, r); err != nil {
			return err
		}
		if rt.Integrity != 0 {
			return f.integrity(rt, w, r)
		}
	}
	return rt.Handle(w, r)
}

// limitedBody remembers that the body went over its limit.
type limitedBody struct {
	io.ReadCloser
	limit int64
	over  bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.over = true
	}
	return n, err
}

// CronConnector is the X-Connector value of the OpenFaaS cron-connector.
const CronConnector = "cron-connector"

// isCron reports whether r is a scheduled call from the cron-connector.
// Anyone can send that header: it grants nothing but a run of a job that
// is due (see scheduled).
func isCron(r *http.Request) bool {
	return r.Header.Get("X-Connector") == CronConnector && r.Header.Get("Authorization") == ""
}

// scheduled runs the route's job for the slot that is due, once: a call
// for a slot already claimed answers 200 and does nothing. A run that fails
// gives its slot back, so the next call tries again.
func (f *Function) scheduled(rt Route, w http.ResponseWriter, r *http.Request) error {
	sched, err := schedule.Parse(rt.Schedule)
	if err != nil {
		return problem.Wrap(problem.Internal, err, "the function's schedule is not valid")
	}
	slot := sched.Slot(time.Now())
	w.Header().Set("X-Cron-Slot", slot.Format(time.RFC3339))
	first, err := schedule.Claim(r.Context(), f.p.DB, f.name, slot)
	if err != nil {
		return err
	}
	if !first {
		return JSON(w, http.StatusOK, map[string]any{"turno": slot, "eseguito": false})
	}
	if err := Audit(r, audit.Entry{Action: "scheduled-run", Outcome: "slot:" + slot.Format(time.RFC3339), Status: http.StatusOK}); err != nil {
		_ = schedule.Release(context.WithoutCancel(r.Context()), f.p.DB, f.name, slot)
		return err
	}
	rec, _ := w.(*recorder)
	err = rt.Scheduled(w, r)
	if err != nil || (rec != nil && rec.status >= 500) {
		if rerr := schedule.Release(context.WithoutCancel(r.Context()), f.p.DB, f.name, slot); rerr != nil {
			f.p.Log.Error("scheduled run failed and its slot could not be released", "function", f.name, "slot", slot, "err", rerr)
		}
	}
	return err
}

// authorize checks the token, then the client's registration as it is now
// (a token outlives a change of it): enabled, calling from an allowed
// address, the branches still enabled; then its rate limit.
func (f *Function) authorize(rt Route, w http.ResponseWriter, r *http.Request) error {
	raw, ok := bearer(r)
	if !ok {
		if err := f.limitAddress(w, r); err != nil {
			return err
		}
		return unauthorized("a Bearer access token is required")
	}
	claims, err := f.p.Verifier.Verify(r.Context(), raw)
	switch {
	case errors.Is(err, auth.ErrKeysUnavailable):
		return problem.Down("the token issuer's keys", err)
	case err != nil:
		// Bad tokens are counted against the address they come from.
		if lerr := f.limitAddress(w, r); lerr != nil {
			return lerr
		}
		return problem.Wrap(problem.Unauthorized, err, "the access token is not valid").
			WithHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	cl, err := f.p.Clients.Get(r.Context(), claims.Subject)
	switch {
	case errors.Is(err, clients.ErrUnknown):
		return unauthorized("the token's client is not registered")
	case err != nil:
		return err
	case !cl.Enabled:
		return unauthorized("the token's client is disabled")
	}
	addr, known := ClientIP(r)
	if !cl.AllowsAddress(addr, known) {
		return problem.New(problem.Forbidden, "this client may not call from this address")
	}
	if len(claims.Filiali) > 0 {
		narrowed := *claims // the verifier's cached claims are shared: narrow a copy
		narrowed.Filiali = slices.DeleteFunc(slices.Clone(claims.Filiali), func(b string) bool { return !slices.Contains(cl.Branches, b) })
		claims = &narrowed
	}
	st := stateOf(r.Context())
	st.claims, st.client = claims, cl
	if err := f.limit(w, r, "client:"+f.name+":"+claims.Subject, cl.Limit(f.name, f.p.Config.RateLimitClient)); err != nil {
		return err
	}
	if rt.Scope != "" && !claims.HasScope(rt.Scope) {
		return problem.Newf(problem.Forbidden, "the token lacks the scope %s", rt.Scope).
			WithHeader("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+rt.Scope+`"`)
	}
	op, err := f.operator(r, cl)
	if err != nil {
		return err
	}
	st.operator = op
	if !op.May(rt.Reveals) {
		return problem.Newf(problem.Forbidden, "the operator's role %s may not see this data", op.Role)
	}
	return nil
}

// operator verifies the call's tracking evidence, when it has one, and
// requires it of a client registered so. An evidence is checked against the
// calling client's own keys: one signed by another client fails.
func (f *Function) operator(r *http.Request, cl clients.Client) (*tracking.Operator, error) {
	raw := r.Header.Get(tracking.Header)
	if raw == "" {
		if cl.TrackingRequired {
			return nil, problem.Newf(problem.Unauthorized, "this client must send the operator's %s", tracking.Header)
		}
		return nil, nil
	}
	op, err := f.p.Tracking.Verify(raw, cl.ID, cl.Keys)
	if err != nil {
		return nil, problem.Wrap(problem.Unauthorized, err, "the "+tracking.Header+" is not valid")
	}
	return op, nil
}

// limitAddress applies the limit of calls without a (valid) token, per
// source address and function.
func (f *Function) limitAddress(w http.ResponseWriter, r *http.Request) error {
	return f.limit(w, r, "addr:"+f.name+":"+SourceKey(r), f.p.Config.RateLimitAddress)
}

// SourceKey names where a call comes from, for limits: the client address
// the trusted proxies vouch for, else the peer's.
func SourceKey(r *http.Request) string {
	if a, ok := ClientIP(r); ok {
		return a.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limit spends one call of key's budget, writes the X-RateLimit-* headers
// the AgID guidelines ask for, and refuses the call (429) when it is spent.
func (f *Function) limit(w http.ResponseWriter, r *http.Request, key string, l ratelimit.Limit) error {
	d := f.p.Limits.Allow(r.Context(), key, l)
	return RateLimited(w, d)
}

// RateLimited writes d's headers and returns the 429 when d refused the call.
func RateLimited(w http.ResponseWriter, d ratelimit.Decision) error {
	if d.Limit.IsOff() {
		return nil
	}
	// Set in canonical form (X-Ratelimit-*), as Header.Set would, without
	// canonicalising three keys on every call.
	h := w.Header()
	h["X-Ratelimit-Limit"] = []string{strconv.Itoa(d.Limit.Burst)}
	h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(d.Remaining)}
	h["X-Ratelimit-Reset"] = []string{strconv.Itoa(ceilSeconds(d.Reset))}
	if d.Allowed {
		return nil
	}
	return problem.New(problem.TooManyRequests, "too many calls; retry after the time in Retry-After").
		WithHeader("Retry-After", strconv.Itoa(max(ceilSeconds(d.RetryAfter), 1)))
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

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
	if op := st.operator; op != nil {
		e.UserID, e.UserRole, e.UserLocation, e.LoA = op.UserID, op.Role, op.Location, op.LoA
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
