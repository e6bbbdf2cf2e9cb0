package function

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/keyset"
	"github.com/rdc-interop/faas/shared/problem"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	c := keyset.After[uuid.UUID]{At: time.Date(2026, 5, 1, 10, 0, 0, 123456000, time.UTC), ID: uuid.MustParse("0196f1a0-0000-7000-8000-000000000001")}
	cases := []struct {
		query  string
		fields string // the fields named; "" when valid
		check  func(f filter) bool
	}{
		{"", "", func(f filter) bool {
			return f.stato == daRiscontrare && f.limit == defaultLimit && f.after == nil && f.from == nil
		}},
		{"stato=TUTTI&limit=5", "", func(f filter) bool { return f.stato == tutti && f.limit == 5 }},
		{"stato=RISCONTRATO", "", func(f filter) bool { return f.stato == riscontrato }},
		{"dal=2026-03-29&al=2026-03-29", "", func(f filter) bool { return f.to.Sub(*f.from) == 23*time.Hour }},
		{"cursor=" + c.String(), "", func(f filter) bool { return f.after != nil && f.after.At.Equal(c.At) && f.after.ID == c.ID }},
		{"stato=aperti", "stato", nil},
		{"limit=0", "limit", nil},
		{"limit=1001", "limit", nil},
		{"limit=+5", "limit", nil},
		{"dal=2026-02-30", "dal", nil},
		{"dal=2026-03-02&al=2026-03-01", "al", nil},
		{"cursor=abc", "cursor", nil},
		{"stato=TUTTI&stato=TUTTI", "stato", nil},
		{"RSSMRA85T10A562S=1", "", nil},
	}
	for _, cs := range cases {
		t.Run(cs.query, func(t *testing.T) {
			t.Parallel()
			q, _ := url.ParseQuery(cs.query)
			f, err := parseFilter(q)
			if cs.check != nil {
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
				if strings.Contains(fe.Field+fe.Detail, "RSSMRA") {
					t.Errorf("the name is repeated: %+v", fe)
				}
			}
			if strings.Join(names, ",") != cs.fields {
				t.Fatalf("fields %v, want %s", names, cs.fields)
			}
		})
	}
}
