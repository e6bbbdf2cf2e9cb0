package cache

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealer encrypts what the cache writes to Redis. Look-up answers name every
// member of a household: whoever reads Redis (a dump, a replica, a shared
// instance) must learn nothing from them, nor be able to plant or move one.
//
// XChaCha20-Poly1305 because its 192-bit nonces can be drawn at random for
// every value by every replica for the key's whole life; AES-GCM's 96-bit
// ones would put a bound on how many values a key may seal. The Redis key is
// the additional data, so a value copied under another key does not open.
type Sealer struct {
	keys []sealKey // the first seals; all open
}

type sealKey struct {
	id   [4]byte // tells which key sealed a value, so opening tries only that one
	aead cipher.AEAD
}

// sealVersion is the first byte of every sealed value: a later format is a
// miss for this code, never a misread.
const sealVersion = 1

const headerLen = 1 + 4 // version, key id

// minSecretLen is the shortest secret accepted: the key is derived from it,
// so it must hold the randomness itself.
const minSecretLen = 16

// ParseKeys reads the cache-key secret: one or more secrets separated by
// white space or commas. The first seals, all open: to rotate, put a new one
// first and drop the old one once the cache's TTL has passed (or at once:
// values it sealed are then misses, read again from PostgreSQL).
func ParseKeys(secret string) (*Sealer, error) {
	parts := strings.FieldsFunc(secret, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(parts) == 0 {
		return nil, errors.New("cache-key: empty")
	}
	s := &Sealer{}
	for i, p := range parts {
		if len(p) < minSecretLen {
			return nil, fmt.Errorf("cache-key: key %d is shorter than %d characters", i+1, minSecretLen)
		}
		k, err := hkdf.Key(sha256.New, []byte(p), nil, "rdc-interop/cache/v1/key", chacha20poly1305.KeySize)
		if err != nil {
			return nil, fmt.Errorf("cache-key: derive key %d: %w", i+1, err)
		}
		id, err := hkdf.Key(sha256.New, []byte(p), nil, "rdc-interop/cache/v1/id", 4)
		if err != nil {
			return nil, fmt.Errorf("cache-key: derive key id %d: %w", i+1, err)
		}
		aead, err := chacha20poly1305.NewX(k)
		if err != nil {
			return nil, fmt.Errorf("cache-key: key %d: %w", i+1, err)
		}
		sk := sealKey{aead: aead}
		copy(sk.id[:], id)
		s.keys = append(s.keys, sk)
	}
	return s, nil
}

// Seal encrypts val for storing under the Redis key key:
// version, key id, nonce, ciphertext and tag.
func (s *Sealer) Seal(key string, val []byte) []byte {
	k := s.keys[0]
	n := k.aead.NonceSize()
	out := make([]byte, headerLen+n, headerLen+n+len(val)+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:headerLen], k.id[:])
	rand.Read(out[headerLen:]) // never fails (crypto/rand)
	//nolint:gosec // G407: the nonce was just read from crypto/rand
	return k.aead.Seal(out, out[headerLen:headerLen+n], val, []byte(key))
}

// Open decrypts a value read from the Redis key key. It reports false for
// anything it cannot authenticate: a tampered value, one sealed under another
// key or by a key no longer listed, another format. For a cache all of these
// are misses.
func (s *Sealer) Open(key string, sealed []byte) ([]byte, bool) {
	if len(sealed) < headerLen || sealed[0] != sealVersion {
		return nil, false
	}
	id := sealed[1:headerLen]
	for _, k := range s.keys {
		if !bytes.Equal(k.id[:], id) {
			continue
		}
		n := k.aead.NonceSize()
		if len(sealed) < headerLen+n+k.aead.Overhead() {
			return nil, false
		}
		if val, err := k.aead.Open(nil, sealed[headerLen:headerLen+n], sealed[headerLen+n:], []byte(key)); err == nil {
			return val, true
		}
	}
	return nil, false
}
