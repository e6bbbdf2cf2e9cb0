// Command bench measures the exchanges against baselines measured in the same
// run, on the same database and data set, and prints ratios: these machines
// are shared and noisy, so only ratios within one run mean anything.
//
// It runs under `make bench`, which provides the services (devstack test).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/rdc-interop/faas/test/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	persons := flag.Int("persons", 1_000_000, "synthetic persons in the data set")
	duration := flag.Duration("duration", 10*time.Second, "duration of each measured round")
	rounds := flag.Int("rounds", 2, "rounds per subject, alternating with the baseline")
	conc := flag.Int("c", 32, "concurrent connections")
	only := flag.String("only", "", "comma-separated benchmarks to run (default all): did-check, patto-check, did-holder-exclusion, audit-log, tracking, rate-limit, transfer-to-cpi, conditionality-events, equipe-coordination, anonymised-export, apl-offers, apl-offers-list, apl-interests, apl-daily-report, feed-file, feed-incremental, feed-lookups, audit-queries")
	sample := flag.Int("sample", 20000, "persons the look-ups are drawn from; as many as the data set gives a cold cache")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (load generator, gateway and baselines share this process)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx := context.Background()
	start := time.Now()
	h, err := harness.Start(ctx, harness.Options{Persons: *persons})
	if err != nil {
		return err
	}
	defer h.Close()
	fmt.Printf("data set: %d persons, loaded and served in %.1fs\n\n", *persons, time.Since(start).Seconds())

	cfg := loadConfig{duration: *duration, rounds: *rounds, concurrency: *conc, sample: *sample}
	ok := true
	for _, b := range benchmarks {
		if *only != "" && !strings.Contains(","+*only+",", ","+b.name+",") {
			continue
		}
		if err := b.run(ctx, h, cfg); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", b.name, err)
			ok = false
		}
	}
	if !ok {
		return errors.New("a benchmark failed (above)")
	}
	return nil
}

var benchmarks = []struct {
	name string
	run  func(context.Context, *harness.Harness, loadConfig) error
}{
	{"did-check", benchLookup("did-check", "gepi")},
	{"patto-check", benchLookup("patto-check", "gepi")},
	{"did-holder-exclusion", benchLookup("did-holder-exclusion", "anpal")},
	{"audit-log", benchAuditLog},
	{"tracking", benchTracking},
	{"rate-limit", benchRateLimit},
	{"transfer-to-cpi", benchTransfer},
	{"conditionality-events", benchConditionality},
	{"equipe-coordination", benchEquipe},
	{"anonymised-export", benchExport},
	{"apl-offers", benchOffersBulk},
	{"apl-offers-list", benchOffersList},
	{"apl-interests", benchInterestsList},
	{"apl-daily-report", benchDailyReport},
	{"feed-file", benchFeedFile},
	{"feed-incremental", benchFeedIncremental},
	{"feed-lookups", benchFeedLookups},
	{"audit-queries", benchAuditQueries},
}
