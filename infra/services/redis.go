package services

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func (s *Stack) startRedis(ctx context.Context) error {
	bin := lookBin("redis-server")
	if bin == "" {
		if err := aptInstall(ctx, s.opts.Log, "redis-server"); err != nil {
			return err
		}
		if bin = lookBin("redis-server"); bin == "" {
			return fmt.Errorf("redis-server installed but not found")
		}
	}
	dir := filepath.Join(s.opts.Dir, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.opts.Dir, "redis.log")
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	start := func(ctx context.Context) (*exec.Cmd, chan struct{}, error) {
		// Nothing persisted: Redis is a cache and lock service here, never the only copy.
		cmd, err := command(bin, []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "",
			"--appendonly", "no", "--dir", dir, "--daemonize", "no"}, logPath, nil)
		if err != nil {
			return nil, nil, err
		}
		return s.launch(ctx, "redis", 20*time.Second, cmd, logPath, func(ctx context.Context) error {
			c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
			defer c.Close()
			return c.Ping(ctx).Err()
		})
	}
	if err := s.run(ctx, "redis", syscall.SIGTERM, start); err != nil {
		return err
	}
	s.ep.RedisURL = url
	return nil
}
