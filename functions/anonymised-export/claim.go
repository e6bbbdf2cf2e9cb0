package function

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/problem"
)

// A download first claims its export in PostgreSQL (migration 012), so one
// download at a time is served whichever replica takes it, and only the
// holder of the claim may mark the export downloaded.
//
// The claim is a lease. The replica serving the download renews it while
// bytes flow, so a download may last as long as it keeps moving, and a
// replica that dies mid-download leaves the export claimable again once
// downloadLease has run out. The serving replica writes a chunk only when
// its lease is certain to outlast that write (downloadStall bounds every
// write), so no byte leaves after another replica could have taken over.
const (
	downloadLease = time.Minute
	downloadRenew = 10 * time.Second
	// downloadStall is how long a client may take to accept one chunk;
	// one that stalls longer has gone away, and its claim is released.
	downloadStall = 20 * time.Second
	chunkSize     = 256 << 10
)

// claim is a download holding its export: the claim's token, and the file
// it was granted.
type claim struct {
	exportID string
	token    uuid.UUID
	object   string
	size     int64
	sum      string

	mu    sync.Mutex
	until time.Time // the lease surely holds until then (local monotonic clock)
}

// errClaimLost ends a download whose lease can no longer be vouched for.
var errClaimLost = errors.New("export: the download's claim ran out or was lost")

// takeDownload claims export id of org for one download. It fails with 409
// while another download holds the export (or it is not ready), 410 once it
// has been downloaded or has expired, 404 when it is not org's.
func takeDownload(ctx context.Context, q db.DBTX, id, org string) (*claim, error) {
	c := &claim{exportID: id, token: uuid.Must(uuid.NewV7())}
	// Two attempts: a claim released between the UPDATE and the look at
	// why it failed is taken on the second.
	for range 2 {
		asked := time.Now()
		err := q.QueryRow(ctx, `
			UPDATE export SET scaricamento_id = $3, scaricamento_scade_il = now() + $4 * interval '1 millisecond'
			WHERE id = $1 AND org = $2 AND stato = 'PRONTO'
			  AND (scaricamento_id IS NULL OR scaricamento_scade_il < now())
			RETURNING oggetto, byte, sha256`, id, org, c.token, downloadLease.Milliseconds()).Scan(&c.object, &c.size, &c.sum)
		if err == nil {
			// PostgreSQL's now() is no earlier than asked: the lease ends no
			// sooner than asked+downloadLease, as this clock counts.
			c.until = asked.Add(downloadLease)
			return c, nil
		}
		if !db.NoRows(err) {
			return nil, fmt.Errorf("claim export download: %w", err)
		}
		var stato string
		var held bool
		err = q.QueryRow(ctx, `
			SELECT stato, scaricamento_id IS NOT NULL AND scaricamento_scade_il >= now()
			FROM export WHERE id = $1 AND org = $2`, id, org).Scan(&stato, &held)
		if db.NoRows(err) {
			return nil, problem.New(problem.NotFound, "no such export")
		}
		if err != nil {
			return nil, fmt.Errorf("read export: %w", err)
		}
		switch {
		case stato == "SCARICATO":
			return nil, problem.New(problem.Gone, "the export was downloaded already")
		case stato == "SCADUTO":
			return nil, problem.New(problem.Gone, "the export was not downloaded in time and was removed")
		case stato == "PRONTO" && held:
			return nil, problem.New(problem.Conflict, "another download of this export is in progress; it can be tried again if that one does not complete")
		case stato != "PRONTO":
			return nil, problem.Newf(problem.Conflict, "the export is %s, not ready", stato)
		}
	}
	return nil, problem.New(problem.Conflict, "another download of this export is in progress; it can be tried again if that one does not complete")
}

// sure reports whether the lease outlasts d from now.
func (c *claim) sure(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(d).Before(c.until)
}

// renew extends the lease; false once the claim is no longer this
// download's. A failed renewal leaves the lease to run out on its own.
func (c *claim) renew(ctx context.Context, q db.DBTX) bool {
	asked := time.Now()
	tag, err := q.Exec(ctx, `
		UPDATE export SET scaricamento_scade_il = now() + $3 * interval '1 millisecond'
		WHERE id = $1 AND scaricamento_id = $2 AND stato = 'PRONTO'`, c.exportID, c.token, downloadLease.Milliseconds())
	if err != nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tag.RowsAffected() != 1 {
		c.until = time.Time{}
		return false
	}
	c.until = asked.Add(downloadLease)
	return true
}

// keep renews the lease every downloadRenew until ctx ends or the claim is lost.
func (c *claim) keep(ctx context.Context, q db.DBTX) {
	t := time.NewTicker(downloadRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !c.renew(ctx, q) {
				return
			}
		}
	}
}

// release gives the export back after a download that did not complete,
// so that it can be downloaded again at once. If PostgreSQL cannot be
// reached, the lease runs out instead.
func (c *claim) release(ctx context.Context, q db.DBTX) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := q.Exec(ctx, `
		UPDATE export SET scaricamento_id = NULL, scaricamento_scade_il = NULL
		WHERE id = $1 AND scaricamento_id = $2`, c.exportID, c.token)
	if err != nil {
		return fmt.Errorf("release export download: %w", err)
	}
	return nil
}

// finish marks the export downloaded with its receipt, only while the claim
// is still this download's; false when it is not (nothing is changed). The
// download's audit record is written by the same statement: a receipt
// never exists without it.
func (c *claim) finish(ctx context.Context, q db.DBTX, at time.Time, receipt string, trail audit.Entry) (bool, error) {
	n, err := audit.Change(ctx, q, trail, `
		UPDATE export SET stato = 'SCARICATO', scaricato_il = $3, ricevuta = $4, aggiornato_il = now(),
		       scaricamento_id = NULL, scaricamento_scade_il = NULL
		WHERE id = $1 AND scaricamento_id = $2 AND stato = 'PRONTO'
		RETURNING id`, c.exportID, c.token, at, receipt)
	if err != nil {
		return false, fmt.Errorf("record download: %w", err)
	}
	return n == 1, nil
}

// send copies the file to the client and returns how much went out and its
// SHA-256. Each chunk is written only while the lease surely outlasts the
// write, and a client that does not take a chunk within downloadStall ends
// the download.
func (c *claim) send(w http.ResponseWriter, body io.Reader) (int64, string, error) {
	rc := http.NewResponseController(w)
	// The connection may serve another request. As below, a writer without
	// deadlines (ErrNotSupported) has nothing to reset.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var n int64
	for {
		k, rerr := body.Read(buf)
		if k > 0 {
			if !c.sure(downloadStall) {
				return n, "", errClaimLost
			}
			// Not every writer supports deadlines (ErrNotSupported): the
			// request's own timeout bounds the download then.
			_ = rc.SetWriteDeadline(time.Now().Add(downloadStall))
			if _, err := w.Write(buf[:k]); err != nil {
				return n, "", err
			}
			h.Write(buf[:k])
			n += int64(k)
		}
		if errors.Is(rerr, io.EOF) {
			// Out of the server's buffers before the download counts as
			// complete: what fails to leave now is an interruption.
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return n, "", err
			}
			return n, hex.EncodeToString(h.Sum(nil)), nil
		}
		if rerr != nil {
			return n, "", rerr
		}
	}
}
