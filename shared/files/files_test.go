package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/problem"
)

// store opens a bucket on the run's MinIO (make test provides it).
func store(t *testing.T) *Store {
	t.Helper()
	cfg := config.Config{S3Endpoint: os.Getenv("S3_ENDPOINT"), S3AccessKey: os.Getenv("S3_ACCESS_KEY"),
		S3SecretKey: os.Getenv("S3_SECRET_KEY"), S3BucketPrefix: os.Getenv("S3_BUCKET_PREFIX")}
	cfg.S3UseSSL, _ = strconv.ParseBool(os.Getenv("S3_USE_SSL"))
	if cfg.S3Endpoint == "" {
		t.Fatal("no MinIO: run the tests through `make test`")
	}
	s, err := Open(cfg, "files-test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	content := bytes.Repeat([]byte("riga;di;prova\n"), 100_000)
	info, err := s.Put(ctx, "a/round-trip.csv", bytes.NewReader(content), "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if info.Size != int64(len(content)) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("info %+v", info)
	}
	if enc, err := s.Encrypted(ctx, "a/round-trip.csv"); err != nil || !enc {
		t.Fatalf("stored unencrypted (%v)", err)
	}
	rc, st, err := s.Open(ctx, "a/round-trip.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, content) || st.Size != int64(len(content)) {
		t.Fatalf("read back %d bytes, size %d", len(got), st.Size)
	}
	if err := s.Remove(ctx, "a/round-trip.csv"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(ctx, "a/round-trip.csv"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
	if err := s.Remove(ctx, "a/round-trip.csv"); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
}

// failing yields n bytes, then an error, as a generator whose source
// (PostgreSQL) went away mid-run.
type failing struct{ n int }

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("source lost")
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func TestAFailedWriteLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s := store(t)
	for _, n := range []int{1 << 10, partSize + 4<<20} { // within the first part; after a whole part was sent
		name := "partial-" + strconv.Itoa(n)
		if _, err := s.Put(ctx, name, &failing{n: n}, "text/plain"); err == nil {
			t.Fatalf("%d bytes then an error: stored", n)
		}
		if _, _, err := s.Open(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%d bytes then an error: the object exists (%v)", n, err)
		}
	}
}

func TestMinIODownIsUnavailable(t *testing.T) {
	cfg := config.Config{S3Endpoint: "127.0.0.1:1", S3AccessKey: "x", S3SecretKey: "y"}
	s, err := Open(cfg, "nowhere")
	if err != nil {
		t.Fatalf("Open reached out to MinIO: %v", err)
	}
	_, err = s.Put(context.Background(), "x", strings.NewReader("x"), "text/plain")
	if problem.KindOf(err) != problem.Unavailable {
		t.Fatalf("kind %v: %v", problem.KindOf(err), err)
	}
}
