package services

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
)

// TestStartOwnServices starts all three from the machine's binaries, as on a
// machine where nothing is given, takes PostgreSQL away and back, and checks
// that Stop leaves nothing behind.
func TestStartOwnServices(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	ctx := context.Background()
	dir := t.TempDir() + "/stack"
	s, err := Start(ctx, Options{Dir: dir, Ephemeral: true, Getenv: func(string) string { return "" },
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()
	ep := s.Endpoints()

	pg := func() error {
		c, err := pgx.Connect(ctx, ep.DatabaseURL)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "SELECT 1")
		return err
	}
	if err := pg(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	ropts, _ := redis.ParseURL(ep.RedisURL)
	rc := redis.NewClient(ropts)
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	mc, err := minio.New(ep.S3Endpoint, &minio.Options{Creds: credentials.NewStaticV4(ep.S3AccessKey, ep.S3SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "probe", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("minio: %v", err)
	}

	if err := s.StopService("postgres"); err != nil {
		t.Fatal(err)
	}
	if pg() == nil {
		t.Fatal("postgres still answers after StopService")
	}
	if err := s.StartService(ctx, "postgres"); err != nil {
		t.Fatal(err)
	}
	if err := pg(); err != nil {
		t.Fatalf("postgres after restart: %v", err)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if pg() == nil || rc.Ping(ctx).Err() == nil {
		t.Fatal("a service still answers after Stop")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("ephemeral state left behind: %v", err)
	}
}

func TestGivenServiceMustAnswer(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", "REDIS_URL": "x", "S3_ENDPOINT": "x"}
	_, err := Start(context.Background(), Options{Dir: t.TempDir(), Getenv: func(k string) string { return env[k] }})
	if err == nil {
		t.Fatal("a DATABASE_URL that does not answer was accepted")
	}
}
