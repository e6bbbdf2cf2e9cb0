package apl

import (
	"slices"
	"testing"

	"github.com/rdc-interop/faas/shared/auth"
	"github.com/rdc-interop/faas/shared/problem"
)

func TestTenantOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		claims *auth.Claims
		want   *Tenant // nil: refused with 403
	}{
		{"operator", &auth.Claims{Org: "APL:1001", AplRuolo: "operatore", Filiali: []string{"1001-RM01"}},
			&Tenant{APL: "1001", Role: Operator, Branches: []string{"1001-RM01"}}},
		{"master", &auth.Claims{Org: "APL:7", AplRuolo: "master", Filiali: []string{"a", "b"}},
			&Tenant{APL: "7", Role: Master, Branches: []string{"a", "b"}}},
		{"not an agency", &auth.Claims{Org: "GEPI", AplRuolo: "master", Filiali: []string{"a"}}, nil},
		{"empty agency id", &auth.Claims{Org: "APL:", AplRuolo: "master", Filiali: []string{"a"}}, nil},
		{"no role", &auth.Claims{Org: "APL:1", Filiali: []string{"a"}}, nil},
		{"unknown role", &auth.Claims{Org: "APL:1", AplRuolo: "admin", Filiali: []string{"a"}}, nil},
		{"no branch", &auth.Claims{Org: "APL:1", AplRuolo: "super"}, nil},
		{"no token", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := TenantOf(c.claims)
			if c.want == nil {
				if problem.KindOf(err) != problem.Forbidden {
					t.Fatalf("got %+v, %v; want 403", got, err)
				}
				return
			}
			if err != nil || got.APL != c.want.APL || got.Role != c.want.Role || len(got.Branches) != len(c.want.Branches) {
				t.Fatalf("got %+v, %v; want %+v", got, err, *c.want)
			}
		})
	}
}

func TestNarrow(t *testing.T) {
	t.Parallel()
	tn := Tenant{APL: "1", Role: Super, Branches: []string{"a", "b"}}
	if got, err := tn.Narrow(""); err != nil || len(got) != 2 {
		t.Errorf("all branches: %v, %v", got, err)
	}
	if got, err := tn.Narrow("b"); err != nil || len(got) != 1 || got[0] != "b" {
		t.Errorf("one branch: %v, %v", got, err)
	}
	if _, err := tn.Narrow("c"); problem.KindOf(err) != problem.Invalid {
		t.Errorf("another's branch: %v", err)
	}
	if !tn.Reports() || (Tenant{Role: Operator}).Reports() {
		t.Error("only master and super read reports")
	}
}

func TestRoleRules(t *testing.T) {
	t.Parallel()
	cases := []struct {
		role                 Role
		users, pad           bool
		master, super, oper  bool
		managed              []Role
		scopesReport, scopeU bool
	}{
		{Master, true, true, false, true, true, []Role{Super, Operator}, true, true},
		{Super, true, true, false, false, true, []Role{Operator}, true, true},
		{Operator, false, false, false, false, false, nil, false, false},
	}
	for _, c := range cases {
		t.Run(string(c.role), func(t *testing.T) {
			t.Parallel()
			tn := Tenant{APL: "1", Role: c.role, Branches: []string{"a"}}
			if tn.ManagesUsers() != c.users || tn.ConfiguresPAD() != c.pad {
				t.Errorf("manages users %v, configures PAD %v", tn.ManagesUsers(), tn.ConfiguresPAD())
			}
			if tn.Manages(Master) != c.master || tn.Manages(Super) != c.super || tn.Manages(Operator) != c.oper {
				t.Errorf("manages master %v super %v operator %v", tn.Manages(Master), tn.Manages(Super), tn.Manages(Operator))
			}
			if got := tn.Managed(); !slices.Equal(got, c.managed) {
				t.Errorf("managed %v, want %v", got, c.managed)
			}
			s := Scopes(c.role)
			if slices.Contains(s, ScopeReport) != c.scopesReport || slices.Contains(s, ScopeUsers) != c.scopeU {
				t.Errorf("scopes %v", s)
			}
			for _, want := range []string{ScopeOffers, ScopeInterests, ScopeCitizens} {
				if !slices.Contains(s, want) {
					t.Errorf("scopes %v lack %s", s, want)
				}
			}
		})
	}
	if (Tenant{Role: "admin"}).Manages(Operator) || Scopes("admin") != nil {
		t.Error("an unknown role manages or holds something")
	}
	if !ActsForAllBranches(Master) || !ActsForAllBranches(Super) || ActsForAllBranches(Operator) {
		t.Error("branches by role")
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Role // "": refused
	}{
		{"master", Master}, {"super", Super}, {"operatore", Operator},
		{"", ""}, {"Super", ""}, {"operator", ""}, {"super\t", ""},
	}
	for _, c := range cases {
		got, ok := ParseRole(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("ParseRole(%q) = %q, %v", c.in, got, ok)
		}
	}
}
