package function

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/keyset"
	"github.com/rdc-interop/faas/shared/problem"
)

func TestParseQuery(t *testing.T) {
	t.Parallel()
	c := keyset.After[int64]{At: time.Date(2026, 5, 1, 10, 0, 0, 123456000, time.UTC), ID: 42}
	cases := []struct {
		query  string
		fields string // the fields named; "" when valid
		check  func(q Query) bool
	}{
		{"", "", func(q Query) bool { return q.Limit == DefaultLimit && q.After == nil && q.From == nil && q.To == nil }},
		{"limit=5", "", func(q Query) bool { return q.Limit == 5 }},
		{"limit=1000", "", func(q Query) bool { return q.Limit == MaxLimit }},
		{"dal=2026-03-29&al=2026-03-29", "", func(q Query) bool { return q.To.Sub(*q.From) == 23*time.Hour }},
		{"dal=2026-01-10", "", func(q Query) bool {
			return q.To == nil && q.From.Equal(time.Date(2026, 1, 9, 23, 0, 0, 0, time.UTC))
		}},
		{"al=2026-07-10", "", func(q Query) bool {
			return q.From == nil && q.To.Equal(time.Date(2026, 7, 10, 22, 0, 0, 0, time.UTC))
		}},
		{"cursor=" + c.String(), "", func(q Query) bool { return q.After != nil && q.After.At.Equal(c.At) && q.After.ID == 42 }},
		{"limit=0", "limit", nil},
		{"limit=1001", "limit", nil},
		{"limit=05", "limit", nil},
		{"dal=2026-02-30", "dal", nil},
		{"dal=2026-03-02&al=2026-03-01", "al", nil},
		{"cursor=abc", "cursor", nil},
		{"cursor=" + keyset.After[int64]{At: c.At, ID: 1}.String() + "=", "cursor", nil},
		{"limit=5&limit=5", "limit", nil},
		{"dal=x&limit=x&cursor=x", "dal,cursor,limit", nil},
		// A parameter no question takes is refused without its name,
		// which could be a person's code.
		{"RSSMRA85T10A562S=1", "", nil},
		{"codice_fiscale=RSSMRA85T10A562S", "", nil},
	}
	for _, cs := range cases {
		t.Run(cs.query, func(t *testing.T) {
			t.Parallel()
			v, _ := url.ParseQuery(cs.query)
			q, err := ParseQuery(v)
			if cs.check != nil {
				if err != nil || !cs.check(q) {
					t.Fatalf("%+v, %v", q, err)
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
				if strings.Contains(fe.Field+fe.Detail+pe.Detail, "RSSMRA") {
					t.Errorf("the name is repeated: %+v", fe)
				}
			}
			if strings.Join(names, ",") != cs.fields {
				t.Fatalf("fields %v, want %s", names, cs.fields)
			}
		})
	}
}

// TestQuerySQL: only the bounds asked are written in, and every page is
// ordered newest first by the index's columns, one row more than asked.
func TestQuerySQL(t *testing.T) {
	t.Parallel()
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	after := keyset.After[int64]{At: to.Add(-time.Hour), ID: 7}
	sql, args := Query{Limit: 10}.SubjectSQL("ref")
	if !strings.HasSuffix(sql, "WHERE subject_ref = @key ORDER BY at DESC, id DESC LIMIT @limit") || args["key"] != "ref" || args["limit"] != 11 || len(args) != 2 {
		t.Fatalf("%s %v", sql, args)
	}
	sql, args = Query{From: &from, To: &to, After: &after, Limit: 3}.ClientSQL("gepi")
	for _, part := range []string{", subject_ref FROM audit_log WHERE client_id = @key", "AND at >= @from", "AND at < @to", "AND (at, id) < (@after_at, @after_id)"} {
		if !strings.Contains(sql, part) {
			t.Errorf("%s lacks %s", sql, part)
		}
	}
	if args["from"] != from || args["to"] != to || args["after_at"] != after.At || args["after_id"] != int64(7) || args["limit"] != 4 {
		t.Errorf("%v", args)
	}
}

func TestValidClientID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"gepi": true, "apl-1001-operatore": true, "-": true, "regione-12": true, "a.b:c_d": true,
		"": false, "a b": false, "gepi/x": false, strings.Repeat("a", 129): false,
		"RSSMRA85T10A562S": false, "x-RSSMRA85T10A562S": false, "rssmra85t10a562s": false,
	} {
		if got := ValidClientID(id); got != want {
			t.Errorf("%q: %v, want %v", id, got, want)
		}
	}
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	if Rows(3) != "rows:3" || ClientOutcome("gepi", 0) != "client:gepi rows:0" {
		t.Fatal(Rows(3), ClientOutcome("gepi", 0))
	}
}
