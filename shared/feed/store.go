package feed

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
)

// Batch states.
const (
	AwaitingFile = "ATTESA_FILE" // created; its file not yet received
	Queued       = "IN_CODA"     // its file stored; waiting for a job
	Running      = "IN_CORSO"
	Done         = "COMPLETATO"
	Failed       = "FALLITO" // stopped; resumed by POST …/ripresa
)

// Batch modes.
const (
	Incremental = "INCREMENTALE"
	File        = "FILE"
)

// Batch is one batch as the API shows it.
type Batch struct {
	ID       uuid.UUID `json:"id"`
	Source   string    `json:"fonte"`
	Mode     string    `json:"modo"`
	State    string    `json:"stato"`
	ClientID string    `json:"client_id"`
	Counts
	Lines      int64      `json:"righe_lette"`
	Bytes      int64      `json:"byte_letti"`
	TotalBytes *int64     `json:"byte_totali,omitempty"`
	SHA256     *string    `json:"sha256,omitempty"`
	Progress   *float64   `json:"avanzamento,omitempty"` // share of the file's bytes applied, 0–1
	Rate       *float64   `json:"righe_al_secondo,omitempty"`
	Attempts   int        `json:"tentativi"`
	Error      *string    `json:"errore,omitempty"`
	Created    time.Time  `json:"creato_il"`
	Started    *time.Time `json:"avviato_il,omitempty"`
	Finished   *time.Time `json:"concluso_il,omitempty"`

	object *string
}

const batchColumns = `id, fonte, modo, stato, client_id, accettati, obsoleti, scartati, righe_lette, byte_letti,
	byte_totali, sha256, tentativi, errore, creato_il, avviato_il, concluso_il, oggetto`

func scanBatch(row pgx.CollectableRow) (Batch, error) {
	var b Batch
	err := row.Scan(&b.ID, &b.Source, &b.Mode, &b.State, &b.ClientID, &b.Accepted, &b.Stale, &b.Refused,
		&b.Lines, &b.Bytes, &b.TotalBytes, &b.SHA256, &b.Attempts, &b.Error, &b.Created, &b.Started, &b.Finished, &b.object)
	if err != nil {
		return b, err
	}
	if b.TotalBytes != nil && *b.TotalBytes > 0 {
		p := float64(b.Bytes) / float64(*b.TotalBytes)
		b.Progress = &p
	}
	if b.Started != nil && b.Lines > 0 {
		end := time.Now()
		if b.Finished != nil {
			end = *b.Finished
		}
		if secs := end.Sub(*b.Started).Seconds(); secs > 0 {
			rate := float64(b.Lines) / secs
			b.Rate = &rate
		}
	}
	return b, nil
}

// store reads and writes a source's batches.
type store struct {
	db     db.DBTX
	source string
}

func (s store) get(ctx context.Context, q db.DBTX, id uuid.UUID) (Batch, bool, error) {
	rows, _ := q.Query(ctx, `SELECT `+batchColumns+` FROM feed_batch WHERE id = $1 AND fonte = $2`, id, s.source)
	b, err := pgx.CollectExactlyOneRow(rows, scanBatch)
	if db.NoRows(err) {
		return Batch{}, false, nil
	}
	if err != nil {
		return Batch{}, false, fmt.Errorf("read batch: %w", err)
	}
	return b, true, nil
}

// list returns the source's batches, newest first, created before the
// batch before (keyset paging), in state when set.
func (s store) list(ctx context.Context, state string, before *uuid.UUID, limit int) ([]Batch, error) {
	rows, _ := s.db.Query(ctx, `
		SELECT `+batchColumns+` FROM feed_batch
		WHERE fonte = $1 AND ($2 = '' OR stato = $2)
		  AND ($3::uuid IS NULL OR (creato_il, id) < (SELECT creato_il, id FROM feed_batch WHERE id = $3))
		ORDER BY creato_il DESC, id DESC LIMIT $4`, s.source, state, before, limit)
	out, err := pgx.CollectRows(rows, scanBatch)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	return out, nil
}

// rejects returns a batch's rejects after line after, in line order.
func (s store) rejects(ctx context.Context, id uuid.UUID, after int64, limit int) ([]Reject, error) {
	rows, _ := s.db.Query(ctx, `SELECT riga, campo, codice FROM feed_scarto WHERE batch_id = $1 AND riga > $2 ORDER BY riga LIMIT $3`, id, after, limit)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Reject])
	if err != nil {
		return nil, fmt.Errorf("read rejects: %w", err)
	}
	return out, nil
}

// saveRejects stores rj in tx with one COPY.
func saveRejects(ctx context.Context, tx pgx.Tx, id uuid.UUID, rj []Reject) error {
	if len(rj) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"feed_scarto"}, []string{"batch_id", "riga", "campo", "codice"},
		pgx.CopyFromSlice(len(rj), func(i int) ([]any, error) { return []any{id, rj[i].Line, rj[i].Field, rj[i].Code}, nil }))
	if err != nil {
		return fmt.Errorf("store rejects: %w", err)
	}
	return nil
}
