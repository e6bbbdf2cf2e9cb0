package integrity

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// DigestHeader is the RFC 3230 instance digest of a body, as ModI
// INTEGRITY_REST_01 uses it: "SHA-256=<base64 of the SHA-256 of the body>".
const DigestHeader = "Digest"

// ErrDigest is wrapped by every refusal of a Digest: malformed, of no
// algorithm we compute, or not the body's.
var ErrDigest = errors.New("invalid digest")

// maxDigestHeader bounds the Digest header parsed: two SHA-512 entries are
// under 200 bytes.
const maxDigestHeader = 1 << 10

// algorithms are the digest algorithms computed (RFC 3230's registry,
// without MD5 and SHA-1, which an attacker can collide), by their
// canonical names.
var algorithms = map[string]func() hash.Hash{
	"SHA-256": sha256.New,
	"SHA-512": sha512.New,
}

// Entry is one instance-digest of a Digest header: an algorithm we
// compute and the digest it names.
type Entry struct {
	Algorithm string // canonical: SHA-256 or SHA-512
	Sum       []byte
}

// Digest is a parsed Digest header: the entries of the algorithms we
// compute, at most one each. A body matches when every entry does.
type Digest struct {
	Entries []Entry
	raw     string
}

// String is the header as it was sent (or made by DigestOf).
func (d Digest) String() string { return d.raw }

// DigestOf is the Digest header value of body: its SHA-256, as ModI asks.
func DigestOf(body []byte) string {
	sum := sha256.Sum256(body)
	return "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
}

// ParseDigest reads a Digest header (RFC 3230 §4.3.2: a comma-separated
// list of algorithm=value, the algorithm's name case-insensitive). Entries
// of algorithms we do not compute are skipped, but at least one must be
// SHA-256 or SHA-512, and each algorithm appears once: two SHA-256 entries
// could not both be checked against one body.
func ParseDigest(h string) (Digest, error) {
	bad := func(reason string) (Digest, error) { return Digest{}, fmt.Errorf("%w: %s", ErrDigest, reason) }
	h = strings.TrimSpace(h)
	if h == "" {
		return bad("empty")
	}
	if len(h) > maxDigestHeader {
		return bad("too long")
	}
	d := Digest{raw: h}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(h, ",") {
		item = strings.TrimSpace(item)
		name, value, ok := strings.Cut(item, "=")
		name = strings.ToUpper(strings.TrimSpace(name))
		if !ok || name == "" || !token(name) {
			return bad("not a list of algorithm=value")
		}
		if seen[name] {
			return bad("an algorithm named twice")
		}
		seen[name] = true
		newHash, known := algorithms[name]
		if !known {
			continue
		}
		sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil || len(sum) != newHash().Size() {
			return bad("a " + name + " value that is not the base64 of a " + name + " digest")
		}
		d.Entries = append(d.Entries, Entry{Algorithm: name, Sum: sum})
	}
	if len(d.Entries) == 0 {
		return bad("no SHA-256 or SHA-512 entry")
	}
	return d, nil
}

// token reports whether s is an RFC 9110 token (an algorithm's name).
func token(s string) bool {
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Matches reports whether body is the one every entry names.
func (d Digest) Matches(body []byte) bool {
	if len(d.Entries) == 0 {
		return false
	}
	for _, e := range d.Entries {
		h := algorithms[e.Algorithm]()
		h.Write(body)
		if subtle.ConstantTimeCompare(h.Sum(nil), e.Sum) != 1 {
			return false
		}
	}
	return true
}

// Reader returns r, checked against d as it is read: at the end of the
// body it returns an error wrapping ErrDigest instead of io.EOF when the
// body is not the one d names. It is for a body too large to be held (a
// file): whoever reads it must fail on a read error before anything it
// read is kept, as a file upload does.
func (d Digest) Reader(r io.Reader) *Reader {
	hs := make([]hash.Hash, len(d.Entries))
	ws := make([]io.Writer, len(d.Entries))
	for i, e := range d.Entries {
		hs[i] = algorithms[e.Algorithm]()
		ws[i] = hs[i]
	}
	return &Reader{r: r, d: d, hashes: hs, w: io.MultiWriter(ws...)}
}

// Reader is a body checked against its Digest as it is read.
type Reader struct {
	r        io.Reader
	d        Digest
	hashes   []hash.Hash
	w        io.Writer
	done     bool
	mismatch bool
}

func (v *Reader) Read(p []byte) (int, error) {
	if v.done {
		if v.mismatch {
			return 0, errMismatch
		}
		return 0, io.EOF
	}
	n, err := v.r.Read(p)
	_, _ = v.w.Write(p[:n])
	if errors.Is(err, io.EOF) {
		v.done = true
		for i, h := range v.hashes {
			if !bytes.Equal(h.Sum(nil), v.d.Entries[i].Sum) {
				v.mismatch = true
			}
		}
		if v.mismatch {
			return n, errMismatch
		}
	}
	return n, err
}

// Close closes the underlying body, when it can be closed.
func (v *Reader) Close() error {
	if c, ok := v.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Mismatch reports whether the body was read to its end and is not the
// one its Digest names.
func (v *Reader) Mismatch() bool { return v.mismatch }

var errMismatch = fmt.Errorf("%w: the body is not the one the Digest names", ErrDigest)
