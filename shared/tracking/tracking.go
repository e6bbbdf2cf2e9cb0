// Package tracking is the person behind a partner's call (AgID ModI
// AUDIT_REST_02) and what their role may see (seed 002).
//
// GePI and ANPAL call on behalf of their operators. A client registered so
// must send, with its access token, a tracking evidence: a JWT signed with
// the client's own registered key that names the operator (userID), their
// office (userLocation), the level of assurance of their login (LoA) and
// the role they act in (userRole). The pipeline verifies it, stores the
// operator with every audit record of the call, and refuses a route whose
// answer the role may not see; a route that can answer less (registry data
// only) asks Sees and leaves out the rest.
package tracking

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rdc-interop/faas/shared/auth"
)

// Header carries the evidence (ModI AUDIT_REST_02).
const Header = "Agid-JWT-TrackingEvidence"

// Data is how much of the beneficiaries' data an answer reveals, or a role
// may see. The zero value is Full, so a route that says nothing is treated
// as revealing everything.
type Data int

const (
	// Full is the beneficiaries' personal data in their completeness
	// (economic condition, benefits, DID and pacts, Equipe work).
	Full Data = iota
	// Registry is who the beneficiaries are and where they live (art. 3 c.1
	// lett. a n. 1), nothing else.
	Registry
	// Nothing is no beneficiary data at all.
	Nothing
)

func (d Data) String() string {
	switch d {
	case Full:
		return "full"
	case Registry:
		return "registry"
	case Nothing:
		return "nothing"
	}
	return fmt.Sprintf("Data(%d)", int(d))
}

// Roles an operator may act in. Seed 002 draws the line on GePI; the job
// centres' operators and the registry-check roles see what their exchange
// answers.
const (
	CaseManager          = "CASE_MANAGER"          // GePI: the case's reference, full data
	CoordinatorePatto    = "COORDINATORE_PATTO"    // GePI: assigns households, registry data only
	AmministratoreAmbito = "AMMINISTRATORE_AMBITO" // GePI: accredits users, no beneficiary data
	CoordinatoreAnagrafe = "COORDINATORE_CONTROLLI_ANAGRAFICI"
	ResponsabileAnagrafe = "RESPONSABILE_CONTROLLI_ANAGRAFICI"
	OperatoreCPI         = "OPERATORE_CPI" // ANPAL: a job centre's operator, full data of the exchanges
)

// sees is the one table of what each role may see.
var sees = map[string]Data{
	CaseManager:          Full,
	OperatoreCPI:         Full,
	CoordinatorePatto:    Registry,
	CoordinatoreAnagrafe: Registry,
	ResponsabileAnagrafe: Registry,
	AmministratoreAmbito: Nothing,
}

// KnownRole reports whether role is one of the roles above.
func KnownRole(role string) bool { _, ok := sees[role]; return ok }

// Operator is the person behind a call, as their platform vouched.
type Operator struct {
	UserID   string
	Location string
	LoA      string
	Role     string
}

// Sees is what o may see; a call with no operator (a platform's own job)
// sees what its client's scopes allow.
func (o *Operator) Sees() Data {
	if o == nil {
		return Full
	}
	if d, ok := sees[o.Role]; ok {
		return d
	}
	return Nothing
}

// May reports whether o may receive an answer that reveals d.
func (o *Operator) May(d Data) bool { return o.Sees() <= d }

// ErrInvalid wraps every refusal of an evidence; ErrMissing is a client
// that must send one and did not.
var (
	ErrInvalid = auth.ErrInvalidEvidence
	ErrMissing = errors.New("tracking evidence required")
)

// Verifier checks evidences, remembering the ones it verified until they
// expire: an operator's platform sends the same evidence on every call of
// a session, and a signature check per look-up would cost more than the
// look-up.
type Verifier struct {
	Audience string
	Now      func() time.Time

	mu    sync.Mutex
	known map[[32]byte]verified
}

type verified struct {
	client string
	op     Operator
	exp    time.Time
}

// maxKnown bounds the memory of verified evidences (a few hundred bytes each).
const maxKnown = 50_000

// NewVerifier checks evidences meant for audience.
func NewVerifier(audience string) *Verifier {
	return &Verifier{Audience: audience, known: map[[32]byte]verified{}}
}

// Verify returns the operator raw names, if it is a valid evidence of client,
// signed by one of keys. The memory is per client and per evidence: the
// same text presented by another client is verified afresh, and fails.
func (v *Verifier) Verify(raw, client string, keys jose.JSONWebKeySet) (*Operator, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	sum := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	k, ok := v.known[sum]
	v.mu.Unlock()
	if ok && k.client == client && now().Before(k.exp) {
		op := k.op
		return &op, nil
	}
	ev, err := auth.VerifyEvidence(raw, auth.EvidenceCheck{ClientID: client, Audience: v.Audience, Keys: keys, Now: now})
	if err != nil {
		return nil, err
	}
	if !KnownRole(ev.UserRole) {
		return nil, fmt.Errorf("%w: unknown userRole", ErrInvalid)
	}
	op := Operator{UserID: ev.UserID, Location: ev.UserLocation, LoA: ev.LoA, Role: ev.UserRole}
	v.mu.Lock()
	if len(v.known) >= maxKnown {
		t := now()
		for h, e := range v.known {
			if !t.Before(e.exp) {
				delete(v.known, h)
			}
		}
		if len(v.known) >= maxKnown {
			clear(v.known)
		}
	}
	v.known[sum] = verified{client: client, op: op, exp: ev.Expiry}
	v.mu.Unlock()
	return &op, nil
}
