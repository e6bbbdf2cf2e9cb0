package tracking

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestSees(t *testing.T) {
	tests := []struct {
		op      *Operator
		sees    Data
		mayFull bool
		mayReg  bool
	}{
		{nil, Full, true, true}, // a platform's own call
		{&Operator{Role: CaseManager}, Full, true, true},
		{&Operator{Role: OperatoreCPI}, Full, true, true},
		{&Operator{Role: CoordinatorePatto}, Registry, false, true},
		{&Operator{Role: ResponsabileAnagrafe}, Registry, false, true},
		{&Operator{Role: AmministratoreAmbito}, Nothing, false, false},
		{&Operator{Role: "SOMEONE"}, Nothing, false, false},
	}
	for _, tt := range tests {
		if got := tt.op.Sees(); got != tt.sees {
			t.Errorf("%+v sees %v, want %v", tt.op, got, tt.sees)
		}
		if tt.op.May(Full) != tt.mayFull || tt.op.May(Registry) != tt.mayReg || !tt.op.May(Nothing) {
			t.Errorf("%+v: May(full) %v, May(registry) %v", tt.op, tt.op.May(Full), tt.op.May(Registry))
		}
	}
}

type signer struct {
	keys jose.JSONWebKeySet
	s    jose.Signer
}

func newSigner(t *testing.T) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return signer{keys: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, Algorithm: "ES256"}}}, s: s}
}

func (s signer) sign(t *testing.T, iss, role string, now time.Time, ttl time.Duration) string {
	t.Helper()
	raw, err := jwt.Signed(s.s).Claims(map[string]any{"iss": iss, "aud": "rdc-interop", "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"userID": "OPR1", "userLocation": "ATS", "LoA": "LoA3", "userRole": role}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestVerifierMemory: a verified evidence is remembered for its client only
// and only until it expires.
func TestVerifierMemory(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	v := NewVerifier("rdc-interop")
	v.Now = func() time.Time { return now }
	a, b := newSigner(t), newSigner(t)
	raw := a.sign(t, "client-a", CaseManager, now, time.Minute)

	op, err := v.Verify(raw, "client-a", a.keys)
	if err != nil || op.UserID != "OPR1" || op.Role != CaseManager || op.Location != "ATS" || op.LoA != "LoA3" {
		t.Fatalf("%+v %v", op, err)
	}
	// Remembered: verified again without keys.
	if _, err := v.Verify(raw, "client-a", jose.JSONWebKeySet{}); err != nil {
		t.Fatalf("remembered evidence: %v", err)
	}
	// Another client presenting it is checked afresh, against its own keys.
	if _, err := v.Verify(raw, "client-b", b.keys); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another client's evidence: %v", err)
	}
	// Signed by b's key while claiming to be a's: refused.
	if _, err := v.Verify(b.sign(t, "client-a", CaseManager, now, time.Minute), "client-a", a.keys); !errors.Is(err, ErrInvalid) {
		t.Fatalf("signed by another client's key: %v", err)
	}
	// Past its expiry the memory does not help.
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(raw, "client-a", a.keys); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired evidence: %v", err)
	}
	// A role the system does not know is refused.
	if _, err := v.Verify(a.sign(t, "client-a", "DIRETTORE", now, time.Minute), "client-a", a.keys); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown role: %v", err)
	}
}
