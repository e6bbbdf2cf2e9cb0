package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/test/harness"
)

// benchRateLimit measures what the rate limit costs a look-up: did-check
// through the gateway for a client registered with no limit (baseline)
// against one with a limit it never reaches, so every call spends from its
// budget in Redis (GCRA script) and carries the X-RateLimit-* headers.
func benchRateLimit(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	cs, err := demo.Provision(ctx, h.DB, []demo.Client{
		{ClientID: "bench-limiti-no", Org: "GEPI", Scopes: []string{"rdc:did:read"}, RateLimits: map[string]string{"*": "off"}},
		{ClientID: "bench-limiti-si", Org: "GEPI", Scopes: []string{"rdc:did:read"}, RateLimits: map[string]string{"did-check": "1000000/s:1000000"}},
	})
	if err != nil {
		return err
	}
	for _, c := range cs {
		h.Clients[c.ClientID] = c
	}
	off, err := h.Token(ctx, "bench-limiti-no")
	if err != nil {
		return err
	}
	on, err := h.Token(ctx, "bench-limiti-si")
	if err != nil {
		return err
	}
	_, bodies, err := lookupBodies(ctx, h, cfg.sample)
	if err != nil {
		return err
	}
	url := h.URL("did-check", "")
	base, subj := compare(ctx, "did-check, rate limits on (subject) against off (baseline)", cfg,
		func(i int) (*http.Request, error) { return jsonPost(url, off, bodies[i%len(bodies)]) },
		func(i int) (*http.Request, error) { return jsonPost(url, on, bodies[i%len(bodies)]) })
	fmt.Printf("  target: throughput with limits ≥ 0.95 of without\n\n")
	return check(base.errors == 0 && subj.errors == 0, "errors during the run: off %d, on %d", base.errors, subj.errors)
}
