// Package apl is what the employment-agency functions share: who the caller
// is (its agency, role and branches) and which branches it may see or act
// for (docs/domain.md#employment-agencies-on-siisl,
// docs/contract.md#employment-agencies-apl-on-siisl).
//
// The rule is one for every route, so it lives here: an agency never sees
// another's data, and a client sees only the branches its token lists.
// Master and super clients are registered with every enabled branch of
// their agency, an operator with its own.
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
