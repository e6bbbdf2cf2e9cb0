// Package auditlog makes the audit trail a verifiable log: each record of
// audit_log becomes a leaf of an RFC 6962 Merkle tree, and signed tree heads
// commit to the log at a size, so that a changed, deleted, inserted or
// moved record is found by recomputing the tree (Verify) and a single
// record is proven to be in it by an inclusion proof that anyone can check
// offline with the published JWKS (docs/audit-log.md).
//
// Writers are not touched: package audit inserts records as before, and a
// sequencer (Log.Sequence) appends the records that have become final to
// the tree, in batches, so that no audit insert waits for the tree.
package auditlog

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Record is one row of audit_log, as the leaf encodes it.
type Record struct {
	ID             int64
	At             time.Time
	RequestID      string
	ClientID       string
	Org            string
	Function       string
	Action         string
	SubjectRef     *string
	NucleoID       *int64
	Outcome        string
	Status         int16
	OperatoreID    *string
	OperatoreRuolo *string
	OperatoreSede  *string
	OperatoreLoA   *string
}

// recordColumns are Record's columns, in the order of scan.
const recordColumns = `id, at, request_id, client_id, org, function, action, subject_ref, nucleo_id,
	outcome, status, operatore_id, operatore_ruolo, operatore_sede, operatore_loa`

// EncodedColumns are the audit_log columns a leaf commits to. A column
// added to audit_log must be added here and to the encoding (a test
// compares this list with the table); the bookkeeping column xid is not a
// fact of the access and stays out.
var EncodedColumns = []string{"id", "at", "request_id", "client_id", "org", "function", "action", "subject_ref", "nucleo_id",
	"outcome", "status", "operatore_id", "operatore_ruolo", "operatore_sede", "operatore_loa"}

func (r *Record) dest() []any {
	return []any{&r.ID, &r.At, &r.RequestID, &r.ClientID, &r.Org, &r.Function, &r.Action, &r.SubjectRef, &r.NucleoID,
		&r.Outcome, &r.Status, &r.OperatoreID, &r.OperatoreRuolo, &r.OperatoreSede, &r.OperatoreLoA}
}

// canonical is encoding version 1: a JSON object with these members in
// this order, null for what the record does not have, the time in UTC
// with microseconds (PostgreSQL's precision), so that one record has one
// encoding whoever computes it.
type canonical struct {
	V              int     `json:"v"`
	ID             int64   `json:"id"`
	At             string  `json:"at"`
	RequestID      string  `json:"request_id"`
	ClientID       string  `json:"client_id"`
	Org            string  `json:"org"`
	Function       string  `json:"function"`
	Action         string  `json:"action"`
	SubjectRef     *string `json:"subject_ref"`
	NucleoID       *int64  `json:"nucleo_id"`
	Outcome        string  `json:"outcome"`
	Status         int16   `json:"status"`
	OperatoreID    *string `json:"operatore_id"`
	OperatoreRuolo *string `json:"operatore_ruolo"`
	OperatoreSede  *string `json:"operatore_sede"`
	OperatoreLoA   *string `json:"operatore_loa"`
}

const atLayout = "2006-01-02T15:04:05.000000Z"

// Encode is the record's canonical encoding, the bytes its leaf hashes.
func Encode(r *Record) []byte {
	b, err := json.Marshal(canonical{
		V: 1, ID: r.ID, At: r.At.UTC().Truncate(time.Microsecond).Format(atLayout),
		RequestID: r.RequestID, ClientID: r.ClientID, Org: r.Org, Function: r.Function, Action: r.Action,
		SubjectRef: r.SubjectRef, NucleoID: r.NucleoID, Outcome: r.Outcome, Status: r.Status,
		OperatoreID: r.OperatoreID, OperatoreRuolo: r.OperatoreRuolo, OperatoreSede: r.OperatoreSede, OperatoreLoA: r.OperatoreLoA,
	})
	if err != nil {
		// Strings, integers and pointers to them always marshal.
		panic(fmt.Sprintf("auditlog: encode record %d: %v", r.ID, err))
	}
	return b
}

// hasher is RFC 6962's, with SHA-256.
var hasher = rfc6962.DefaultHasher

// LeafHash is RFC 6962's leaf hash of the record's canonical encoding.
func LeafHash(r *Record) []byte { return hasher.HashLeaf(Encode(r)) }
