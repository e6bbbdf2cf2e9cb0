// Package disclosure holds the statistical disclosure controls that a
// release of data about people must pass (docs/domain.md#statistical-release,
// docs/anonymisation.md): keyed pseudonyms that two recipients cannot link,
// the search for the generalisation a k-anonymous (ℓ-diverse) microdata
// release uses (lattice.go), and the threshold rule with secondary
// suppression for nested tables of counts (nested.go).
package disclosure

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
)

// Pseudonymizer turns a person's key (the canonical codice fiscale) into a
// pseudonym for one recipient: HMAC-SHA-256 under that recipient's key. The
// same person gets the same pseudonym in every release to that recipient, so
// it can follow people across periods; two recipients hold different keys,
// so they cannot join their files; without the key the pseudonym cannot be
// reversed or recomputed from a list of codici fiscali. Rotating a
// recipient's key starts a new, unlinkable series.
type Pseudonymizer struct{ key []byte }

// MinK is the smallest k a release may use, whatever a recipient asks.
const MinK = 3

// MinKeyLen is the shortest key accepted: 256 bits.
const MinKeyLen = 32

// ErrShortKey refuses a key that a search over every codice fiscale could break.
var ErrShortKey = errors.New("pseudonym key shorter than 32 bytes")

// NewPseudonymizer returns a pseudonymizer under key.
func NewPseudonymizer(key []byte) (Pseudonymizer, error) {
	if len(key) < MinKeyLen {
		return Pseudonymizer{}, ErrShortKey
	}
	return Pseudonymizer{key: append([]byte(nil), key...)}, nil
}

// domain separates these pseudonyms from any other HMAC under the same key.
const domain = "rdc-interop/pseudonym/v1\x00"

// Of returns the pseudonym of subject: 32 hex characters (128 bits).
func (p Pseudonymizer) Of(subject string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(domain))
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Sequence returns a pseudonymizer for one goroutine that reuses its HMAC
// state: an export pseudonymises millions of rows, and setting up the HMAC
// costs as much as hashing a codice fiscale.
func (p Pseudonymizer) Sequence() *Sequence {
	return &Sequence{m: hmac.New(sha256.New, p.key)}
}

// Sequence gives the same pseudonyms as the Pseudonymizer it came from. It
// is not safe for concurrent use.
type Sequence struct {
	m   hash.Hash
	sum []byte
}

// Of is Pseudonymizer.Of.
func (s *Sequence) Of(subject string) string {
	s.m.Reset()
	s.m.Write([]byte(domain))
	s.m.Write([]byte(subject))
	s.sum = s.m.Sum(s.sum[:0])
	return hex.EncodeToString(s.sum[:16])
}

// DeriveKey returns the pseudonym key of one recipient from a master key:
// keys of two recipients, or of two versions for one recipient, are
// unrelated to whoever lacks the master key. Rotating a recipient means
// moving it to the next version.
func DeriveKey(master []byte, recipient string, version int) []byte {
	m := hmac.New(sha256.New, master)
	fmt.Fprintf(m, "rdc-interop/pseudonym-key/v1\x00%s\x00%d", recipient, version)
	return m.Sum(nil)
}
