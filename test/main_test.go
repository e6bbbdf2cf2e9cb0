// Black-box tests: they reach the function set only through HTTP at the local
// gateway, as partner systems do, over real PostgreSQL and Redis.
package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/test/harness"
)

var h *harness.Harness

// The partner platforms the transfers and the refusals of offers notify.
var anpal, gepi, inps *fakePartner

func TestMain(m *testing.M) {
	anpal, gepi, inps = newFakePartner(), newFakePartner(), newFakePartner()
	env := map[string]string{
		// One export job at a time per replica, so a test can see the next wait.
		"EXPORT_MAX_JOBS": "1",
		// Fast retries, so that an outage of a second is retried many times.
		"DELIVERY_BACKOFF_BASE": "50ms", "DELIVERY_BACKOFF_MAX": "400ms", "DELIVERY_POLL": "100ms",
		"DELIVERY_MAX_ATTEMPTS": "1000", "DELIVERY_TIMEOUT": "2s",
	}
	maps.Copy(env, anpal.env("ANPAL"))
	maps.Copy(env, gepi.env("GEPI"))
	maps.Copy(env, inps.env("INPS"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	h, err = harness.Start(ctx, harness.Options{Persons: 30000, Settings: env})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the function set:", err)
		os.Exit(1)
	}
	code := m.Run()
	h.Close()
	os.Exit(code)
}

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

type call struct {
	method      string
	url         string
	token       string
	contentType string
	body        []byte
	header      map[string]string
}

func do(t *testing.T, c call) reply {
	t.Helper()
	return sendFrom(t, http.DefaultClient, c)
}

// sendFrom sends c with hc (a client may dial from a chosen address).
func sendFrom(t *testing.T, hc *http.Client, c call) reply {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	req, err := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// postJSON posts v as JSON with a token.
func postJSON(t *testing.T, url, token string, v any) reply {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, call{url: url, token: token, contentType: "application/json", body: b})
}

func token(t *testing.T, client string, scopes ...string) string {
	t.Helper()
	tok, err := h.Token(context.Background(), client, scopes...)
	if err != nil {
		t.Fatalf("token for %s: %v", client, err)
	}
	return tok
}

// assertProblem checks an error answer: status, problem+json with the
// contract's members and request id, and nothing internal or personal.
func assertProblem(t *testing.T, r reply, status int, forbidden ...string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	m := r.json(t)
	for _, k := range []string{"type", "title", "status", "request_id"} {
		if m[k] == nil || m[k] == "" {
			t.Errorf("problem lacks %s: %s", k, r.body)
		}
	}
	if m["request_id"] != r.header.Get("X-Request-Id") {
		t.Errorf("request_id %v differs from X-Request-Id %q", m["request_id"], r.header.Get("X-Request-Id"))
	}
	body := strings.ToUpper(string(r.body))
	for _, leak := range append([]string{"SQLSTATE", "SELECT ", "GOROUTINE", ".GO:", "127.0.0.1", "PGX", "DIAL TCP"}, forbidden...) {
		if leak != "" && strings.Contains(body, strings.ToUpper(leak)) {
			t.Errorf("error body leaks %q: %s", leak, r.body)
		}
	}
	return m
}

func decodeInto(t *testing.T, r reply, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer does not decode: %v: %s", err, r.body)
	}
}

// int64s runs a query of one bigint column on the test's database, for
// results computed independently of the functions.
func int64s(t *testing.T, sql string, args ...any) []int64 {
	t.Helper()
	rows, err := h.DB.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
