package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/ratelimit"
)

// pipeline is a Function with its routes compiled over a dependency set
// that reaches nothing: the pipeline's own rules (routing, limits, body
// size, errors, request ids) need no database, and a route that would
// reach one is not called here.
func pipeline(t *testing.T, addressLimit ratelimit.Limit, routes ...Route) http.Handler {
	t.Helper()
	f := New("f", nil)
	f.p = &deps.Set{
		Config: config.Config{RateLimitAddress: addressLimit},
		Limits: ratelimit.New(nil, "t:", slog.New(slog.DiscardHandler)),
		Log:    slog.New(slog.DiscardHandler),
	}
	h, err := f.compile(routes)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = h
	return f
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder) problem.Body {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("content type %q: %s", ct, w.Body)
	}
	var b problem.Body
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if b.RequestID == "" || b.RequestID != w.Header().Get("X-Request-Id") {
		t.Errorf("request id %q, header %q", b.RequestID, w.Header().Get("X-Request-Id"))
	}
	return b
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return problem.Wrap(problem.Invalid, err, "the body could not be read")
		}
		_, err = w.Write(b)
		return err
	}
	boom := func(http.ResponseWriter, *http.Request) error { panic("boom") }
	lost := func(http.ResponseWriter, *http.Request) error {
		return errors.New("reading: unexpected EOF") // no kind: a generic 500
	}
	generous := ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1000}
	h := pipeline(t, generous,
		Route{Method: http.MethodPost, Path: "/echo", Public: true, MaxBody: 16, Handle: echo},
		Route{Method: http.MethodGet, Path: "/boom", Public: true, Handle: boom},
		Route{Method: http.MethodGet, Path: "/lost", Public: true, Handle: lost},
		Route{Method: http.MethodPost, Path: "/private", Scope: "s", Handle: echo},
	)
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	t.Run("no such route", func(t *testing.T) {
		t.Parallel()
		w := serve(httptest.NewRequest(http.MethodGet, "/nothing", nil))
		if w.Code != http.StatusNotFound || problemOf(t, w).Status != 404 {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		t.Parallel()
		w := serve(httptest.NewRequest(http.MethodGet, "/echo", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
			t.Errorf("%d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
		problemOf(t, w)
	})
	t.Run("body over the limit, however framed", func(t *testing.T) {
		t.Parallel()
		sized := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(strings.Repeat("x", 17)))
		chunked := httptest.NewRequest(http.MethodPost, "/echo", io.MultiReader(strings.NewReader(strings.Repeat("x", 17))))
		chunked.ContentLength = -1
		for name, r := range map[string]*http.Request{"sized": sized, "chunked": chunked} {
			if w := serve(r); w.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: %d %s", name, w.Code, w.Body)
			}
		}
		if w := serve(httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader("small"))); w.Code != http.StatusOK || w.Body.String() != "small" {
			t.Errorf("within the limit: %d %s", w.Code, w.Body)
		}
	})
	t.Run("a panic is a 500 problem", func(t *testing.T) {
		t.Parallel()
		w := serve(httptest.NewRequest(http.MethodGet, "/boom", nil))
		if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "boom") {
			t.Errorf("%d %s", w.Code, w.Body)
		}
		problemOf(t, w)
	})
	t.Run("an error of no kind says nothing of itself", func(t *testing.T) {
		t.Parallel()
		w := serve(httptest.NewRequest(http.MethodGet, "/lost", nil))
		if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "EOF") {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		w := serve(httptest.NewRequest(http.MethodPost, "/private", strings.NewReader("x")))
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if w.Header().Get("X-Ratelimit-Limit") != "1000" {
			t.Errorf("a call without a token is not counted against its address: %v", w.Header())
		}
	})
	t.Run("a scheduled call to a route without a job is an ordinary one", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodPost, "/private", nil)
		r.Header.Set("X-Connector", CronConnector)
		if w := serve(r); w.Code != http.StatusUnauthorized {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("request ids", func(t *testing.T) {
		t.Parallel()
		for id, kept := range map[string]bool{"gepi-0001": true, "RSSMRA80A01H501U": false, "a b": false} {
			r := httptest.NewRequest(http.MethodGet, "/nothing", nil)
			r.Header.Set("X-Request-Id", id)
			if got := serve(r).Header().Get("X-Request-Id"); (got == id) != kept || got == "" {
				t.Errorf("X-Request-Id %q answered %q", id, got)
			}
		}
	})
}

// TestAddressLimit: calls without a token from one address share a budget;
// past it, 429 with Retry-After and the X-RateLimit-* headers.
func TestAddressLimit(t *testing.T) {
	t.Parallel()
	ok := func(w http.ResponseWriter, _ *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil }
	h := pipeline(t, ratelimit.Limit{Rate: 2, Period: time.Minute, Burst: 2},
		Route{Method: http.MethodGet, Path: "/", Public: true, Handle: ok})
	call := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr + ":1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i, want := range []int{204, 204, 429} {
		w := call("192.0.2.7")
		if w.Code != want {
			t.Fatalf("call %d: %d, want %d", i+1, w.Code, want)
		}
		if w.Header().Get("X-Ratelimit-Limit") != "2" || w.Header().Get("X-Ratelimit-Remaining") == "" || w.Header().Get("X-Ratelimit-Reset") == "" {
			t.Errorf("call %d: headers %v", i+1, w.Header())
		}
		if want == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if w := call("192.0.2.8"); w.Code != http.StatusNoContent {
		t.Errorf("another address: %d", w.Code)
	}
}
