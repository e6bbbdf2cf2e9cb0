package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rdc-interop/faas/infra/demo"
	"github.com/rdc-interop/faas/test/harness"
)

// benchTracking compares did-check called by GePI's operators, each call
// with its operator's tracking evidence (verified, stored with the audit
// record), with the same look-ups by GePI's system client without one.
// The easy case is what a platform does: an operator's evidence is sent on
// every call of their session (here 200 operators). The hard case signs a
// new evidence for every call, so each is verified afresh.
func benchTracking(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	_, bodies, err := lookupBodies(ctx, h, cfg.sample)
	if err != nil {
		return err
	}
	plain, err := h.Token(ctx, "gepi")
	if err != nil {
		return err
	}
	tracked, err := h.Token(ctx, "gepi-operatori")
	if err != nil {
		return err
	}
	sign := func(i int) (string, error) {
		return h.Evidence("gepi-operatori", demo.Operator{UserID: fmt.Sprintf("OPR%05d", i), Location: "ATS-Bench", LoA: "LoA3", Role: "CASE_MANAGER"})
	}
	sessions := make([]string, 200)
	for i := range sessions {
		if sessions[i], err = sign(i); err != nil {
			return err
		}
	}
	fresh := make([]string, 60_000)
	for i := range fresh {
		if fresh[i], err = sign(len(sessions) + i); err != nil {
			return err
		}
	}
	url := h.URL("did-check", "")
	with := func(evidences []string) request {
		return func(i int) (*http.Request, error) {
			req, err := jsonPost(url, tracked, bodies[i%len(bodies)])
			if err == nil {
				req.Header.Set("Agid-JWT-TrackingEvidence", evidences[i%len(evidences)])
			}
			return req, err
		}
	}
	without := func(i int) (*http.Request, error) { return jsonPost(url, plain, bodies[i%len(bodies)]) }

	var named0 int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE operatore_id IS NOT NULL`).Scan(&named0); err != nil {
		return err
	}
	b1, s1 := compare(ctx, "did-check with tracking evidence, an evidence per operator session (baseline: the same look-ups without)", cfg, without, with(sessions))
	b2, s2 := compare(ctx, "did-check with tracking evidence, a new evidence on every call (hard case; the pool repeats after 60,000 calls)", cfg, without, with(fresh))
	var named int64
	if err := h.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE operatore_id IS NOT NULL`).Scan(&named); err != nil {
		return err
	}
	fmt.Printf("  audit records naming an operator written during the runs: %d\n", named-named0)
	fmt.Printf("  target: throughput with evidence ≥ 0.90 of without (session case)\n\n")
	return check(b1.errors+s1.errors+b2.errors+s2.errors == 0, "errors during the run: %d %d %d %d", b1.errors, s1.errors, b2.errors, s2.errors)
}
