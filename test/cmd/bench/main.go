// Command bench measures the exchanges against baselines measured in the same
// run, on the same database and data set, and prints ratios: these machines
// are shared and noisy, so only ratios within one run mean anything.
//
// It runs under `make bench`, which provides the services (devstack test).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
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
	persons := flag.String("persons", "1000000", "synthetic persons in the data set; several sizes, comma-separated, run every benchmark at each and end with one table")
	duration := flag.Duration("duration", 10*time.Second, "duration of each measured round")
	rounds := flag.Int("rounds", 2, "rounds per subject, alternating with the baseline")
	conc := flag.Int("c", 32, "concurrent connections")
	only := flag.String("only", "", "comma-separated benchmarks to run (default all): did-check, patto-check, did-holder-exclusion, audit-log, tracking, rate-limit, transfer-to-cpi, conditionality-events, equipe-coordination, anonymised-export, apl-offers, apl-offers-list, apl-interests, apl-citizens, apl-daily-report, feed-file, feed-incremental, feed-lookups, audit-queries")
	sample := flag.Int("sample", 20000, "persons the hot look-ups are drawn from (the cold ones from the whole data set)")
	figuresOut := flag.String("figures", "", "write the headline figures to this JSON file (how a run of several -persons sizes gathers each size's)")
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

	var sizes []int
	for _, f := range strings.Split(*persons, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1000 {
			return fmt.Errorf("-persons: %q is not a size of at least 1000", f)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) > 1 {
		// One process per size: the functions build their dependencies once
		// per process, as in a deployment, so a second data set needs a
		// second process. Each child writes its figures for the table.
		err := runSizes(sizes)
		printGrowth(sizes)
		return err
	}
	cfg := loadConfig{duration: *duration, rounds: *rounds, concurrency: *conc, sample: *sample, persons: sizes[0]}
	err := runSize(cfg, *only)
	if *figuresOut != "" {
		if werr := writeFigures(*figuresOut); werr != nil {
			return werr
		}
	} else {
		printGrowth(sizes)
	}
	return err
}

// runSizes runs this command again once per size, with the same flags, and
// gathers the figures each run wrote.
func runSizes(sizes []int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-figures-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var failed []string
	for _, n := range sizes {
		out := filepath.Join(dir, strconv.Itoa(n)+".json")
		args := []string{"-persons", strconv.Itoa(n), "-figures", out}
		flag.Visit(func(f *flag.Flag) {
			if f.Name != "persons" && f.Name != "figures" && f.Name != "cpuprofile" {
				args = append(args, "-"+f.Name+"="+f.Value.String())
			}
		})
		cmd := exec.CommandContext(context.Background(), self, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			failed = append(failed, fmt.Sprintf("%d persons (%v)", n, err))
		}
		b, err := os.ReadFile(out)
		if err != nil {
			continue // the child failed before writing: said above
		}
		var fs []figure
		if err := json.Unmarshal(b, &fs); err != nil {
			return fmt.Errorf("figures at %d persons: %w", n, err)
		}
		figures = append(figures, fs...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed at %s", strings.Join(failed, ", "))
	}
	return nil
}

func writeFigures(path string) error {
	b, err := json.Marshal(figures)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// runSize runs the benchmarks on a data set of cfg.persons persons.
func runSize(cfg loadConfig, only string) error {
	ctx := context.Background()
	start := time.Now()
	h, err := harness.Start(ctx, harness.Options{Persons: cfg.persons, Direct: true})
	if err != nil {
		return err
	}
	defer h.Close()
	fmt.Printf("data set: %d persons, loaded and served in %.1fs\n\n", cfg.persons, time.Since(start).Seconds())
	var failed []string
	for _, b := range benchmarks {
		if only != "" && !strings.Contains(","+only+",", ","+b.name+",") {
			continue
		}
		// The peak is counted above the heap the benchmark starts on: what
		// earlier benchmarks left (the look-ups' caches, say) is not its own.
		n0, before := len(figures), heapInUse()
		_, peak, err := withPeakHeap(func() error { return b.run(ctx, h, cfg) })
		for i := n0; i < len(figures); i++ {
			figures[i].Persons, figures[i].Peak = cfg.persons, peak-min(peak, before)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", b.name, err)
			failed = append(failed, b.name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("at %d persons, failed: %s", cfg.persons, strings.Join(failed, ", "))
	}
	return nil
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// figure is one headline ratio of a benchmark at one size, with the peak
// heap of the process while the benchmark ran.
type figure struct {
	Label   string  `json:"label"`
	Ratio   float64 `json:"ratio"`
	Persons int     `json:"persons"`
	Peak    uint64  `json:"peak"`
}

// figures are the run's headline ratios, in the order they were measured.
var figures []figure

// headline records a benchmark's headline ratio for the table that ends
// the run; label names it the same way at every size.
func headline(label string, ratio float64) {
	figures = append(figures, figure{Label: label, Ratio: ratio})
}

// printGrowth prints every headline ratio and peak heap per size, and, with
// two sizes or more, how much each ratio changed from the first to the last.
func printGrowth(sizes []int) {
	if len(figures) == 0 {
		return
	}
	type row struct {
		label string
		at    map[int]figure
	}
	var rows []*row
	byLabel := map[string]*row{}
	for _, f := range figures {
		r := byLabel[f.Label]
		if r == nil {
			r = &row{label: f.Label, at: map[int]figure{}}
			byLabel[f.Label] = r
			rows = append(rows, r)
		}
		r.at[f.Persons] = f
	}
	fmt.Printf("headline ratios and peak heap (above the start), per data set size\n")
	fmt.Printf("  %-58s", "")
	for _, n := range sizes {
		fmt.Printf(" %18s", fmt.Sprintf("%d persons", n))
	}
	if len(sizes) > 1 {
		fmt.Printf(" %9s", "change")
	}
	fmt.Println()
	first, last := sizes[0], sizes[len(sizes)-1]
	for _, r := range rows {
		fmt.Printf("  %-58s", r.label)
		for _, n := range sizes {
			if f, ok := r.at[n]; ok {
				fmt.Printf(" %7.2f %6.0f MiB", f.Ratio, mib(f.Peak))
			} else {
				fmt.Printf(" %18s", "-")
			}
		}
		a, okA := r.at[first]
		b, okB := r.at[last]
		if len(sizes) > 1 && okA && okB && a.Ratio != 0 {
			change := 100 * (b.Ratio - a.Ratio) / a.Ratio
			fmt.Printf(" %+8.0f%%", change)
			// The target: no ratio worse by more than 10% at the larger size.
			if worse := change < -10 || (strings.Contains(r.label, "×") && change > 10); worse {
				fmt.Printf("  worse by more than 10%%")
			}
		}
		fmt.Println()
	}
	fmt.Printf("  ratios are the benchmark's headline (throughput: higher is better; × a time: lower is better);\n")
	fmt.Printf("  the peak heap is the whole process's (gateway, functions, load generator) while that benchmark ran,\n")
	fmt.Printf("  above the heap in use when it started\n\n")
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
	{"apl-citizens", benchCitizens},
	{"apl-daily-report", benchDailyReport},
	{"feed-file", benchFeedFile},
	{"feed-incremental", benchFeedIncremental},
	{"feed-lookups", benchFeedLookups},
	{"audit-queries", benchAuditQueries},
}
