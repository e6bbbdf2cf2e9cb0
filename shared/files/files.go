// Package files keeps the function set's files (exports, reports) in MinIO:
// encrypted at rest, written whole or not at all, read as streams.
//
// A file is written as one multipart upload of unknown length: memory stays
// at one part whatever the file's size, and an upload that fails half-way is
// aborted, so no partial object is ever visible. Objects are encrypted by
// the server (SSE-S3, with the KMS key MinIO is started with).
package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/rdc-interop/faas/shared/config"
	"github.com/rdc-interop/faas/shared/problem"
)

// partSize is the memory one upload holds (one part is buffered at a time);
// with S3's limit of 10,000 parts it allows files up to 160 GiB.
const partSize = 16 << 20

// ErrNotFound means no such file.
var ErrNotFound = errors.New("file not found")

// Store is one bucket.
type Store struct {
	c      *minio.Client
	bucket string
	made   atomic.Bool // the bucket is known to exist
}

// Open prepares the bucket <S3_BUCKET_PREFIX><name> of the configured MinIO.
// It does not reach MinIO: a function whose storage is down still starts and
// answers what needs no file; the bucket is made on the first Put.
func Open(cfg config.Config, name string) (*Store, error) {
	if cfg.S3Endpoint == "" {
		return nil, errors.New("files: S3_ENDPOINT is not set")
	}
	c, err := minio.New(cfg.S3Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.S3AccessKey, cfg.S3SecretKey, ""),
		Secure: cfg.S3UseSSL,
	})
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return &Store{c: c, bucket: cfg.S3BucketPrefix + name}, nil
}

func (s *Store) ensureBucket(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return down("check bucket", err)
	}
	if !ok {
		err = s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
		if code := minio.ToErrorResponse(err).Code; err != nil && code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return down("create bucket", err)
		}
	}
	s.made.Store(true)
	return nil
}

// Info describes a stored file.
type Info struct {
	Name   string
	Size   int64
	SHA256 string // hex, of the content as stored
}

// Put stores r under name, whole or not at all, and returns its size and
// SHA-256 (for manifests and receipts). An error from r aborts the upload.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, contentType string) (Info, error) {
	if !s.made.Load() {
		if err := s.ensureBucket(ctx); err != nil {
			return Info{}, err
		}
	}
	h := sha256.New()
	n := &counter{}
	_, err := s.c.PutObject(ctx, s.bucket, name, io.TeeReader(r, io.MultiWriter(h, n)), -1, minio.PutObjectOptions{
		ContentType:          contentType,
		PartSize:             partSize,
		ServerSideEncryption: encrypt.NewSSE(),
	})
	if err != nil {
		return Info{}, down("store "+name, err)
	}
	return Info{Name: name, Size: n.n, SHA256: hexSum(h)}, nil
}

// Open returns the content of name as a stream; the caller closes it.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, Info, error) {
	st, err := s.c.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return nil, Info{}, ErrNotFound
		}
		return nil, Info{}, down("stat "+name, err)
	}
	obj, err := s.c.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, down("read "+name, err)
	}
	return obj, Info{Name: name, Size: st.Size}, nil
}

// OpenAt returns the content of name from byte offset on, as a stream: a
// job resuming a file reads only what it has not applied.
func (s *Store) OpenAt(ctx context.Context, name string, offset int64) (io.ReadCloser, error) {
	if _, err := s.c.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return nil, ErrNotFound
		}
		return nil, down("stat "+name, err)
	}
	var opts minio.GetObjectOptions
	if offset > 0 {
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, fmt.Errorf("files: read %s from %d: %w", name, offset, err)
		}
	}
	obj, err := s.c.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		return nil, down("read "+name, err)
	}
	return readErrors{obj, name}, nil
}

// readErrors marks a failure to read a stream as the outage it is.
type readErrors struct {
	io.ReadCloser
	name string
}

func (r readErrors) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF { //nolint:errorlint // io.EOF is returned as such by Read
		err = down("read "+r.name, err)
	}
	return n, err
}

// Remove deletes name; a missing file is not an error.
func (s *Store) Remove(ctx context.Context, name string) error {
	err := s.c.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchBucket" {
		return down("remove "+name, err)
	}
	return nil
}

// Encrypted reports whether name is stored encrypted by the server.
func (s *Store) Encrypted(ctx context.Context, name string) (bool, error) {
	st, err := s.c.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return false, ErrNotFound
		}
		return false, down("stat "+name, err)
	}
	return st.Metadata.Get("X-Amz-Server-Side-Encryption") != "", nil
}

// down marks a MinIO failure as a dependency outage (503): the caller may retry.
func down(op string, err error) error {
	return problem.Down("file storage", fmt.Errorf("files: %s: %w", op, err))
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
