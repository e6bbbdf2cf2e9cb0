package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rdc-interop/faas/shared/auditlog"
	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/test/harness"
)

// benchAuditLog is the audit log's cost (docs/audit-log.md): did-check with
// the Merkle log on (the sequencer's index on audit_log, and a head signed
// every second, sixty times production's minute: the hard case) against the
// same look-ups with plain audit records (the index dropped, nothing
// sequenced), in alternating rounds of one run. At the end, the whole log
// is verified as audit-verify would, and its time printed.
func benchAuditLog(ctx context.Context, h *harness.Harness, cfg loadConfig) error {
	_, bodies, err := lookupBodies(ctx, h, cfg.sample)
	if err != nil {
		return err
	}
	tok, err := h.Token(ctx, "gepi")
	if err != nil {
		return err
	}
	// The function's own key: its cron job signs heads of this log too.
	pem, err := os.ReadFile(filepath.Join(h.SecretsDir, "audit-log-signing-keys"))
	if err != nil {
		return err
	}
	keys, err := auth.ParseTreeHeadKeys(pem)
	if err != nil {
		return err
	}
	log := auditlog.New(h.DB, keys)
	// The trail so far (the data set's, earlier benchmarks') goes into the
	// log first, so the rounds sequence only what they write.
	if _, err := log.Publish(ctx); err != nil {
		return err
	}
	url := h.URL("did-check", "")
	req := func(i int) (*http.Request, error) { return jsonPost(url, tok, bodies[i%len(bodies)]) }

	plain := func() error {
		_, err := h.DB.Exec(ctx, `DROP INDEX IF EXISTS audit_log_xid_idx`)
		return err
	}
	var heads, publishErrs int
	var spent time.Duration
	merkle := func() (stop func(), err error) {
		if _, err := h.DB.Exec(ctx, `CREATE INDEX IF NOT EXISTS audit_log_xid_idx ON audit_log (xid, id)`); err != nil {
			return nil, err
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					t := time.Now()
					if _, err := log.Publish(ctx); err != nil {
						publishErrs++
						continue
					}
					heads++
					spent += time.Since(t)
				}
			}
		})
		return func() { close(done); wg.Wait() }, nil
	}
	defer h.DB.Exec(ctx, `CREATE INDEX IF NOT EXISTS audit_log_xid_idx ON audit_log (xid, id)`) //nolint:errcheck // as the migration left it

	client := newClient(cfg.concurrency)
	// Long enough for the look-ups' caches to hold the sample, which the
	// first round would otherwise fill for everyone after it.
	load(ctx, client, cfg.concurrency, cfg.duration, req)
	var bs, ss []result
	roundPlain := func() error {
		if err := plain(); err != nil {
			return err
		}
		bs = append(bs, load(ctx, client, cfg.concurrency, cfg.duration, req))
		return nil
	}
	roundMerkle := func() error {
		stop, err := merkle()
		if err != nil {
			return err
		}
		ss = append(ss, load(ctx, client, cfg.concurrency, cfg.duration, req))
		stop()
		return nil
	}
	// Each goes first in every other round: the trail grows through the
	// run, and neither should always meet the larger table.
	for i := range cfg.rounds {
		first, second := roundPlain, roundMerkle
		if i%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	base, subj := merge(bs), merge(ss)
	fmt.Printf("audit-log: did-check with plain audit records, then with the Merkle log on (%d connections, %d × %s rounds each)\n",
		cfg.concurrency, cfg.rounds, cfg.duration)
	fmt.Printf("  %-12s %10s %10s %10s %8s\n", "", "req/s", "p50", "p99", "errors")
	for _, row := range []struct {
		label string
		r     result
	}{{"plain audit", base}, {"merkle log", subj}} {
		fmt.Printf("  %-12s %10.0f %10s %10s %8d\n", row.label, row.r.rps(), row.r.pct(0.50).Round(time.Microsecond), row.r.pct(0.99).Round(time.Microsecond), row.r.errors)
	}
	headline("audit-log: did-check with the Merkle log on, of plain audit", subj.rps()/base.rps())
	fmt.Printf("  ratio        throughput %.2f of plain audit, p99 %.2f×\n", subj.rps()/base.rps(), float64(subj.pct(0.99))/float64(base.pct(0.99)))
	if heads > 0 {
		fmt.Printf("  heads signed during the Merkle rounds: %d (one a second), %.1f ms each on average, %d failed\n",
			heads, float64(spent.Microseconds())/1000/float64(heads), publishErrs)
	}
	final, err := log.Publish(ctx)
	if err != nil {
		return err
	}
	t := time.Now()
	rep, err := auditlog.Verify(ctx, h.DB, keys.PublicJWKS(), 0, 0)
	if err != nil {
		return err
	}
	fmt.Printf("  the whole log verified from its records: %d leaves in %.1fs (%.0f leaves/s), %d heads, %d problems\n",
		final.Size, time.Since(t).Seconds(), float64(final.Size)/time.Since(t).Seconds(), rep.Heads, len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Printf("  problem: %s leaf %d: %s\n", p.Kind, p.Leaf, p.Detail)
	}
	fmt.Printf("  target: throughput ≥ 0.90 of plain audit\n\n")
	return check(base.errors == 0 && subj.errors == 0 && publishErrs == 0 && rep.OK(),
		"errors: plain %d, merkle %d, heads failed %d, verification problems %d", base.errors, subj.errors, publishErrs, len(rep.Problems))
}
