package services

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinioVersion is the pinned MinIO server (docs/architecture.md), built once from
// the Go module proxy and cached.
const MinioVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinioBinary is where the pinned build is cached.
func MinioBinary() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "rdc", "minio-"+MinioVersion[strings.LastIndex(MinioVersion, "-")+1:], "minio")
}

// buildMinio builds the pinned server into a temporary folder and moves it in
// place, so an interrupted build never leaves half a binary.
func buildMinio(ctx context.Context, s *Stack) (string, error) {
	bin := MinioBinary()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	s.opts.Log.Info("building the MinIO server once from the Go module proxy (a few minutes)", "version", MinioVersion, "into", filepath.Dir(bin))
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(bin), "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/minio/minio@"+MinioVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-buildvcs=false", "GOWORK=off", "CGO_ENABLED=0")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build minio: %w: %s", err, tail2(out))
	}
	if err := os.Rename(filepath.Join(tmp, "minio"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

func (s *Stack) startMinio(ctx context.Context) error {
	bin, err := buildMinio(ctx, s)
	if err != nil {
		return err
	}
	data := filepath.Join(s.opts.Dir, "minio")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	env, err := minioEnv(filepath.Join(s.opts.Dir, "minio.env"))
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	console, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.opts.Dir, "minio.log")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	start := func(ctx context.Context) (*exec.Cmd, chan struct{}, error) {
		cmd, err := command(bin, []string{"server", data, "--address", addr,
			"--console-address", "127.0.0.1:" + strconv.Itoa(console), "--quiet"}, logPath, append(env, "MINIO_BROWSER=off"))
		if err != nil {
			return nil, nil, err
		}
		return s.launch(ctx, "minio", 60*time.Second, cmd, logPath, func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/minio/health/live", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health: %d", resp.StatusCode)
			}
			c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(envValue(env, "MINIO_ROOT_USER"), envValue(env, "MINIO_ROOT_PASSWORD"), "")})
			if err != nil {
				return err
			}
			_, err = c.ListBuckets(ctx)
			return err
		})
	}
	if err := s.run(ctx, "minio", syscall.SIGTERM, start); err != nil {
		return err
	}
	s.ep.S3Endpoint = addr
	s.ep.S3AccessKey = envValue(env, "MINIO_ROOT_USER")
	s.ep.S3SecretKey = envValue(env, "MINIO_ROOT_PASSWORD")
	return nil
}

// minioEnv returns the server's credentials and at-rest encryption key,
// generated once per state folder and kept, so its data stays readable.
// MINIO_KMS_SECRET_KEY enables server-side encryption (SSE-S3) of objects.
func minioEnv(path string) ([]string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.Split(strings.TrimSpace(string(b)), "\n"), nil
	}
	user, pass, key := make([]byte, 8), make([]byte, 24), make([]byte, 32)
	rand.Read(user)
	rand.Read(pass)
	rand.Read(key)
	env := []string{
		"MINIO_ROOT_USER=rdc" + hex.EncodeToString(user),
		"MINIO_ROOT_PASSWORD=" + hex.EncodeToString(pass),
		"MINIO_KMS_SECRET_KEY=rdc-local-key:" + base64.StdEncoding.EncodeToString(key),
	}
	if err := os.WriteFile(path, []byte(strings.Join(env, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	return env, nil
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
