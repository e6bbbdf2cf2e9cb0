package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type loadConfig struct {
	duration    time.Duration
	rounds      int
	concurrency int
	sample      int // persons the hot look-ups are drawn from
	persons     int // in the data set
}

// result of one closed-loop load round.
type result struct {
	requests int
	errors   int
	elapsed  time.Duration
	lat      []time.Duration
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

func merge(rs []result) result {
	var out result
	for _, r := range rs {
		out.requests += r.requests
		out.errors += r.errors
		out.elapsed += r.elapsed
		out.lat = append(out.lat, r.lat...)
	}
	slices.Sort(out.lat)
	return out
}

// request builds the i-th request of a round.
type request func(i int) (*http.Request, error)

// load runs a closed loop of c workers for d, each sending the next request as
// soon as the previous answer is read; a non-2xx answer counts as an error.
func load(ctx context.Context, client *http.Client, c int, d time.Duration, next request) result {
	var (
		seq   atomic.Int64
		mu    sync.Mutex
		all   []time.Duration
		errs  atomic.Int64
		wg    sync.WaitGroup
		start = time.Now()
	)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				req, err := next(int(seq.Add(1)))
				if err != nil {
					errs.Add(1)
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req.WithContext(context.WithoutCancel(ctx)))
				if err != nil {
					errs.Add(1)
					continue
				}
				_, copyErr := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if copyErr != nil || resp.StatusCode/100 != 2 {
					errs.Add(1)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	return result{requests: len(all), errors: int(errs.Load()), elapsed: time.Since(start), lat: all}
}

func newClient(c int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: c * 2, MaxIdleConnsPerHost: c * 2, MaxConnsPerHost: c}}
}

func jsonPost(url, token string, body []byte) (*http.Request, error) {
	// The load loop gives each request its context (req.WithContext).
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// compare alternates baseline and subject rounds (so drift in the machine's
// load hits both) and prints throughput, p50, p99 and the ratios.
func compare(ctx context.Context, name string, cfg loadConfig, baseline, subject request) (base, subj result) {
	client := newClient(cfg.concurrency)
	// warm-up: connections, caches, JIT-less but page cache and pools
	load(ctx, client, cfg.concurrency, 2*time.Second, baseline)
	load(ctx, client, cfg.concurrency, 2*time.Second, subject)
	var bs, ss []result
	for range cfg.rounds {
		bs = append(bs, load(ctx, client, cfg.concurrency, cfg.duration, baseline))
		ss = append(ss, load(ctx, client, cfg.concurrency, cfg.duration, subject))
	}
	base, subj = merge(bs), merge(ss)
	fmt.Printf("%s (%d connections, %d × %s rounds each)\n", name, cfg.concurrency, cfg.rounds, cfg.duration)
	fmt.Printf("  %-10s %10s %10s %10s %8s\n", "", "req/s", "p50", "p99", "errors")
	for _, row := range []struct {
		label string
		r     result
	}{{"baseline", base}, {"function", subj}} {
		fmt.Printf("  %-10s %10.0f %10s %10s %8d\n", row.label, row.r.rps(), row.r.pct(0.50).Round(time.Microsecond), row.r.pct(0.99).Round(time.Microsecond), row.r.errors)
	}
	headline(name, subj.rps()/base.rps())
	fmt.Printf("  ratio      throughput %.2f of baseline, p50 %.2f×, p99 %.2f×\n\n",
		subj.rps()/base.rps(), float64(subj.pct(0.5))/float64(base.pct(0.5)), float64(subj.pct(0.99))/float64(base.pct(0.99)))
	return base, subj
}

func check(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}
