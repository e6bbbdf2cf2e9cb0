package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/files"
	"github.com/rdc-interop/faas/shared/problem"
)

// How the job runner holds a batch: a lease renewed by every chunk it
// commits, so a replica that dies leaves a batch another takes over
// after the lease, from the last checkpoint.
const (
	lease = 60 * time.Second
	poll  = 2 * time.Second
)

// errLostLease means another runner holds the batch now.
var errLostLease = errors.New("feed: the batch's lease was lost")

// runner applies file batches, one at a time per replica, oldest first.
type runner struct {
	*handler
	log *slog.Logger
}

func (j *runner) run(ctx context.Context) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for {
			b, owner, ok, err := j.claim(ctx)
			if err != nil {
				if ctx.Err() == nil {
					j.log.Warn("feeds: cannot claim a batch", "function", j.src.Function, "err", err)
				}
				break
			}
			if !ok {
				break
			}
			j.process(ctx, b, owner)
		}
		j.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-j.wake:
		case <-t.C:
		}
	}
}

// claim takes the oldest batch that is queued, or running under a lease
// that ran out.
func (j *runner) claim(ctx context.Context) (Batch, uuid.UUID, bool, error) {
	owner := uuid.New()
	rows, _ := j.db.Query(ctx, `
		UPDATE feed_batch SET stato = 'IN_CORSO', lease_id = $2, lease_scade = now() + $3::interval,
			tentativi = tentativi + 1, avviato_il = coalesce(avviato_il, now()), errore = NULL
		WHERE id = (SELECT id FROM feed_batch
		            WHERE fonte = $1 AND (stato = 'IN_CODA' OR (stato = 'IN_CORSO' AND lease_scade < now()))
		            ORDER BY creato_il LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+batchColumns, j.src.Name, owner, lease.String())
	b, err := pgx.CollectExactlyOneRow(rows, scanBatch)
	if db.NoRows(err) {
		return Batch{}, owner, false, nil
	}
	if err != nil {
		return Batch{}, owner, false, err
	}
	return b, owner, true, nil
}

// process applies b's file from its checkpoint on, chunk by chunk, and
// records how it ended.
func (j *runner) process(ctx context.Context, b Batch, owner uuid.UUID) {
	err := j.apply(ctx, b, owner)
	switch {
	case err == nil:
		return
	case errors.Is(err, errLostLease), ctx.Err() != nil:
		// Another runner has it, or this replica is stopping: the lease
		// runs out and the batch is taken over from its checkpoint.
		return
	}
	j.log.Error("feeds: file batch failed", "function", j.src.Function, "batch", b.ID, "err", err)
	// The reason is the failure's public detail, never its cause (which
	// could name a host or repeat a value of the file).
	detail := "an internal error"
	if pe := problem.As(err); pe != nil {
		detail = pe.Detail
	}
	reason := "the batch could not be applied: " + detail
	switch {
	case errors.Is(err, files.ErrNotFound):
		reason = "the batch's file is missing from file storage"
	case problem.Status(err) == http.StatusServiceUnavailable:
		reason = "a dependency was unavailable (" + detail + "); resume the batch once it is back"
	}
	ctx = context.WithoutCancel(ctx)
	if _, uerr := j.db.Exec(ctx, `UPDATE feed_batch SET stato = 'FALLITO', errore = $3, lease_id = NULL, lease_scade = NULL
		WHERE id = $1 AND lease_id = $2`, b.ID, owner, reason); uerr != nil {
		// PostgreSQL is down too: the lease runs out and a runner resumes it.
		j.log.Error("feeds: cannot record the failure of a batch", "function", j.src.Function, "batch", b.ID, "err", uerr)
	}
}

func (j *runner) apply(ctx context.Context, b Batch, owner uuid.UUID) error {
	if b.object == nil {
		return files.ErrNotFound
	}
	f, err := j.files.OpenAt(ctx, *b.object, b.Bytes)
	if err != nil {
		return err
	}
	defer f.Close()

	// Parsing runs ahead of the database by one chunk: the two cores
	// parse and merge at once, and memory holds two chunks at most.
	chunks := make(chan *chunk, 1)
	readErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(chunks)
		rd := newReader(j.src, f, b.Lines, b.Bytes, chunkRecords, chunkBytes)
		for {
			c, err := rd.next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr <- err
				}
				return
			}
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	total := b.Counts
	for c := range chunks {
		var counts Counts
		err := db.TransactWith(ctx, j.db, applyTx, func(tx pgx.Tx) error {
			var rejects []Reject
			var err error
			if counts, rejects, err = j.src.apply(ctx, tx, c); err != nil {
				return err
			}
			if err := saveRejects(ctx, tx, b.ID, rejects); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE feed_batch SET righe_lette = righe_lette + $3, byte_letti = $4,
				accettati = accettati + $5, obsoleti = obsoleti + $6, scartati = scartati + $7,
				lease_scade = now() + $8::interval
				WHERE id = $1 AND lease_id = $2`, b.ID, owner, c.lines, c.end,
				counts.Accepted, counts.Stale, counts.Refused, lease.String())
			if err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return errLostLease
			}
			return nil
		})
		if err != nil {
			return err
		}
		total.add(counts)
	}
	select {
	case err := <-readErr:
		return err
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err = db.Transact(ctx, j.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE feed_batch SET stato = 'COMPLETATO', concluso_il = now(), lease_id = NULL, lease_scade = NULL
			WHERE id = $1 AND lease_id = $2`, b.ID, owner)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errLostLease
		}
		q := &pgx.Batch{}
		e := batchEntry(j.src, total, http.StatusOK)
		e.Function, e.ClientID, e.Org = j.src.Function, b.ClientID, j.src.Name
		audit.QueueSystem(q, "feed_batch", b.ID.String(), e)
		return tx.SendBatch(ctx, q).Close()
	})
	if err != nil {
		return err
	}
	j.sweep(ctx)
	return nil
}

// sweep removes the files of applied batches: a file holds personal data
// and is not kept once applied (a failed batch keeps its file, to be
// resumed). A removal that fails is tried again at the next sweep.
func (j *runner) sweep(ctx context.Context) {
	rows, _ := j.db.Query(ctx, `SELECT id, oggetto FROM feed_batch
		WHERE fonte = $1 AND stato = 'COMPLETATO' AND oggetto IS NOT NULL LIMIT 100`, j.src.Name)
	type applied struct {
		ID     uuid.UUID
		Object string
	}
	done, err := pgx.CollectRows(rows, pgx.RowToStructByPos[applied])
	if err != nil {
		return // PostgreSQL is down: the next sweep
	}
	for _, a := range done {
		if err := j.files.Remove(ctx, a.Object); err != nil {
			j.log.Warn("feeds: cannot remove an applied file", "function", j.src.Function, "batch", a.ID, "err", err)
			return
		}
		if _, err := j.db.Exec(ctx, `UPDATE feed_batch SET oggetto = NULL WHERE id = $1`, a.ID); err != nil {
			return
		}
	}
}
