// Package gateway mirrors the OpenFaaS gateway for one machine: every function
// of stack.yml at /function/<name> with sub-path forwarding, a per-function
// timeout, health, graceful shutdown, and the cron-connector's schedules.
//
// It is how `make up` runs the whole set locally and what the black-box tests
// talk to; in a deployment OpenFaaS plays this part.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rdc-interop/faas/infra/stackfile"
)

// Function is one function the gateway serves.
type Function struct {
	Name    string
	Handler http.Handler
	Timeout time.Duration // the function's write_timeout / exec_timeout
	// ReadTimeout bounds reading the request, body included (read_timeout),
	// so a caller that stalls its body cannot hold a connection open.
	ReadTimeout time.Duration
	Schedule    string // cron schedule (UTC), "" if none
}

// Gateway routes /function/<name>/... to the function's handler.
type Gateway struct {
	functions map[string]Function
	log       *slog.Logger
}

// New returns a gateway for fns.
func New(fns []Function, log *slog.Logger) *Gateway {
	g := &Gateway{functions: map[string]Function{}, log: log}
	for _, f := range fns {
		if f.Timeout == 0 {
			f.Timeout = 30 * time.Second
		}
		if f.ReadTimeout == 0 {
			f.ReadTimeout = 10 * time.Second
		}
		g.functions[f.Name] = f
	}
	return g
}

// FromStack pairs stack.yml's functions with their handlers: a function of the
// stack without a handler (or the reverse) is an error, so the two never drift.
func FromStack(s *stackfile.Stack, handlers map[string]http.Handler) ([]Function, error) {
	var fns []Function
	for _, name := range s.Names() {
		h, ok := handlers[name]
		if !ok {
			return nil, fmt.Errorf("stack.yml function %s has no handler in the gateway", name)
		}
		sf := s.Functions[name]
		f := Function{Name: name, Handler: h, Timeout: 30 * time.Second, ReadTimeout: 10 * time.Second, Schedule: sf.Schedule()}
		for setting, into := range map[string]*time.Duration{"write_timeout": &f.Timeout, "read_timeout": &f.ReadTimeout} {
			if v := sf.Environment[setting]; v != "" {
				d, err := time.ParseDuration(v)
				if err != nil {
					return nil, fmt.Errorf("function %s: %s %q: %w", name, setting, v, err)
				}
				*into = d
			}
		}
		fns = append(fns, f)
	}
	for name := range handlers {
		if _, ok := s.Functions[name]; !ok {
			return nil, fmt.Errorf("handler %s is not in stack.yml", name)
		}
	}
	return fns, nil
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("OK"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/function/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	name, sub, _ := strings.Cut(rest, "/")
	f, ok := g.functions[name]
	if !ok {
		http.Error(w, "no such function", http.StatusNotFound)
		return
	}
	// Each function's own limits, as its watchdog sets them: the body must
	// arrive within read_timeout, the answer leave within write_timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(f.ReadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(f.Timeout + time.Second))
	// The function sees the sub-path, as behind the OpenFaaS gateway.
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + sub
	r2.URL.RawPath = ""
	r2.RequestURI = r2.URL.RequestURI()
	// The caller's address is appended, as an ingress in front of the
	// OpenFaaS gateway does (TRUSTED_PROXY_HOPS=1): what the caller wrote
	// in the header stays to its left, where nothing trusts it.
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		r2.Header.Set("X-Forwarded-For", strings.Join(append(r.Header.Values("X-Forwarded-For"), host), ", "))
	}
	ctx, cancel := context.WithTimeout(r.Context(), f.Timeout)
	defer cancel()
	f.Handler.ServeHTTP(w, r2.WithContext(ctx))
}

// Serve listens on addr and serves until ctx is done, then shuts down
// gracefully: in-flight requests get up to drain to finish.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	// Per-request deadlines follow each function's timeouts (ServeHTTP);
	// these bound what comes before and after: headers, idle keep-alives,
	// and the longest function's request as a backstop.
	longest, longestRead := time.Duration(0), time.Duration(0)
	for _, f := range g.functions {
		longest, longestRead = max(longest, f.Timeout), max(longestRead, f.ReadTimeout)
	}
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       max(longestRead, 10*time.Second),
		WriteTimeout:      max(longest, 10*time.Second) + 5*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.runCron(ctx)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// runCron fires each scheduled function as the cron-connector does: a POST with
// an empty body, X-Connector: cron-connector and no token. Schedules are UTC.
func (g *Gateway) runCron(ctx context.Context) {
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	var wg sync.WaitGroup
	for _, f := range g.functions {
		if f.Schedule == "" {
			continue
		}
		sched, err := parser.Parse(f.Schedule)
		if err != nil {
			g.log.Error("bad cron schedule", "function", f.Name, "schedule", f.Schedule, "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next := sched.Next(time.Now().UTC())
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				status := g.Fire(ctx, f.Name)
				g.log.Info("cron fired", "function", f.Name, "status", status)
			}
		}()
	}
	wg.Wait()
}

// Fire calls a function as the cron-connector would and returns the status.
func (g *Gateway) Fire(ctx context.Context, name string) int {
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/function/"+name, nil)
	r.Header.Set("X-Connector", "cron-connector")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	return w.Code
}

// Schedules lists the functions that have a schedule, with it.
func (g *Gateway) Schedules() map[string]string {
	out := map[string]string{}
	for _, f := range g.functions {
		if f.Schedule != "" {
			out[f.Name] = f.Schedule
		}
	}
	return out
}
