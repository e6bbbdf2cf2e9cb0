package function

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/keyset"
	"github.com/rdc-interop/faas/shared/problem"
)

func TestParseFilter(t *testing.T) {
	tn := apl.Tenant{APL: "1", Role: apl.Super, Branches: []string{"A", "B"}}
	c := keyset.After[int64]{At: time.Date(2026, 5, 1, 10, 0, 0, 123456000, time.UTC), ID: 42}
	cases := []struct {
		query  string
		fields string // the fields named, sorted as reported; "" when valid
		check  func(f filter) bool
	}{
		{"", "", func(f filter) bool { return len(f.branches) == 2 && f.limit == defaultLimit && f.after == nil }},
		{"filiale=B&limit=5", "", func(f filter) bool { return len(f.branches) == 1 && f.branches[0] == "B" && f.limit == 5 }},
		{"dal=2026-03-29&al=2026-03-29", "", func(f filter) bool {
			// The day of the change to summer time lasts 23 hours in Rome.
			return f.to.Sub(*f.from) == 23*time.Hour && f.from.Equal(time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC))
		}},
		{"cursor=" + c.String(), "", func(f filter) bool { return f.after != nil && f.after.At.Equal(c.At) && f.after.ID == 42 }},
		{"id_offerta=0196f1a0-0000-7000-8000-000000000001", "", func(f filter) bool { return f.offer != nil }},
		{"filiale=C", "filiale", nil},
		{"limit=0", "limit", nil},
		{"limit=1001", "limit", nil},
		{"limit=x", "limit", nil},
		{"dal=2026-02-30", "dal", nil},
		{"dal=2026-03-02&al=2026-03-01", "al", nil},
		{"id_offerta=42", "id_offerta", nil},
		{"cursor=abc", "cursor", nil},
		{"limit=5&limit=6", "limit", nil},
	}
	for _, cs := range cases {
		t.Run(cs.query, func(t *testing.T) {
			q, _ := url.ParseQuery(cs.query)
			f, err := parseFilter(q, tn)
			if cs.fields == "" {
				if err != nil || !cs.check(f) {
					t.Fatalf("%+v, %v", f, err)
				}
				return
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Kind != problem.Invalid {
				t.Fatalf("want 400, got %v", err)
			}
			var names []string
			for _, fe := range pe.Fields {
				names = append(names, fe.Field)
			}
			if !strings.Contains(strings.Join(names, ","), cs.fields) {
				t.Fatalf("fields %v, want %s", names, cs.fields)
			}
		})
	}
}

// TestParseFilterText: a parameter the list does not take is refused
// without its name, which could be a codice fiscale; a value that is not
// text is refused before it reaches SQL.
func TestParseFilterText(t *testing.T) {
	tn := apl.Tenant{APL: "1", Role: apl.Super, Branches: []string{"A", "B"}}
	for query, want := range map[string]string{
		"pagina=2":             ":unknown",
		"RSSMRA85T10A562S=1":   ":unknown",
		"filiale=%00":          "filiale:control_character",
		"id_offerta=%00":       "id_offerta:control_character",
		"cursor=%FF":           "cursor:invalid_encoding",
		"dal=2026-01-01%0A":    "dal:control_character",
		"limit=5&limit=6":      "limit:repeated",
		"RSSMRA85T10A562S=%00": ":unknown",
	} {
		t.Run(query, func(t *testing.T) {
			q, _ := url.ParseQuery(query)
			_, err := parseFilter(q, tn)
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Kind != problem.Invalid {
				t.Fatalf("want 400, got %v", err)
			}
			var got []string
			for _, fe := range pe.Fields {
				got = append(got, fe.Field+":"+fe.Code)
				if strings.Contains(fe.Field+fe.Detail, "RSSMRA") || strings.Contains(fe.Field+fe.Detail, "pagina") {
					t.Errorf("the name is repeated: %+v", fe)
				}
			}
			if strings.Join(got, ",") != want {
				t.Fatalf("got %v, want %s", got, want)
			}
		})
	}
}
