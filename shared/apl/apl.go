// Package apl is what the employment-agency functions share: who the caller
// is (its agency, role and branches) and which branches it may see or act
// for (docs/domain.md#employment-agencies-on-siisl,
// docs/contract.md#employment-agencies-apl-on-siisl).
//
// The rule is one for every route, so it lives here: an agency never sees
// another's data, and a client sees only the branches its token lists.
// Master and super clients are registered with every enabled branch of
// their agency, an operator with its own. Who manages whom (a master its
// supers, a super its operators) and which scopes each role holds are
// decided here too, so apl-users and the demo clients agree.
package apl

import (
	"slices"
	"strings"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/problem"
)

// Role is an APL client's role.
type Role string

// The roles, as a client's registration names them: master and super act
// for every enabled branch of their agency, an operator for its own.
const (
	Master   Role = "master"
	Super    Role = "super"
	Operator Role = "operatore"
)

// Tenant is the calling client of an agency.
type Tenant struct {
	APL      string   // the agency id, from org APL:<id>
	Role     Role     // master, super or operatore
	Branches []string // the branches it acts for
}

// TenantOf reads the caller from its token. A token of no agency, or of a
// client with no role or branch, is refused (403): it can see nothing.
func TenantOf(c *auth.Claims) (Tenant, error) {
	if c == nil {
		return Tenant{}, problem.New(problem.Forbidden, "an employment agency's token is required")
	}
	id, ok := strings.CutPrefix(c.Org, "APL:")
	if !ok || id == "" {
		return Tenant{}, problem.New(problem.Forbidden, "only employment agencies use this function")
	}
	role := Role(c.AplRuolo)
	if role != Master && role != Super && role != Operator {
		return Tenant{}, problem.New(problem.Forbidden, "the client has no agency role")
	}
	if len(c.Filiali) == 0 {
		return Tenant{}, problem.New(problem.Forbidden, "the client acts for no branch")
	}
	return Tenant{APL: id, Role: role, Branches: c.Filiali}, nil
}

// Sees reports whether branch is one the tenant acts for.
func (t Tenant) Sees(branch string) bool { return slices.Contains(t.Branches, branch) }

// Narrow returns the branches a request covers: all the tenant's when
// branch is empty, else that one, which must be the tenant's. A branch not
// the tenant's is refused the same whether it exists or not.
func (t Tenant) Narrow(branch string) ([]string, error) {
	if branch == "" {
		return t.Branches, nil
	}
	if !t.Sees(branch) {
		return nil, problem.Field("filiale", "not_allowed", "not a branch this client acts for")
	}
	return []string{branch}, nil
}

// Reports says whether the tenant may read the agency's daily reports.
func (t Tenant) Reports() bool { return t.Role == Master || t.Role == Super }

// ManagesUsers says whether the tenant may manage any of its agency's users
// (apl-users): a master its supers and operators, a super its operators;
// an operator manages nobody.
func (t Tenant) ManagesUsers() bool { return t.Role == Master || t.Role == Super }

// Manages says whether the tenant may create, list and disable users of
// role r. Seed 004: a master creates supers; a super (and so a master)
// creates operators. A master is registered by the Ministry, never through
// the API, so no one manages masters.
func (t Tenant) Manages(r Role) bool {
	switch r {
	case Super:
		return t.Role == Master
	case Operator:
		return t.Role == Master || t.Role == Super
	}
	return false
}

// Managed are the roles the tenant manages, for listing: none for an operator.
func (t Tenant) Managed() []Role {
	var out []Role
	for _, r := range []Role{Super, Operator} {
		if t.Manages(r) {
			out = append(out, r)
		}
	}
	return out
}

// ConfiguresPAD says whether the tenant may choose which of the agency's
// branches citizens may pick in the PAD: the super (and the master, who
// may do all a super does).
func (t Tenant) ConfiguresPAD() bool { return t.Role == Master || t.Role == Super }

// ActsForAllBranches says whether a user of role r is registered with every
// enabled branch of its agency (master, super) rather than chosen ones.
func ActsForAllBranches(r Role) bool { return r == Master || r == Super }

// ParseRole reads a role as a request or a registration names it.
func ParseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case Master, Super, Operator:
		return r, true
	}
	return "", false
}

// The scopes of the APL functions.
const (
	ScopeOffers    = "apl:offerte"
	ScopeInterests = "apl:candidature"
	ScopeCitizens  = "apl:cittadini"
	ScopeReport    = "apl:report"
	ScopeUsers     = "apl:utenti"
)

// Scopes are the scopes a client of role r is registered with: every
// agency client works offers, candidates and citizens; master and super
// also read the daily reports and manage users (apl-users). The demo
// clients and the users apl-users creates take them from here, so a role
// means the same wherever a client is made.
func Scopes(r Role) []string {
	all := []string{ScopeOffers, ScopeInterests, ScopeCitizens}
	switch r {
	case Master, Super:
		return append(all, ScopeReport, ScopeUsers)
	case Operator:
		return all
	}
	return nil
}
