package auditlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/db"
)

// ErrNotSequenced is returned for a record that is not a leaf yet: its
// transaction had not ended at the sequencer's last run.
var ErrNotSequenced = errors.New("audit record not in the log yet")

// Inclusion is what proves one record is in the log, verifiable offline
// with the published JWKS (VerifyInclusion): the record's canonical
// encoding, its leaf index, a signed head of a larger log, and the
// RFC 6962 audit path between them.
type Inclusion struct {
	Record []byte   `json:"record"` // Encode's bytes
	Index  uint64   `json:"leaf_index"`
	Head   string   `json:"tree_head"` // the head's JWS
	Proof  [][]byte `json:"inclusion_proof"`
}

// Include returns the inclusion of the record with audit id id, against
// the latest signed head that covers it, publishing one if none does yet.
func (l *Log) Include(ctx context.Context, q db.DBTX, id int64) (Inclusion, error) {
	var in Inclusion
	var rec Record
	var idx int64
	err := q.QueryRow(ctx, `SELECT l.idx, `+prefixed("a.", recordColumns)+`
		FROM audit_leaf l JOIN audit_log a ON a.id = l.audit_id WHERE l.audit_id = $1`, id).
		Scan(append([]any{&idx}, rec.dest()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := l.Publish(ctx); err != nil {
			return in, err
		}
		err = q.QueryRow(ctx, `SELECT l.idx, `+prefixed("a.", recordColumns)+`
			FROM audit_leaf l JOIN audit_log a ON a.id = l.audit_id WHERE l.audit_id = $1`, id).
			Scan(append([]any{&idx}, rec.dest()...)...)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return in, ErrNotSequenced
	}
	if err != nil {
		return in, fmt.Errorf("read audit leaf: %w", err)
	}
	in.Record, in.Index = Encode(&rec), uint64(idx)
	var size int64
	err = q.QueryRow(ctx, `SELECT size, jws FROM audit_tree_head WHERE size > $1 ORDER BY size DESC LIMIT 1`, idx).Scan(&size, &in.Head)
	if errors.Is(err, pgx.ErrNoRows) {
		var h SignedHead
		if h, err = l.Publish(ctx); err == nil {
			size, in.Head = int64(h.Size), h.JWS
		}
	}
	if err != nil {
		return in, fmt.Errorf("read tree head: %w", err)
	}
	if in.Proof, err = InclusionProof(ctx, q, in.Index, uint64(size)); err != nil {
		return in, err
	}
	return in, nil
}

// VerifyInclusion checks in offline: the head's signature against set
// (a key published for tree heads), then the audit path from the
// record's leaf hash to the head's root. It returns the verified head.
func VerifyInclusion(set auth.JWKS, in Inclusion) (Head, error) {
	h, err := VerifyHead(set, in.Head)
	if err != nil {
		return h, err
	}
	if err := proof.VerifyInclusion(hasher, in.Index, h.Size, hasher.HashLeaf(in.Record), in.Proof, h.RootHash); err != nil {
		return h, fmt.Errorf("inclusion proof: %w", err)
	}
	return h, nil
}

// VerifyHead checks a head's JWS against set and returns the head.
func VerifyHead(set auth.JWKS, jws string) (Head, error) {
	var h Head
	payload, err := auth.VerifyJWS(set, auth.TypTreeHead, jws)
	if err != nil {
		return h, fmt.Errorf("tree head: %w", err)
	}
	if err := json.Unmarshal(payload, &h); err != nil {
		return h, fmt.Errorf("tree head: %w", err)
	}
	if h.Log != LogName {
		return h, fmt.Errorf("tree head of log %q, want %q", h.Log, LogName)
	}
	return h, nil
}

// InclusionProof is the audit path of leaf index in the tree of size.
func InclusionProof(ctx context.Context, q db.DBTX, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	return rehash(ctx, q, nodes)
}

// ConsistencyProof proves the tree of size2 extends the tree of size1.
func ConsistencyProof(ctx context.Context, q db.DBTX, size1, size2 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	return rehash(ctx, q, nodes)
}

func rehash(ctx context.Context, q db.DBTX, nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := nodeHash(ctx, q, id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	out, err := nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("proof: %w", err)
	}
	return out, nil
}

// nodeHash is the hash of a perfect subtree: stored from storedLevel up,
// else computed from its leaves' stored hashes.
func nodeHash(ctx context.Context, q db.DBTX, id compact.NodeID) ([]byte, error) {
	if id.Level >= storedLevel {
		var h []byte
		if err := q.QueryRow(ctx, `SELECT hash FROM audit_node WHERE level = $1 AND idx = $2`, int16(id.Level), int64(id.Index)).Scan(&h); err != nil {
			return nil, fmt.Errorf("read tree node %d/%d: %w", id.Level, id.Index, err)
		}
		return h, nil
	}
	begin, end := id.Coverage()
	rows, err := q.Query(ctx, `SELECT hash FROM audit_leaf WHERE idx >= $1 AND idx < $2 ORDER BY idx`, int64(begin), int64(end))
	if err != nil {
		return nil, fmt.Errorf("read leaves %d-%d: %w", begin, end, err)
	}
	leaves, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("read leaves %d-%d: %w", begin, end, err)
	}
	if uint64(len(leaves)) != end-begin {
		return nil, fmt.Errorf("leaves %d-%d: %d stored", begin, end, len(leaves))
	}
	r := factory.NewEmptyRange(begin)
	for _, h := range leaves {
		if err := r.Append(h, nil); err != nil {
			return nil, fmt.Errorf("leaves %d-%d: %w", begin, end, err)
		}
	}
	if hs := r.Hashes(); len(hs) == 1 {
		return hs[0], nil
	}
	return nil, fmt.Errorf("leaves %d-%d: not a perfect subtree", begin, end)
}

// payloadOf is the payload of a compact JWS this log signed itself,
// unverified: for reading back a stored head.
func payloadOf(jws string) []byte {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	return b
}

func prefixed(prefix, columns string) string {
	var b bytes.Buffer
	for i, c := range strings.Split(columns, ",") {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix + strings.TrimSpace(c))
	}
	return b.String()
}

// ParseHead reads a head this log signed and stored, without verifying
// it: for serving it back (VerifyHead is what a reader uses).
func ParseHead(jws string) (Head, error) {
	var h Head
	if err := json.Unmarshal(payloadOf(jws), &h); err != nil {
		return h, fmt.Errorf("stored tree head: %w", err)
	}
	return h, nil
}
