// Package services starts PostgreSQL, Redis and MinIO for `make up` and
// `make test` from the machine's own binaries, on free ports, unless the
// environment already names them (DATABASE_URL, REDIS_URL, S3_ENDPOINT).
//
// A machine may already run PostgreSQL or Redis on the usual ports; they are
// neither used nor disturbed. What is started here runs as child processes in
// their own process group and is stopped by Stop (and by the kernel if this
// process dies: Pdeathsig), so Ctrl-C never leaves orphans behind.
package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options of Start.
type Options struct {
	Dir       string // state directory (data of the services started here)
	Ephemeral bool   // remove Dir on Stop
	Getenv    func(string) string
	Log       *slog.Logger
}

// Endpoints is how to reach the three services.
type Endpoints struct {
	DatabaseURL string // admin database ("postgres") of the server
	RedisURL    string
	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
	S3UseSSL    bool
}

// Stack is the set of services in use, some of which it started.
type Stack struct {
	opts Options
	ep   Endpoints

	mu    sync.Mutex
	procs map[string]*proc // by service name, only those started here
}

// proc is a child service process and how to start it again.
type proc struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	start   startFunc
	stopSig syscall.Signal
}

// startFunc starts a service process and waits until it is ready; done closes
// when the process exits.
type startFunc func(ctx context.Context) (cmd *exec.Cmd, done chan struct{}, err error)

// Start brings up what the environment does not give, concurrently.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	s := &Stack{opts: o, procs: map[string]*proc{}}
	type starter struct {
		name  string
		given bool
		start func(context.Context) error
	}
	starters := []starter{
		{"postgres", o.Getenv("DATABASE_URL") != "", s.startPostgres},
		{"redis", o.Getenv("REDIS_URL") != "", s.startRedis},
		{"minio", o.Getenv("S3_ENDPOINT") != "", s.startMinio},
	}
	if v := o.Getenv("DATABASE_URL"); v != "" {
		s.ep.DatabaseURL = v
	}
	if v := o.Getenv("REDIS_URL"); v != "" {
		s.ep.RedisURL = v
	}
	if v := o.Getenv("S3_ENDPOINT"); v != "" {
		s.ep.S3Endpoint, s.ep.S3AccessKey, s.ep.S3SecretKey = v, o.Getenv("S3_ACCESS_KEY"), o.Getenv("S3_SECRET_KEY")
		s.ep.S3UseSSL = o.Getenv("S3_USE_SSL") == "true"
	}
	errs := make([]error, len(starters))
	var wg sync.WaitGroup
	for i, st := range starters {
		if st.given {
			o.Log.Info("service given by the environment", "service", st.name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			if err := st.start(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", st.name, err)
				return
			}
			o.Log.Info("service started", "service", st.name, "s", time.Since(t0).Round(10*time.Millisecond).Seconds())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if err := s.checkGiven(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// Endpoints of the services.
func (s *Stack) Endpoints() Endpoints { return s.ep }

// Stop stops what Start started and waits for it; it is idempotent.
func (s *Stack) Stop() error {
	s.mu.Lock()
	procs := s.procs
	s.procs = map[string]*proc{}
	s.mu.Unlock()
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.stop())
	}
	if s.opts.Ephemeral {
		errs = append(errs, os.RemoveAll(s.opts.Dir))
	}
	return errors.Join(errs...)
}

// StopService stops one service this stack started (an outage, for tests).
func (s *Stack) StopService(name string) error {
	s.mu.Lock()
	p, ok := s.procs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s was not started here", name)
	}
	return p.stop()
}

// StartService starts again, on the same port and data, a service stopped by StopService.
func (s *Stack) StartService(ctx context.Context, name string) error {
	s.mu.Lock()
	p, ok := s.procs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s was not started here", name)
	}
	cmd, done, err := p.start(ctx)
	if err != nil {
		return err
	}
	p.cmd, p.done = cmd, done
	return nil
}

// launch starts a service's process and waits for it to be ready; the process
// is killed if it does not become ready.
func (s *Stack) launch(ctx context.Context, name string, timeout time.Duration, cmd *exec.Cmd, logPath string, ready func(context.Context) error) (*exec.Cmd, chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // that it ended is what counts; its log says why
		close(done)
	}()
	if err := waitFor(ctx, timeout, done, ready); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return nil, nil, fmt.Errorf("%w\n%s", err, tail(logPath, 15))
	}
	return cmd, done, nil
}

// run starts a service with start and keeps it, to be stopped by Stop.
func (s *Stack) run(ctx context.Context, name string, sig syscall.Signal, start startFunc) error {
	cmd, done, err := start(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.procs[name] = &proc{name: name, cmd: cmd, done: done, start: start, stopSig: sig}
	s.mu.Unlock()
	return nil
}

func (p *proc) stop() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(p.stopSig)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return nil
}

// command prepares a child in its own process group that dies with us.
func command(name string, args []string, logPath string, env []string) (*exec.Cmd, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...) //nolint:noctx // a service outlives the context that started it: Stop ends it
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// freePort asks the kernel for a free port on loopback.
func freePort() (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls ready until it succeeds, the process exits, or timeout.
func waitFor(ctx context.Context, timeout time.Duration, done <-chan struct{}, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited while starting: %w", last)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tail returns the last lines of a log file, for start-up errors.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lookBin finds a binary in the distribution's folders first (glob patterns,
// highest version wins), then on PATH: a copy elsewhere on PATH may not be
// runnable by the service's user.
func lookBin(name string, dirs ...string) string {
	for _, pattern := range dirs {
		matches, _ := filepath.Glob(filepath.Join(pattern, name))
		slices.SortFunc(matches, func(a, b string) int { return versionOf(a) - versionOf(b) })
		if len(matches) > 0 {
			return matches[len(matches)-1]
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// versionOf reads the major version from a path like /usr/lib/postgresql/15/bin/x.
func versionOf(path string) int {
	for _, part := range strings.Split(path, "/") {
		if n, err := strconv.Atoi(strings.SplitN(part, ".", 2)[0]); err == nil {
			return n
		}
	}
	return 0
}

var (
	aptOnce      sync.Once
	aptUpdateErr error
)

// aptInstall installs Debian packages when we are root; otherwise it says what to install.
func aptInstall(ctx context.Context, log *slog.Logger, pkgs ...string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not installed: install the Debian package(s) %s, or set the service's URL", strings.Join(pkgs, " "))
	}
	log.Info("installing with apt", "packages", pkgs)
	aptOnce.Do(func() {
		out, err := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput()
		if err != nil {
			aptUpdateErr = fmt.Errorf("apt-get update: %w: %s", err, tail2(out))
		}
	})
	if aptUpdateErr != nil {
		return aptUpdateErr
	}
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %w: %s", strings.Join(pkgs, " "), err, tail2(out))
	}
	return nil
}

func tail2(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}
