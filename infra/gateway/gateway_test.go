package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdc-interop/faas/infra/stackfile"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func serve(t *testing.T, g *Gateway) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestRoutingAndSubPaths(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery) // a failed write shows as the client's error
	})
	base := serve(t, New([]Function{{Name: "echo", Handler: echo}}, quiet()))
	tests := []struct {
		path, want string
		status     int
	}{
		{"/function/echo", "GET /?", 200},
		{"/function/echo/", "GET /?", 200},
		{"/function/echo/exports/42/download?x=1", "GET /exports/42/download?x=1", 200},
		{"/function/nope", "", 404},
		{"/elsewhere", "", 404},
		{"/healthz", "OK", 200},
	}
	for _, tt := range tests {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.want != "" && string(b) != tt.want) {
			t.Errorf("%s: %d %q, want %d %q", tt.path, resp.StatusCode, b, tt.status, tt.want)
		}
	}
}

func TestTimeoutCancelsTheFunction(t *testing.T) {
	cancelled := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(5 * time.Second):
		}
	})
	base := serve(t, New([]Function{{Name: "slow", Handler: slow, Timeout: 100 * time.Millisecond}}, quiet()))
	start := time.Now()
	resp, err := http.Get(base + "/function/slow")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("the function's context was not cancelled at its timeout")
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the timeout did not bound the request")
	}
}

func TestFireAsCronConnector(t *testing.T) {
	var got atomic.Value
	job := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(r.Method + " " + r.Header.Get("X-Connector") + " auth=" + r.Header.Get("Authorization") + " body=" + string(b))
		w.WriteHeader(http.StatusAccepted)
	})
	g := New([]Function{{Name: "job", Handler: job, Schedule: "0 2 * * *"}}, quiet())
	if status := g.Fire(context.Background(), "job"); status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
	if got.Load() != "POST cron-connector auth= body=" {
		t.Fatalf("the call was %q", got.Load())
	}
	if g.Schedules()["job"] != "0 2 * * *" {
		t.Fatal("schedule lost")
	}
}

func TestFromStackPairsFunctions(t *testing.T) {
	s := &stackfile.Stack{Functions: map[string]stackfile.Function{
		"a": {Environment: map[string]string{"write_timeout": "7s"}, Annotations: map[string]string{"topic": "cron-function", "schedule": "*/5 * * * *"}},
	}}
	h := http.NotFoundHandler()
	fns, err := FromStack(s, map[string]http.Handler{"a": h})
	if err != nil || len(fns) != 1 || fns[0].Timeout != 7*time.Second || fns[0].Schedule != "*/5 * * * *" {
		t.Fatalf("%+v %v", fns, err)
	}
	if _, err := FromStack(s, map[string]http.Handler{"a": h, "b": h}); err == nil || !strings.Contains(err.Error(), "b") {
		t.Fatalf("a handler missing from stack.yml went unnoticed: %v", err)
	}
	if _, err := FromStack(s, map[string]http.Handler{}); err == nil {
		t.Fatal("a stack function without a handler went unnoticed")
	}
}

// TestCronFires runs the scheduler with a schedule short enough to observe
// ("@every", a cron descriptor), next to one that cannot be parsed.
func TestCronFires(t *testing.T) {
	var fired, bad atomic.Int32
	g := New([]Function{
		{Name: "j", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Connector") == "cron-connector" {
				fired.Add(1)
			}
		}), Schedule: "@every 1s"},
		{Name: "b", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { bad.Add(1) }), Schedule: "not a schedule"},
	}, quiet())
	ctx, cancel := context.WithTimeout(context.Background(), 2600*time.Millisecond)
	defer cancel()
	g.runCron(ctx)
	if n := fired.Load(); n < 2 {
		t.Fatalf("fired %d times in 2.6 s at every second", n)
	}
	if bad.Load() != 0 {
		t.Fatal("a bad schedule fired")
	}
}
