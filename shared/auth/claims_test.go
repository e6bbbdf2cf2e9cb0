package auth

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClaimsJSON(t *testing.T) {
	t.Parallel()
	c := claimsAt(t0, func(c *Claims) { c.Org, c.AplRuolo, c.Filiali = "APL:123", "operatore", []string{"F1"} })
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"aud":"rdc-interop"`, `"exp":1741943400`, `"iat":1741942800`, `"apl_ruolo":"operatore"`, `"filiali":["F1"]`, `"client_id":"gepi"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back Claims
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Expiry.Equal(c.Expiry) || !back.IssuedAt.Equal(c.IssuedAt) || !slices.Equal(back.Audience, c.Audience) ||
		back.AplRuolo != c.AplRuolo || !slices.Equal(back.Filiali, c.Filiali) || back.ClientID != c.ClientID {
		t.Fatalf("round trip: %+v, want %+v", back, c)
	}

	two, _ := json.Marshal(claimsAt(t0, func(c *Claims) { c.Audience = []string{"a", "b"}; c.IssuedAt = time.Time{} }))
	if !strings.Contains(string(two), `"aud":["a","b"]`) || strings.Contains(string(two), `"iat"`) {
		t.Errorf("%s", two)
	}
	if strings.Contains(string(two), `apl_ruolo`) || strings.Contains(string(two), `filiali`) {
		t.Errorf("empty APL claims written: %s", two)
	}

	tests := []struct {
		in      string
		aud     []string
		exp     time.Time
		wantErr bool
	}{
		{`{"aud":"x","exp":1741943400}`, []string{"x"}, time.Unix(1741943400, 0), false},
		{`{"aud":["x","y"],"exp":1741943400.75}`, []string{"x", "y"}, time.Unix(1741943400, 0), false},
		{`{}`, nil, time.Time{}, false},
		{`{"aud":7}`, nil, time.Time{}, true},
		{`{"aud":["x",7]}`, nil, time.Time{}, true},
		{`{"exp":"tomorrow"}`, nil, time.Time{}, true},
		{`{"exp":1e300}`, nil, time.Time{}, true},
		{`[]`, nil, time.Time{}, true},
	}
	for _, tt := range tests {
		var c Claims
		err := json.Unmarshal([]byte(tt.in), &c)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.in, err)
			continue
		}
		if !tt.wantErr && (!slices.Equal(c.Audience, tt.aud) || !c.Expiry.Equal(tt.exp)) {
			t.Errorf("%s: aud %v exp %v", tt.in, c.Audience, c.Expiry)
		}
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	c := Claims{Scope: " rdc:did:read  rdc:patto:read\trdc:export "}
	if got := c.Scopes(); !slices.Equal(got, []string{"rdc:did:read", "rdc:patto:read", "rdc:export"}) {
		t.Fatalf("Scopes() = %q", got)
	}
	for s, want := range map[string]bool{
		"rdc:did:read": true, "rdc:export": true, "rdc:did": false, "read": false, "": false,
		"rdc:did:read rdc:patto:read": false,
	} {
		if c.HasScope(s) != want {
			t.Errorf("HasScope(%q) = %v", s, !want)
		}
	}
	if (&Claims{}).HasScope("") {
		t.Error("empty scope held by empty claims")
	}
}
