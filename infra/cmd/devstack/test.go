package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/rdc-interop/faas/infra/devstack"
	"github.com/rdc-interop/faas/infra/migrations"
	"github.com/rdc-interop/faas/infra/services"
)

// test gives one test run its own world: services (given or started), a
// migrated template database that each test package clones, and prefixes for
// Redis keys and MinIO buckets, so runs never see each other's data.
func test(ctx context.Context, cmd []string, log *slog.Logger) error {
	start := time.Now()
	dir, err := os.MkdirTemp("", "rdc-test-")
	if err != nil {
		return err
	}
	svc, err := services.Start(ctx, services.Options{Dir: dir, Ephemeral: true, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			log.Warn("test services not stopped cleanly", "err", err)
		}
	}()
	ep := svc.Endpoints()

	run := devstack.RunID()
	template := "rdc_tpl_" + run
	tplURL, err := devstack.CreateDatabase(ctx, ep.DatabaseURL, template, "")
	if err != nil {
		return err
	}
	defer func() {
		if err := devstack.DropDatabase(context.Background(), ep.DatabaseURL, template); err != nil {
			log.Warn("template database not dropped", "database", template, "err", err)
		}
	}()
	if err := migrations.ApplyURL(ctx, tplURL); err != nil {
		return err
	}
	log.Info("test services ready", "run", run, "s", time.Since(start).Round(100*time.Millisecond).Seconds())

	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdout, c.Stderr, c.Stdin = os.Stdout, os.Stderr, os.Stdin
	c.Env = append(os.Environ(),
		"RDC_TEST_ADMIN_URL="+ep.DatabaseURL,
		"RDC_TEST_TEMPLATE="+template,
		"RDC_TEST_RUN="+run,
		"REDIS_URL="+ep.RedisURL,
		"REDIS_PREFIX=rdc-test-"+run+":",
		"S3_ENDPOINT="+ep.S3Endpoint,
		"S3_ACCESS_KEY="+ep.S3AccessKey,
		"S3_SECRET_KEY="+ep.S3SecretKey,
		"S3_USE_SSL="+strconv.FormatBool(ep.S3UseSSL),
		"S3_BUCKET_PREFIX=rdc-"+run+"-",
	)
	c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
	c.WaitDelay = 30 * time.Second
	err = c.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitError(exit.ExitCode())
	}
	return err
}
