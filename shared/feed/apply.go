package feed

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
)

// chunk is a run of consecutive lines, parsed: applied in one transaction.
type chunk struct {
	lines   int64   // how many lines it spans
	end     int64   // the byte offset after its last line (files)
	records [][]row // per kind, in the source's order
	refused []Reject
	stale   int64 // records superseded by a newer one of the same key in the chunk
	index   []map[string]int
}

type row = []any

func newChunk(s *Source) *chunk {
	c := &chunk{records: make([][]row, len(s.Kinds)), index: make([]map[string]int, len(s.Kinds))}
	for i := range c.index {
		c.index[i] = map[string]int{}
	}
	return c
}

// add stages r, keeping of each key only its newest record in the chunk
// (the others are stale): a statement may not change a row twice.
func (c *chunk) add(s *Source, r record) {
	ki := slices.Index(s.Kinds, r.kind)
	v := make(row, 0, 5+len(r.values))
	v = append(v, r.line, r.key, r.at, r.seq, r.gone)
	v = append(v, r.values...)
	if at, ok := c.index[ki][r.key]; ok {
		c.stale++
		if newer(c.records[ki][at], v) {
			c.records[ki][at] = v
		}
		return
	}
	c.index[ki][r.key] = len(c.records[ki])
	c.records[ki] = append(c.records[ki], v)
}

// newer reports whether staged row b supersedes a of the same key: a later
// version, or the same version sent later.
func newer(a, b row) bool {
	at, bt := a[2].(time.Time), b[2].(time.Time)
	if !at.Equal(bt) {
		return bt.After(at)
	}
	return b[3].(int64) >= a[3].(int64)
}

func (c *chunk) size() int {
	n := len(c.refused)
	for _, rs := range c.records {
		n += len(rs)
	}
	return n
}

// Counts are what a batch did with its records.
type Counts struct {
	Accepted int64 `json:"accettati"`
	Stale    int64 `json:"obsoleti"`
	Refused  int64 `json:"scartati"`
}

func (c *Counts) add(o Counts) { c.Accepted += o.Accepted; c.Stale += o.Stale; c.Refused += o.Refused }

// applyTx is how a chunk's transaction runs: again after a deadlock, or
// after a unique violation, when two batches at once created the same row
// under a key the upsert does not name (an interest in the same offer by
// the same person under two ids); the next attempt sees the other's row.
var applyTx = db.TxOptions{RetryUnique: true}

// stageName is a kind's temporary table: one per connection, emptied at
// every commit.
func stageName(k *Kind) string { return "feed_stage_" + k.Name }

func stageDDL(k *Kind) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TEMP TABLE IF NOT EXISTS %s (riga bigint NOT NULL, chiave text NOT NULL, il timestamptz NOT NULL, seq bigint NOT NULL, ritirato boolean NOT NULL", stageName(k))
	for _, col := range k.Columns {
		fmt.Fprintf(&b, ", %s %s", col.Name, col.Type)
	}
	b.WriteString(") ON COMMIT DELETE ROWS")
	return b.String()
}

func stageColumns(k *Kind) []string {
	cols := []string{"riga", "chiave", "il", "seq", "ritirato"}
	for _, col := range k.Columns {
		cols = append(cols, col.Name)
	}
	return cols
}

// apply merges c into the record in tx and returns its counts and every
// refused record, sorted by line.
func (s *Source) apply(ctx context.Context, tx pgx.Tx, c *chunk) (Counts, []Reject, error) {
	refused := slices.Clone(c.refused)
	var accepted int64
	for i, k := range s.Kinds {
		rows := c.records[i]
		if len(rows) == 0 {
			continue
		}
		stage := stageName(k)
		if _, err := tx.Exec(ctx, stageDDL(k)); err != nil {
			return Counts{}, nil, fmt.Errorf("stage %s: %w", k.Name, err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, stageColumns(k), pgx.CopyFromRows(rows)); err != nil {
			return Counts{}, nil, fmt.Errorf("stage %s: %w", k.Name, err)
		}
		// A live record no newer than its key's withdrawal is stale.
		if _, err := tx.Exec(ctx, `DELETE FROM `+stage+` s USING feed_ritiro r
			WHERE NOT s.ritirato AND r.tipo = $1 AND r.chiave = s.chiave AND (r.il, r.seq) >= (s.il, s.seq)`, k.Name); err != nil {
			return Counts{}, nil, fmt.Errorf("check %s withdrawals: %w", k.Name, err)
		}
		n, rj, err := k.Apply(ctx, tx, stage)
		if err != nil {
			return Counts{}, nil, fmt.Errorf("apply %s: %w", k.Name, err)
		}
		accepted += n
		refused = append(refused, rj...)
		// Empty now, not at commit: a later chunk of the same transaction
		// (none today) or kind must not see these rows.
		if _, err := tx.Exec(ctx, `TRUNCATE `+stage); err != nil {
			return Counts{}, nil, fmt.Errorf("empty the %s stage: %w", k.Name, err)
		}
	}
	slices.SortFunc(refused, func(a, b Reject) int { return cmp.Compare(a.Line, b.Line) })
	lines := int64(c.size()) + c.stale
	counts := Counts{Accepted: accepted, Refused: int64(len(refused))}
	counts.Stale = lines - counts.Accepted - counts.Refused
	return counts, refused, nil
}

// RefuseWhere deletes from stage the records that match cond (an SQL
// condition on s, the staged row) and returns them as rejects of field
// with code: a check the record must pass against the database (a parent
// that must exist, a code that must be in its table).
func RefuseWhere(ctx context.Context, tx pgx.Tx, stage, cond, field, code string) ([]Reject, error) {
	rows, err := tx.Query(ctx, `DELETE FROM `+stage+` s WHERE `+cond+` RETURNING s.riga`)
	if err != nil {
		return nil, fmt.Errorf("refuse %s %s: %w", field, code, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("refuse %s %s: %w", field, code, err)
	}
	out := make([]Reject, len(lines))
	for i, l := range lines {
		out[i] = Reject{Line: l, Field: field, Code: code}
	}
	return out, nil
}

// Merge runs merge, one statement that applies what it can of the staged
// records and returns a row (riga, campo, codice, NULL) for each record it
// refused and one row (NULL, NULL, NULL, n) with how many it applied: the
// checks and the upsert resolve each record's references once (a CTE),
// where RefuseWhere and a separate upsert would look them up twice.
func Merge(ctx context.Context, tx pgx.Tx, merge string, args ...any) (int64, []Reject, error) {
	rows, err := tx.Query(ctx, merge, args...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var applied int64
	var refused []Reject
	for rows.Next() {
		var line, n *int64
		var field, code *string
		if err := rows.Scan(&line, &field, &code, &n); err != nil {
			return 0, nil, err
		}
		switch {
		case line != nil && field != nil && code != nil:
			refused = append(refused, Reject{Line: *line, Field: *field, Code: *code})
		case n != nil:
			applied += *n
		}
	}
	return applied, refused, rows.Err()
}

// Withdraw applies the staged withdrawals of kind: it deletes the rows of
// table t that match (match: an SQL condition on t and s) and are older
// than the withdrawal (t.fonte_il, t.fonte_seq; a row without a version is
// older than any), then leaves a tombstone for each withdrawal that no
// newer row contradicts. Withdrawals that others still depend on must
// have been refused first (RefuseWhere). It returns how many took effect.
func Withdraw(ctx context.Context, tx pgx.Tx, kind, stage, table, match string) (int64, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM `+table+` t USING `+stage+` s
		WHERE s.ritirato AND `+match+` AND `+Older("t")); err != nil {
		return 0, fmt.Errorf("withdraw %s: %w", kind, err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO feed_ritiro (tipo, chiave, il, seq)
		SELECT $1, s.chiave, s.il, s.seq FROM `+stage+` s
		WHERE s.ritirato AND NOT EXISTS (SELECT 1 FROM `+table+` t WHERE `+match+`)
		ORDER BY s.chiave
		ON CONFLICT (tipo, chiave) DO UPDATE SET il = EXCLUDED.il, seq = EXCLUDED.seq
		WHERE (feed_ritiro.il, feed_ritiro.seq) < (EXCLUDED.il, EXCLUDED.seq)`, kind)
	if err != nil {
		return 0, fmt.Errorf("record %s withdrawals: %w", kind, err)
	}
	return tag.RowsAffected(), nil
}

// Newer is the condition of an upsert's DO UPDATE: the stored row (table
// t) has no version or an older one than the record (EXCLUDED).
func Newer(t string) string {
	return fmt.Sprintf("(%[1]s.fonte_il IS NULL OR (%[1]s.fonte_il, %[1]s.fonte_seq) < (EXCLUDED.fonte_il, EXCLUDED.fonte_seq))", t)
}

// Older is the condition that the stored row (table t) has no version or
// an older one than the staged record s: what a withdrawal may delete.
func Older(t string) string {
	return fmt.Sprintf("(%[1]s.fonte_il IS NULL OR (%[1]s.fonte_il, %[1]s.fonte_seq) < (s.il, s.seq))", t)
}
