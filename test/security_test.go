package test

// Black-box tests of the pipeline's defences (issue 11): scheduled calls,
// request ids, rate limits, failed logins, client addresses, revocation and
// body limits. Callers are told apart by the loopback address they dial
// from (127.0.0.2, 127.0.0.3, …): the local gateway appends it to
// X-Forwarded-For as the ingress of a deployment does.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rdc-interop/faas/infra/demo"
)

// from returns an HTTP client whose connections leave from addr.
func from(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
}

// provision registers a client of the test's own and returns it with its secret.
func provision(t *testing.T, c demo.Client) demo.Client {
	t.Helper()
	cs, err := demo.Provision(context.Background(), h.DB, []demo.Client{c})
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

// login asks for a token with client_secret_basic from hc.
func login(t *testing.T, hc *http.Client, id, secret string) reply {
	t.Helper()
	return sendFrom(t, hc, call{
		url: h.Issuer, contentType: "application/x-www-form-urlencoded",
		body:   []byte("grant_type=client_credentials"),
		header: map[string]string{"Authorization": "Basic " + basic(id, secret)},
	})
}

func basic(id, secret string) string {
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func accessToken(t *testing.T, r reply) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	decodeInto(t, r, &tok)
	return tok.AccessToken
}

func didCheckFrom(t *testing.T, hc *http.Client, tok string, header map[string]string) reply {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"codice_fiscale": h.Fixtures.DidAttiva[0]})
	return sendFrom(t, hc, call{url: h.URL("did-check", "/"), token: tok, contentType: "application/json", body: body, header: header})
}

// TestScheduledCallRunsOncePerSlot: anyone can send the cron-connector's
// header, so the call only wakes the job, which runs once per slot of its
// schedule; every other call for the slot changes nothing.
func TestScheduledCallRunsOncePerSlot(t *testing.T) {
	for _, fn := range []string{"apl-offers", "transfer-to-cpi"} {
		t.Run(fn, func(t *testing.T) {
			const calls = 6
			replies := make([]reply, calls)
			var wg sync.WaitGroup
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					replies[i] = do(t, call{url: h.URL(fn, "/"), header: map[string]string{"X-Connector": "cron-connector"}})
				}()
			}
			wg.Wait()
			ran := map[string]int{}
			idle := map[string]int{}
			for _, r := range replies {
				if r.status != http.StatusOK {
					t.Fatalf("scheduled call: %d %s", r.status, r.body)
				}
				slot := r.header.Get("X-Cron-Slot")
				if _, err := time.Parse(time.RFC3339, slot); err != nil {
					t.Fatalf("X-Cron-Slot %q: %v", slot, err)
				}
				var a struct {
					Eseguito *bool `json:"eseguito"`
				}
				decodeInto(t, r, &a)
				if a.Eseguito != nil && !*a.Eseguito {
					idle[slot]++
				} else {
					ran[slot]++
				}
			}
			for slot, n := range ran {
				if n != 1 {
					t.Errorf("slot %s ran %d times", slot, n)
				}
			}
			for slot := range idle {
				var n int
				if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM cron_run WHERE funzione = $1 AND turno = $2`, fn, slot).Scan(&n); err != nil || n != 1 {
					t.Errorf("slot %s: %d claims (%v), want 1", slot, n, err)
				}
			}
			if len(idle) == 0 {
				t.Errorf("no call was a no-op: %d calls ran in %d slots", calls, len(ran))
			}
		})
	}
	t.Run("a token makes it an ordinary call", func(t *testing.T) {
		r := do(t, call{url: h.URL("apl-offers", "/"), header: map[string]string{"X-Connector": "cron-connector", "Authorization": "Bearer forged"}})
		assertProblem(t, r, http.StatusUnauthorized)
		if r.header.Get("X-Cron-Slot") != "" {
			t.Error("a call with a token was taken as scheduled")
		}
	})
	t.Run("an unscheduled function has no scheduled path", func(t *testing.T) {
		r := do(t, call{url: h.URL("did-check", "/"), header: map[string]string{"X-Connector": "cron-connector"}})
		assertProblem(t, r, http.StatusUnauthorized)
	})
}

// TestRequestIDNeverCarriesACode: a codice fiscale sent as X-Request-Id is
// replaced, so it is neither echoed nor stored in the audit trail.
func TestRequestIDNeverCarriesACode(t *testing.T) {
	tok := token(t, "gepi")
	code := h.Fixtures.DidAttiva[1]
	for _, id := range []string{code, strings.ToLower(code), "req-" + code + "-1", "ABCDEF12G34H567I"} {
		r := didCheckFrom(t, http.DefaultClient, tok, map[string]string{"X-Request-Id": id})
		if r.status != http.StatusOK {
			t.Fatalf("did-check: %d %s", r.status, r.body)
		}
		got := r.header.Get("X-Request-Id")
		if got == id || strings.Contains(strings.ToUpper(got), strings.ToUpper(code)) {
			t.Errorf("request id %q kept", id)
		}
		var n int
		if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE upper(request_id) LIKE '%' || upper($1) || '%'`, code).Scan(&n); err != nil || n != 0 {
			t.Errorf("audit_log holds the code in %d request ids (%v)", n, err)
		}
	}
	opaque := "gepi-2026-000123"
	if r := didCheckFrom(t, http.DefaultClient, tok, map[string]string{"X-Request-Id": opaque}); r.header.Get("X-Request-Id") != opaque {
		t.Errorf("an opaque request id was replaced by %q", r.header.Get("X-Request-Id"))
	}
}

// TestRateLimitPerClientAndFunction: every answer says the budget; past it,
// 429 problem+json with Retry-After; another function's budget is its own.
func TestRateLimitPerClientAndFunction(t *testing.T) {
	c := provision(t, demo.Client{ClientID: "gepi-limitato", Org: "GEPI", Scopes: []string{"rdc:did:read", "rdc:patto:read"},
		RateLimits: map[string]string{"did-check": "5/m:5"}})
	tok := accessToken(t, login(t, http.DefaultClient, c.ClientID, c.ClientSecret))
	for i := range 5 {
		r := didCheckFrom(t, http.DefaultClient, tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i+1, r.status, r.body)
		}
		if r.header.Get("X-RateLimit-Limit") != "5" || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(4-i) || r.header.Get("X-RateLimit-Reset") == "" {
			t.Errorf("call %d: X-RateLimit-Limit %q Remaining %q Reset %q", i+1, r.header.Get("X-RateLimit-Limit"),
				r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset"))
		}
	}
	before := auditCount(t, "gepi-limitato")
	r := didCheckFrom(t, http.DefaultClient, tok, nil)
	assertProblem(t, r, http.StatusTooManyRequests, h.Fixtures.DidAttiva[0])
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("X-RateLimit-Remaining %q on a 429", r.header.Get("X-RateLimit-Remaining"))
	}
	if auditCount(t, "gepi-limitato") != before {
		t.Error("a refused call reached the look-up")
	}
	body, _ := json.Marshal(map[string]string{"codice_fiscale": h.Fixtures.PattoAttivo[0]})
	p := do(t, call{url: h.URL("patto-check", "/"), token: tok, contentType: "application/json", body: body})
	if p.status != http.StatusOK || p.header.Get("X-RateLimit-Limit") == "" || p.header.Get("X-RateLimit-Limit") == "5" {
		t.Errorf("patto-check (default budget): %d, X-RateLimit-Limit %q", p.status, p.header.Get("X-RateLimit-Limit"))
	}
}

// TestRateLimitWithoutRedis: with Redis down every process limits on its
// own, with the same budget: answers go on, and so do the limits.
func TestRateLimitWithoutRedis(t *testing.T) {
	c := provision(t, demo.Client{ClientID: "gepi-senza-redis", Org: "GEPI", Scopes: []string{"rdc:did:read"},
		RateLimits: map[string]string{"did-check": "3/m:3"}})
	tok := accessToken(t, login(t, http.DefaultClient, c.ClientID, c.ClientSecret))
	h.Redis.Cut()
	defer waitForSharedLimits(t)
	defer h.Redis.Restore()
	for i := range 3 {
		r := didCheckFrom(t, http.DefaultClient, tok, nil)
		if r.status != http.StatusOK || r.header.Get("X-RateLimit-Limit") != "3" {
			t.Fatalf("call %d with Redis down: %d %s (X-RateLimit-Limit %q)", i+1, r.status, r.body, r.header.Get("X-RateLimit-Limit"))
		}
	}
	assertProblem(t, didCheckFrom(t, http.DefaultClient, tok, nil), http.StatusTooManyRequests)
}

// waitForSharedLimits waits until the functions count budgets in Redis
// again after an outage (they retry it every 2 s), so that the next test
// does not count some calls in Redis and some in the process.
func waitForSharedLimits(t *testing.T) {
	t.Helper()
	opts, err := redis.ParseURL(h.Config.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	c := provision(t, demo.Client{ClientID: "gepi-sonda", Org: "GEPI", Scopes: []string{"rdc:did:read"}, RateLimits: map[string]string{"did-check": "1000/s:19"}}) // a burst under 20: counted call by call, never leased
	tok := accessToken(t, login(t, http.DefaultClient, c.ClientID, c.ClientSecret))
	key := "rate:" + h.Config.RedisPrefix + "rl:client:did-check:" + c.ClientID
	eventually(t, 30*time.Second, "rate limits shared in Redis again", func() bool {
		rdb.Del(context.Background(), key)
		didCheckFrom(t, http.DefaultClient, tok, nil)
		n, err := rdb.Exists(context.Background(), key).Result()
		return err == nil && n == 1
	})
}

func auditCount(t *testing.T, client string) int {
	t.Helper()
	var n int
	if err := h.DB.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE client_id = $1`, client).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFailedLoginsAreLimited: after too many failures a client id, and an
// address, get 429 before any secret is checked; an untouched client from
// another address is served.
func TestFailedLoginsAreLimited(t *testing.T) {
	c := provision(t, demo.Client{ClientID: "gepi-tentativi", Org: "GEPI", Scopes: []string{"rdc:did:read"}})
	hc := from("127.0.0.2")
	refused := 0
	for i := range 12 {
		r := login(t, hc, c.ClientID, "wrong-"+strconv.Itoa(i))
		switch r.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused++
			assertProblem(t, r, http.StatusTooManyRequests)
			if r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Fatalf("failed login %d: %d %s", i, r.status, r.body)
		}
	}
	if refused != 2 {
		t.Errorf("%d of 12 failed logins refused, want the 2 past the budget of 10", refused)
	}
	// The right secret waits too, now: guessing has been stopped for this id.
	assertProblem(t, login(t, hc, c.ClientID, c.ClientSecret), http.StatusTooManyRequests)
	// Another client from another address is not affected.
	accessToken(t, login(t, http.DefaultClient, h.Clients["gepi"].ClientID, h.Clients["gepi"].ClientSecret))

	// Per address: unknown ids from one address, each a first try, are
	// stopped once the address's budget of 60 is spent.
	hc = from("127.0.0.4")
	stopped := 0
	for i := 0; i < 120 && stopped == 0; i++ {
		switch r := login(t, hc, fmt.Sprintf("ignoto-%d", i), "x"); r.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			stopped = i + 1
		default:
			t.Fatalf("failed login %d from one address: %d %s", i, r.status, r.body)
		}
	}
	if stopped < 60 {
		t.Fatalf("failures from one address stopped at %d, want past the budget of 60", stopped)
	}
	accessToken(t, login(t, from("127.0.0.5"), h.Clients["anpal"].ClientID, h.Clients["anpal"].ClientSecret))
}

// TestAllowedAddresses: a client registered for some addresses gets tokens
// and answers only from them; a forged X-Forwarded-For does not help.
func TestAllowedAddresses(t *testing.T) {
	c := provision(t, demo.Client{ClientID: "gepi-rete", Org: "GEPI", Scopes: []string{"rdc:did:read"}, AllowedCIDRs: []string{"127.0.0.3/32"}})
	allowed := from("127.0.0.3")
	assertProblem(t, login(t, http.DefaultClient, c.ClientID, c.ClientSecret), http.StatusForbidden)
	tok := accessToken(t, login(t, allowed, c.ClientID, c.ClientSecret))
	if r := didCheckFrom(t, allowed, tok, nil); r.status != http.StatusOK {
		t.Fatalf("from the allowed address: %d %s", r.status, r.body)
	}
	assertProblem(t, didCheckFrom(t, http.DefaultClient, tok, nil), http.StatusForbidden)
	spoof := map[string]string{"X-Forwarded-For": "127.0.0.3"}
	assertProblem(t, didCheckFrom(t, http.DefaultClient, tok, spoof), http.StatusForbidden)
	assertProblem(t, sendFrom(t, http.DefaultClient, call{
		url: h.Issuer, contentType: "application/x-www-form-urlencoded", body: []byte("grant_type=client_credentials"),
		header: map[string]string{"Authorization": "Basic " + basic(c.ClientID, c.ClientSecret), "X-Forwarded-For": "127.0.0.3"},
	}), http.StatusForbidden)
}

// TestDisabledClientStopsAtOnce: disabling a client, or the branch an
// agency's client acts for, stops its tokens within seconds on every
// replica (a notice, not a cache expiry).
func TestDisabledClientStopsAtOnce(t *testing.T) {
	ctx := context.Background()
	c := provision(t, demo.Client{ClientID: "gepi-revoca", Org: "GEPI", Scopes: []string{"rdc:did:read"}})
	tok := accessToken(t, login(t, http.DefaultClient, c.ClientID, c.ClientSecret))
	if r := didCheckFrom(t, http.DefaultClient, tok, nil); r.status != http.StatusOK {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	if _, err := h.DB.Exec(ctx, `UPDATE oauth_client SET abilitato = false WHERE client_id = $1`, c.ClientID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 30*time.Second, "a disabled client refused", func() bool {
		return didCheckFrom(t, http.DefaultClient, tok, nil).status == http.StatusUnauthorized
	})
	t.Logf("refused %s after being disabled", time.Since(start).Round(time.Millisecond))
	assertProblem(t, login(t, http.DefaultClient, c.ClientID, c.ClientSecret), http.StatusUnauthorized)

	// A branch of its own, so that no other test loses it.
	if _, err := h.DB.Exec(ctx, `INSERT INTO apl_filiale (codice, apl_id, denominazione) VALUES ('1001-TS99', '1001', 'Filiale di prova') ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	op := provision(t, demo.Client{ClientID: "apl-1001-revoca", Org: "APL:1001", AplRuolo: "operatore", Filiali: []string{"1001-TS99"},
		Scopes: []string{"apl:candidature"}})
	atok := accessToken(t, login(t, http.DefaultClient, op.ClientID, op.ClientSecret))
	interests := func() int {
		return do(t, call{method: http.MethodGet, url: h.URL("apl-interests", "/"), token: atok}).status
	}
	if s := interests(); s != http.StatusOK {
		t.Fatalf("branch enabled: %d", s)
	}
	if _, err := h.DB.Exec(ctx, `UPDATE apl_filiale SET abilitata = false WHERE codice = '1001-TS99'`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a disabled branch refused", func() bool { return interests() == http.StatusForbidden })
}

// TestBodyLimits: an oversized body is 413 however it is framed, and a
// caller that stalls its body is cut off at the function's read_timeout.
func TestBodyLimits(t *testing.T) {
	tok := token(t, "apl-1001-master")
	big := strings.Repeat(" ", 2<<20)
	for _, fn := range []string{"apl-daily-report", "did-check", "transfer-to-cpi"} {
		// An io.Reader of unknown length goes chunked.
		req, _ := http.NewRequest(http.MethodPost, h.URL(fn, "/"), io.MultiReader(strings.NewReader(`{"data":"`), strings.NewReader(big), strings.NewReader(`"}`)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.TransferEncoding = []string{"chunked"}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if fn == "apl-daily-report" {
			assertProblem(t, reply{status: resp.StatusCode, header: resp.Header, body: b}, http.StatusRequestEntityTooLarge)
		} else if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusForbidden {
			// Without the scope the call may stop at 403 before the body.
			t.Errorf("%s: chunked oversized body: %d %s", fn, resp.StatusCode, b)
		}
	}

	t.Run("stalled body", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.BaseURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /function/did-check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"codice")
		start := time.Now()
		_ = conn.SetReadDeadline(time.Now().Add(25 * time.Second))
		_, err = io.ReadAll(conn) // ends when the server closes the connection
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the connection was still open after %s", time.Since(start).Round(time.Second))
		}
		t.Logf("stalled body cut off after %s", time.Since(start).Round(100*time.Millisecond))
	})
}

// fireScheduled makes fn's job due again, as if its slot had not run (the
// slot's claim is removed), and calls it as the cron-connector does. A call
// that finds the slot taken meanwhile (the gateway's own schedule) is
// repeated.
func fireScheduled(t *testing.T, fn string) reply {
	t.Helper()
	for range 20 {
		if _, err := h.DB.Exec(context.Background(), `DELETE FROM cron_run WHERE funzione = $1`, fn); err != nil {
			t.Fatal(err)
		}
		r := do(t, call{url: h.URL(fn, ""), header: map[string]string{"X-Connector": "cron-connector"}})
		if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"eseguito":false`)) {
			return r
		}
	}
	t.Fatalf("%s: every scheduled call found its slot taken", fn)
	return reply{}
}

// TestTokenEndpointRefusesControlCharacters: a NUL in a client id is bad
// input (400, or 401 inside Basic), never a 500 from PostgreSQL.
func TestTokenEndpointRefusesControlCharacters(t *testing.T) {
	form := "grant_type=client_credentials&client_id=gepi%00x&client_secret=x"
	r := do(t, call{url: h.Issuer, contentType: "application/x-www-form-urlencoded", body: []byte(form)})
	assertProblem(t, r, http.StatusBadRequest)
	assertProblem(t, login(t, http.DefaultClient, "gepi\x00x", "x"), http.StatusUnauthorized)
}
