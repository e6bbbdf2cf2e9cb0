package services

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

var pgBinDirs = []string{"/usr/lib/postgresql/*/bin"}

func (s *Stack) startPostgres(ctx context.Context) error {
	initdb, postgres := lookBin("initdb", pgBinDirs...), lookBin("postgres", pgBinDirs...)
	if initdb == "" || postgres == "" {
		if err := aptInstall(ctx, s.opts.Log, "postgresql"); err != nil {
			return err
		}
		initdb, postgres = lookBin("initdb", pgBinDirs...), lookBin("postgres", pgBinDirs...)
		if initdb == "" || postgres == "" {
			return errors.New("postgresql installed but initdb/postgres not found")
		}
	}
	// PostgreSQL refuses to run as root: run it as the postgres system user.
	var runAs string
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			if out, err := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "rdcpg").CombinedOutput(); err != nil {
				return fmt.Errorf("create a user to run PostgreSQL: %w: %s", err, out)
			}
			if u, err = user.Lookup("rdcpg"); err != nil {
				return err
			}
		}
		runAs = u.Username
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	data := filepath.Join(s.opts.Dir, "postgres")
	run := filepath.Join(s.opts.Dir, "run")
	logPath := filepath.Join(s.opts.Dir, "postgres.log")
	for _, d := range []string{run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if uid >= 0 {
		// The user must reach its folders through ours: grant traversal (x, not r)
		// on the way down, e.g. through a test's 0700 temporary folder.
		for d := s.opts.Dir; d != filepath.Dir(d); d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				// Best effort: if PostgreSQL still cannot reach its folder, its start says so.
				_ = os.Chmod(d, fi.Mode().Perm()|0o011)
			}
		}
		if err := os.Chown(run, uid, gid); err != nil {
			return err
		}
		f, _ := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY, 0o644)
		if f != nil {
			f.Close()
		}
		if err := os.Chown(logPath, uid, gid); err != nil {
			return err
		}
	}
	var cred *syscall.Credential
	if runAs != "" {
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	initdbCmd := func(args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, initdb, args...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		c.Dir = data
		return c
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		if err := os.MkdirAll(data, 0o700); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.Chown(data, uid, gid); err != nil {
				return err
			}
		}
		args := []string{"-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"}
		if out, err := initdbCmd(args...).CombinedOutput(); err != nil {
			// Some machines lack the C.UTF-8 locale: fall back to no locale.
			os.RemoveAll(data)
			if err := os.MkdirAll(data, 0o700); err != nil {
				return err
			}
			if uid >= 0 {
				if err := os.Chown(data, uid, gid); err != nil {
					return err
				}
			}
			args[len(args)-1] = "--no-locale"
			if out2, err2 := initdbCmd(args...).CombinedOutput(); err2 != nil {
				return fmt.Errorf("initdb: %w: %s / %s", err2, tail2(out), tail2(out2))
			}
		}
	}
	removeStalePid(data)

	port, err := freePort()
	if err != nil {
		return err
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	start := func(ctx context.Context) (*exec.Cmd, chan struct{}, error) {
		// fsync and full-page writes off: this server holds throw-away
		// development and test data only; never settings for production.
		args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", run,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=512MB",
			"-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=30min"}
		cmd, err := command(postgres, args, logPath, nil)
		if err != nil {
			return nil, nil, err
		}
		cmd.SysProcAttr.Credential = cred
		cmd.Dir = data
		return s.launch(ctx, "postgres", 60*time.Second, cmd, logPath, func(ctx context.Context) error {
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			return c.Ping(ctx)
		})
	}
	// SIGINT is PostgreSQL's "fast" shutdown: roll back and stop now.
	if err := s.run(ctx, "postgres", syscall.SIGINT, start); err != nil {
		return err
	}
	s.ep.DatabaseURL = url
	return nil
}

// removeStalePid deletes postmaster.pid left by a killed run, if its process is gone.
func removeStalePid(data string) {
	path := filepath.Join(data, "postmaster.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		os.Remove(path)
		return
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.HasPrefix(string(comm), "postgres") {
		return // still running: leave it, start will fail with a clear message
	}
	os.Remove(path)
}
