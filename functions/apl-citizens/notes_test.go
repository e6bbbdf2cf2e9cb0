package function

import (
	"errors"
	"net/url"
	"testing"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/problem"
)

func TestParseNoteFilter(t *testing.T) {
	tn := apl.Tenant{APL: "1", Role: apl.Master, Branches: []string{"A", "B"}}
	cases := []struct {
		name    string
		query   string
		citizen bool
		field   string // "" with ok; "-" for the unnamed unknown parameter
		ok      func(f noteFilter) bool
	}{
		{"nothing", "", false, "", func(f noteFilter) bool { return f.limit == defaultLimit && len(f.branches) == 2 && f.from == nil }},
		{"one branch", "filiale=B", false, "", func(f noteFilter) bool { return len(f.branches) == 1 && f.branches[0] == "B" }},
		{"esito and days", "esito=POSITIVO&dal=2026-01-01&al=2026-01-31", false, "", func(f noteFilter) bool {
			return f.outcome == "POSITIVO" && f.to.Sub(*f.from).Hours() == 31*24
		}},
		{"cursor and limit", "cursor=12&limit=5", true, "", func(f noteFilter) bool { return f.after == 12 && f.limit == 5 }},
		{"another branch", "filiale=C", false, "filiale", nil},
		{"filiale on a citizen", "filiale=A", true, "-", nil},
		{"unknown", "codice_fiscale=RSSMRA85T10A562S", false, "-", nil},
		{"bad esito", "esito=FORSE", false, "esito", nil},
		{"bad day", "dal=2026-02-30", false, "dal", nil},
		{"upside down", "dal=2026-02-02&al=2026-02-01", false, "al", nil},
		{"bad cursor", "cursor=012", false, "cursor", nil},
		{"limit too big", "limit=1001", false, "limit", nil},
		{"repeated", "esito=POSITIVO&esito=NEGATIVO", false, "esito", nil},
		{"NUL", "esito=POS%00ITIVO", false, "esito", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parseNoteFilter(q, tn, c.citizen)
			if c.field == "" {
				if err != nil || !c.ok(f) {
					t.Fatalf("%+v, %v", f, err)
				}
				return
			}
			want := c.field
			if want == "-" {
				want = ""
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || len(pe.Fields) == 0 || pe.Fields[0].Field != want {
				t.Fatalf("want field %q, got %v", want, err)
			}
		})
	}
}

func TestParseID(t *testing.T) {
	for s, want := range map[string]int64{"1": 1, "40": 40, "9223372036854775807": 1<<63 - 1} {
		if n, ok := parseID(s); !ok || n != want {
			t.Errorf("%q: %d %v", s, n, ok)
		}
	}
	for _, s := range []string{"", "0", "-1", "+1", "01", "1e3", "1 ", "RSSMRA85T10A562S", "9223372036854775808", "1\x00"} {
		if _, ok := parseID(s); ok {
			t.Errorf("%q taken", s)
		}
	}
}
