package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"
)

// storedLevel is the lowest level whose nodes are stored (audit_node): 256
// leaves and up. Any other node of a proof is the hash of at most 128
// stored leaf hashes, and the tree costs about one node row per 128 leaves.
const storedLevel = 8

// chunk is how many records the sequencer reads and appends at a time, and
// runLimit how many one transaction takes at most (a few seconds' work),
// so that a backlog is sequenced in commits that each stand.
const (
	defaultChunk    = 5000
	defaultRunLimit = 100 * defaultChunk
)

// budget bounds one Publish: the runs it makes before it signs what it has.
// What is left waits for the next Publish.
const budget = 20 * time.Second

// LogName names this log in its heads, so a head cannot be replayed as
// another log's.
const LogName = "rdc-audit"

var factory = &compact.RangeFactory{Hash: hasher.HashChildren}

// Beginner opens transactions: a pool, or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Signer signs a head's payload as a compact JWS (auth.TreeHeadKeys).
type Signer interface {
	SignJWS(payload []byte) (string, error)
}

// Log sequences the trail into the tree and signs its heads.
type Log struct {
	db     Beginner
	signer Signer
	// chunk and runLimit are defaultChunk and defaultRunLimit but in the
	// tests of a backlog.
	chunk, runLimit int
}

// New returns the log on db; signer may be nil for a log that only
// sequences and proves (it cannot publish heads).
func New(db Beginner, signer Signer) *Log {
	return &Log{db: db, signer: signer, chunk: defaultChunk, runLimit: defaultRunLimit}
}

// Head is what a signed tree head attests: the log had Size leaves, with
// this root, at Timestamp.
type Head struct {
	Log       string    `json:"log"`
	Size      uint64    `json:"size"`
	RootHash  []byte    `json:"root_hash"`
	Timestamp time.Time `json:"timestamp"`
}

// SignedHead is a head and its JWS (typ rdc-tree-head+jws), whose payload
// is the head's JSON.
type SignedHead struct {
	Head
	JWS string `json:"jws"`
}

type state struct {
	size   uint64
	below  int64
	hashes [][]byte
}

// Publish appends what has become final to the tree and returns the
// latest signed head: a new one when the log has grown since the last,
// else the last (a head per size). It is what the schedule runs every
// minute and a caller asks for on demand.
func (l *Log) Publish(ctx context.Context) (SignedHead, error) {
	if l.signer == nil {
		return SignedHead{}, errors.New("audit log: no key to sign heads with")
	}
	if err := l.sequenceFor(ctx, budget); err != nil {
		return SignedHead{}, err
	}
	var out SignedHead
	err := l.inTx(ctx, func(tx pgx.Tx) error {
		var st state
		if err := tx.QueryRow(ctx, `SELECT size, hashes FROM audit_log_state FOR UPDATE`).Scan(&st.size, &st.hashes); err != nil {
			return fmt.Errorf("read audit log state: %w", err)
		}
		err := tx.QueryRow(ctx, `SELECT jws FROM audit_tree_head WHERE size = $1`, int64(st.size)).Scan(&out.JWS)
		switch {
		case err == nil:
			return json.Unmarshal(payloadOf(out.JWS), &out.Head)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("read tree head: %w", err)
		}
		r, err := factory.NewRange(0, st.size, st.hashes)
		if err != nil {
			return fmt.Errorf("audit log state: %w", err)
		}
		root, err := rootOf(r)
		if err != nil {
			return err
		}
		out.Head = Head{Log: LogName, Size: st.size, RootHash: root, Timestamp: time.Now().UTC().Truncate(time.Millisecond)}
		payload, err := json.Marshal(out.Head)
		if err != nil {
			return fmt.Errorf("encode tree head: %w", err)
		}
		if out.JWS, err = l.signer.SignJWS(payload); err != nil {
			return fmt.Errorf("sign tree head: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_tree_head (size, root, signed_at, jws) VALUES ($1, $2, $3, $4)`,
			int64(st.size), root, out.Timestamp, out.JWS); err != nil {
			return fmt.Errorf("store tree head: %w", err)
		}
		return nil
	})
	return out, err
}

// Sequence appends what has become final to the tree, without signing,
// for as long as it takes; it returns the log's size.
func (l *Log) Sequence(ctx context.Context) (uint64, error) {
	if err := l.sequenceFor(ctx, 0); err != nil {
		return 0, err
	}
	var size uint64
	err := l.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT size FROM audit_log_state`).Scan(&size); err != nil {
			return fmt.Errorf("read audit log state: %w", err)
		}
		return nil
	})
	return size, err
}

// sequenceFor runs the sequencer until a pass is done, or for at most d
// (0: no bound).
func (l *Log) sequenceFor(ctx context.Context, d time.Duration) error {
	start := time.Now()
	for {
		var done bool
		if err := l.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			_, done, err = l.sequence(ctx, tx)
			return err
		}); err != nil {
			return err
		}
		if done || (d > 0 && time.Since(start) > d) {
			return nil
		}
	}
}

func (l *Log) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	tx, err := l.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // after Commit, a no-op
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("audit log: commit: %w", err)
	}
	return nil
}

// rootOf is the root of a range from leaf 0: RFC 6962's hash of the empty
// string for an empty log.
func rootOf(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return hasher.EmptyRoot(), nil
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, fmt.Errorf("tree root: %w", err)
	}
	return root, nil
}

// sequence appends to the tree, in tx, the records whose transactions
// have ended: those with xid in [state.below, target), target being the
// oldest transaction still running when the pass began. A pass over a
// large backlog (the trail that existed before the log) is cut into runs
// of at most runLimit records, each its own transaction, resumed from the
// state's cursor; done says the pass reached its target. The state row's
// lock makes sequencers take turns; the records' writers never wait.
func (l *Log) sequence(ctx context.Context, tx pgx.Tx) (st state, done bool, err error) {
	var target, afterXid, afterID int64
	if err := tx.QueryRow(ctx, `SELECT size, below::text::bigint, hashes, target::text::bigint, after_xid::text::bigint, after_id
		FROM audit_log_state FOR UPDATE`).Scan(&st.size, &st.below, &st.hashes, &target, &afterXid, &afterID); err != nil {
		return st, false, fmt.Errorf("read audit log state: %w", err)
	}
	if target <= st.below {
		// A new pass, up to the oldest transaction still running.
		if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&target); err != nil {
			return st, false, fmt.Errorf("read the oldest running transaction: %w", err)
		}
		if target <= st.below {
			return st, true, nil
		}
		afterXid, afterID = st.below, 0
	}
	r, err := factory.NewRange(0, st.size, st.hashes)
	if err != nil {
		return st, false, fmt.Errorf("audit log state: %w", err)
	}
	done = false
	for taken := 0; taken < l.runLimit; {
		n, err := appendChunk(ctx, tx, r, &afterXid, &afterID, target, l.chunk)
		if err != nil {
			return st, false, err
		}
		taken += n
		if n < l.chunk {
			done = true
			break
		}
	}
	st.size, st.hashes = r.End(), r.Hashes()
	if st.hashes == nil {
		st.hashes = [][]byte{}
	}
	if done {
		st.below = target
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_log_state SET size = $1, below = $2::text::xid8, hashes = $3,
		target = $4::text::xid8, after_xid = $5::text::xid8, after_id = $6`,
		int64(st.size), fmt.Sprint(st.below), st.hashes, fmt.Sprint(target), fmt.Sprint(afterXid), afterID); err != nil {
		return st, false, fmt.Errorf("store audit log state: %w", err)
	}
	return st, done, nil
}

// appendChunk appends to r the next records after (afterXid, afterID) with
// xid below target, at most chunk of them, storing their leaves and the
// nodes from storedLevel up; it moves the cursor and returns how many.
func appendChunk(ctx context.Context, tx pgx.Tx, r *compact.Range, afterXid, afterID *int64, target int64, chunk int) (int, error) {
	// ORDER BY names the table's columns: the select list's cast of xid
	// would otherwise be what is sorted, and the index not used.
	rows, err := tx.Query(ctx, `SELECT `+recordColumns+`, xid::text::bigint AS xid_number FROM audit_log
		WHERE (xid, id) > ($1::text::xid8, $2) AND xid < $3::text::xid8
		ORDER BY audit_log.xid, audit_log.id LIMIT `+fmt.Sprint(chunk), fmt.Sprint(*afterXid), *afterID, fmt.Sprint(target))
	if err != nil {
		return 0, fmt.Errorf("read audit records to sequence: %w", err)
	}
	var leaves, nodes [][]any
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level >= storedLevel {
			nodes = append(nodes, []any{int16(id.Level), int64(id.Index), hash})
		}
	}
	for rows.Next() {
		var rec Record
		if err := rows.Scan(append(rec.dest(), afterXid)...); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read audit record: %w", err)
		}
		*afterID = rec.ID
		leaf := LeafHash(&rec)
		leaves = append(leaves, []any{int64(r.End()), rec.ID, leaf})
		if err := r.Append(leaf, visit); err != nil {
			rows.Close()
			return 0, fmt.Errorf("append leaf: %w", err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read audit records to sequence: %w", err)
	}
	if len(leaves) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_leaf"}, []string{"idx", "audit_id", "hash"}, pgx.CopyFromRows(leaves)); err != nil {
			return 0, fmt.Errorf("store leaves: %w", err)
		}
	}
	if len(nodes) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_node"}, []string{"level", "idx", "hash"}, pgx.CopyFromRows(nodes)); err != nil {
			return 0, fmt.Errorf("store tree nodes: %w", err)
		}
	}
	return len(leaves), nil
}
