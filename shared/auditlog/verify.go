package auditlog

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/db"
)

// The kinds of problem Verify reports.
const (
	// ProblemHead: a head's signature does not verify, or its stored size
	// or root is not what it signed.
	ProblemHead = "head"
	// ProblemRoot: the tree recomputed from the records has another root
	// than a signed head of its size: a record was changed, removed,
	// inserted or moved below that head.
	ProblemRoot = "root"
	// ProblemChanged: a record no longer hashes to its leaf.
	ProblemChanged = "changed"
	// ProblemDeleted: a leaf whose record is gone, or a leaf index missing.
	ProblemDeleted = "deleted"
	// ProblemUnlogged: a record that should be a leaf (its transaction
	// ended before the sequencer's last run) and is not.
	ProblemUnlogged = "unlogged"
)

// Problem is one finding of Verify.
type Problem struct {
	Kind   string `json:"kind"`
	Leaf   int64  `json:"leaf"` // the leaf index, or -1
	Detail string `json:"detail"`
}

// Report is what Verify checked and found.
type Report struct {
	From, To uint64
	Heads    int // heads checked against the recomputed tree
	Unsigned uint64
	Problems []Problem
}

// OK is true when nothing was found.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks leaves [from, to) of the log against its signed heads:
// every head's signature against set, every record's leaf hash recomputed
// from the record itself (the stored hashes are not trusted), the tree's
// root recomputed at each head's size, and that every record that should
// be in the log is. to = 0 means up to the latest head. A from above 0
// takes the tree below it from the stored nodes, which the first head
// above from then confirms. Problems are reported, not returned as errors:
// an error means Verify could not read the log.
func Verify(ctx context.Context, q db.DBTX, set auth.JWKS, from, to uint64) (Report, error) {
	rep := Report{From: from, To: to}
	type row struct {
		size uint64
		root []byte
		jws  string
	}
	rows, err := q.Query(ctx, `SELECT size, root, jws FROM audit_tree_head ORDER BY size`)
	if err != nil {
		return rep, fmt.Errorf("read tree heads: %w", err)
	}
	heads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var h row
		err := r.Scan(&h.size, &h.root, &h.jws)
		return h, err
	})
	if err != nil {
		return rep, fmt.Errorf("read tree heads: %w", err)
	}
	roots := map[uint64][]byte{}
	var last uint64
	for _, h := range heads {
		signed, err := VerifyHead(set, h.jws)
		switch {
		case err != nil:
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemHead, Leaf: -1, Detail: fmt.Sprintf("head of size %d: %v", h.size, err)})
			continue
		case signed.Size != h.size || !bytes.Equal(signed.RootHash, h.root):
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemHead, Leaf: -1, Detail: fmt.Sprintf("head of size %d: the stored size or root is not what was signed", h.size)})
		}
		roots[signed.Size] = signed.RootHash
		last = max(last, signed.Size)
	}
	if to == 0 || to > last {
		to = last
	}
	rep.To = to
	if from > to {
		return rep, fmt.Errorf("range %d-%d: from is past the latest head (%d)", from, to, last)
	}

	r := factory.NewEmptyRange(0)
	if from > 0 {
		ids := compact.RangeNodes(0, from, nil)
		hashes := make([][]byte, len(ids))
		for i, id := range ids {
			if hashes[i], err = nodeHash(ctx, q, id); err != nil {
				return rep, err
			}
		}
		if r, err = factory.NewRange(0, from, hashes); err != nil {
			return rep, fmt.Errorf("tree below %d: %w", from, err)
		}
	}
	// checkRoot compares the recomputed tree with the signed head of its
	// size, if there is one.
	checkRoot := func() {
		want, ok := roots[r.End()]
		if !ok {
			return
		}
		rep.Heads++
		if got, err := rootOf(r); err != nil || !bytes.Equal(got, want) {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemRoot, Leaf: int64(r.End()) - 1,
				Detail: fmt.Sprintf("the records below %d do not give the root of the signed head of that size", r.End())})
		}
	}
	checkRoot()
	leaves, err := q.Query(ctx, `SELECT l.idx, l.hash, a.id IS NOT NULL, `+prefixed("a.", recordColumns)+`
		FROM audit_leaf l LEFT JOIN audit_log a ON a.id = l.audit_id
		WHERE l.idx >= $1 AND l.idx < $2 ORDER BY l.idx`, int64(from), int64(to))
	if err != nil {
		return rep, fmt.Errorf("read leaves: %w", err)
	}
	next := int64(from)
	for leaves.Next() {
		var idx int64
		var stored []byte
		var found bool
		var rec nullRecord
		if err := leaves.Scan(append([]any{&idx, &stored, &found}, rec.dest()...)...); err != nil {
			leaves.Close()
			return rep, fmt.Errorf("read leaf: %w", err)
		}
		for ; next < idx; next++ {
			// A leaf index with no row: the tree cannot be recomputed past it.
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemDeleted, Leaf: next, Detail: "no leaf at this index"})
		}
		next = idx + 1
		leaf := stored
		if !found {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemDeleted, Leaf: idx, Detail: "the leaf's record is gone"})
		} else {
			leaf = LeafHash(rec.record())
			if !bytes.Equal(leaf, stored) {
				rep.Problems = append(rep.Problems, Problem{Kind: ProblemChanged, Leaf: idx, Detail: fmt.Sprintf("record %d does not hash to its leaf", *rec.ID)})
			}
		}
		if uint64(idx) != r.End() {
			continue // after a gap, the sizes no longer line up with the heads
		}
		if err := r.Append(leaf, nil); err != nil {
			leaves.Close()
			return rep, fmt.Errorf("append leaf %d: %w", idx, err)
		}
		checkRoot()
	}
	leaves.Close()
	if err := leaves.Err(); err != nil {
		return rep, fmt.Errorf("read leaves: %w", err)
	}
	for ; next < int64(to); next++ {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemDeleted, Leaf: next, Detail: "no leaf at this index"})
	}

	// Records the sequencer has passed but that have no leaf: inserted
	// after the fact, or written with a forged transaction id.
	var state int64
	if err := q.QueryRow(ctx, `SELECT size FROM audit_log_state`).Scan(&state); err != nil {
		return rep, fmt.Errorf("read audit log state: %w", err)
	}
	rep.Unsigned = uint64(state) - min(uint64(state), last)
	unlogged, err := q.Query(ctx, `SELECT a.id FROM audit_log a
		WHERE a.xid < (SELECT below FROM audit_log_state)
		  AND NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.audit_id = a.id)
		ORDER BY a.id LIMIT 100`)
	if err != nil {
		return rep, fmt.Errorf("look for records outside the log: %w", err)
	}
	ids, err := pgx.CollectRows(unlogged, pgx.RowTo[int64])
	if err != nil {
		return rep, fmt.Errorf("look for records outside the log: %w", err)
	}
	for _, id := range ids {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemUnlogged, Leaf: -1, Detail: fmt.Sprintf("record %d should be in the log and is not", id)})
	}
	return rep, nil
}

// nullRecord scans a Record from a LEFT JOIN, whose columns may all be NULL.
type nullRecord struct {
	ID                                                            *int64
	At                                                            *time.Time
	RequestID, ClientID, Org, Function, Action, Outcome           *string
	SubjectRef, OperatoreID, OperatoreRuolo, OperatoreSede, OpLoA *string
	NucleoID                                                      *int64
	Status                                                        *int16
}

func (n *nullRecord) dest() []any {
	return []any{&n.ID, &n.At, &n.RequestID, &n.ClientID, &n.Org, &n.Function, &n.Action, &n.SubjectRef, &n.NucleoID,
		&n.Outcome, &n.Status, &n.OperatoreID, &n.OperatoreRuolo, &n.OperatoreSede, &n.OpLoA}
}

func (n *nullRecord) record() *Record {
	return &Record{ID: *n.ID, At: *n.At, RequestID: *n.RequestID, ClientID: *n.ClientID, Org: *n.Org,
		Function: *n.Function, Action: *n.Action, SubjectRef: n.SubjectRef, NucleoID: n.NucleoID, Outcome: *n.Outcome,
		Status: *n.Status, OperatoreID: n.OperatoreID, OperatoreRuolo: n.OperatoreRuolo, OperatoreSede: n.OperatoreSede, OperatoreLoA: n.OpLoA}
}
