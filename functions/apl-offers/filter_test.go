package function

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/problem"
)

var (
	master   = apl.Tenant{APL: "1001", Role: apl.Master, Branches: []string{"1001-RM01", "1001-MI01"}}
	operator = apl.Tenant{APL: "1001", Role: apl.Operator, Branches: []string{"1001-RM01"}}
)

// TestParseList: each parameter's good and bad values; a bad one is named,
// an unknown one is not, and no detail repeats what was sent.
func TestParseList(t *testing.T) {
	good := offerCursor(uuid.MustParse("0192f0c4-6c1e-7a3b-8f00-000000000001"))
	cases := []struct {
		name   string
		t      apl.Tenant
		query  string
		fields string // the fields named, in order; "-" for the unnamed unknown one; "" when accepted
		check  func(listFilter) bool
	}{
		{"nothing", master, "", "", func(f listFilter) bool { return f.limit == defaultLimit && len(f.branches) == 2 }},
		{"the operator's branches", operator, "", "", func(f listFilter) bool { return len(f.branches) == 1 && f.branches[0] == "1001-RM01" }},
		{"one branch", master, "filiale=1001-MI01", "", func(f listFilter) bool { return len(f.branches) == 1 && f.branches[0] == "1001-MI01" }},
		{"another branch", operator, "filiale=1001-MI01", "filiale", nil},
		{"a branch that does not exist", operator, "filiale=9999-XX01", "filiale", nil},
		{"every state", master, "stato=SCADUTA", "", func(f listFilter) bool { return *f.stato == Scaduta }},
		{"a draft", master, "stato=BOZZA", "", func(f listFilter) bool { return *f.stato == Bozza }},
		{"a state in lower case", master, "stato=bozza", "stato", nil},
		{"an unknown state", master, "stato=APERTA", "stato", nil},
		{"dates", master, "pubblicazione_dal=2026-01-01&pubblicazione_al=2026-01-31", "",
			func(f listFilter) bool { return f.from.String() == "2026-01-01" && f.to.String() == "2026-01-31" }},
		{"one day", master, "pubblicazione_dal=2026-01-01&pubblicazione_al=2026-01-01", "", nil},
		{"dates reversed", master, "pubblicazione_dal=2026-02-01&pubblicazione_al=2026-01-31", "pubblicazione_al", nil},
		{"a bad date", master, "pubblicazione_dal=ieri", "pubblicazione_dal", nil},
		{"an impossible date", master, "pubblicazione_al=2026-02-30", "pubblicazione_al", nil},
		{"exact reference", master, "riferimento=R-1/2", "", func(f listFilter) bool { return *f.rif == "R-1/2" && f.prefix == nil }},
		{"reference prefix", master, "riferimento=R-*", "", func(f listFilter) bool { return *f.prefix == "R-" && f.rif == nil }},
		{"a bare star", master, "riferimento=*", "riferimento", nil},
		{"a star inside", master, "riferimento=R*1", "riferimento", nil},
		{"a LIKE wildcard", master, "riferimento=R%25", "riferimento", nil},
		{"a reference too long", master, "riferimento=" + strings.Repeat("a", 65), "riferimento", nil},
		{"cursor", master, "cursor=" + good, "", func(f listFilter) bool { return offerCursor(*f.after) == good }},
		{"a bad cursor", master, "cursor=xyz", "cursor", nil},
		{"a cursor with padding", master, "cursor=" + good + "%3D%3D", "cursor", nil},
		{"limit", master, "limit=1000", "", func(f listFilter) bool { return f.limit == 1000 }},
		{"limit 0", master, "limit=0", "limit", nil},
		{"limit too big", master, "limit=1001", "limit", nil},
		{"limit with a sign", master, "limit=%2B5", "limit", nil},
		{"limit with leading zero", master, "limit=05", "limit", nil},
		{"an unknown parameter", master, "RSSMRA85T10A562S=1", "-", nil},
		{"an unknown and a known one", master, "pagina=2&limit=0", "-", nil},
		{"a repeated parameter", master, "stato=BOZZA&stato=CHIUSA", "stato", nil},
		{"NUL in a string", master, "riferimento=R%00", "riferimento", nil},
		{"several", master, "stato=X&limit=x&cursor=%3F", "stato,cursor,limit", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parseList(q, c.t)
			if c.fields == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.check != nil && !c.check(f) {
					t.Fatalf("filter %+v", f)
				}
				return
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Kind != problem.Invalid {
				t.Fatalf("error %v, want a 400", err)
			}
			var got []string
			for _, fe := range pe.Fields {
				name := fe.Field
				if name == "" {
					name = "-"
				}
				got = append(got, name)
				for _, v := range q {
					if len(v[0]) > 2 && strings.Contains(fe.Detail, v[0]) {
						t.Errorf("detail %q repeats a value", fe.Detail)
					}
				}
			}
			if strings.Join(got, ",") != c.fields {
				t.Fatalf("fields %v, want %s", got, c.fields)
			}
		})
	}
}

// TestOfferCursor: a cursor reads back to its id, and only its own
// spelling does.
func TestOfferCursor(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	s := offerCursor(id)
	if got, err := parseOfferCursor(s); err != nil || got != id {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", s + "A", s[:len(s)-1], s + "\n", strings.ToUpper(s), "AAAAAAAAAAAAAAAAAAAAA_", "////////////////////////"} {
		if got, err := parseOfferCursor(bad); err == nil && offerCursor(got) != bad {
			t.Errorf("%q read as %v", bad, got)
		}
	}
	// The last character of 16 bytes holds 2 padding bits: another value
	// for them is another spelling of the same id, refused.
	alt := []byte(s)
	alt[len(alt)-1] ^= 1
	if _, err := parseOfferCursor(string(alt)); err == nil {
		if got, _ := parseOfferCursor(string(alt)); got == id {
			t.Errorf("%q, a second spelling of the cursor, read as the same id", alt)
		}
	}
}

func TestLikePrefix(t *testing.T) {
	for in, want := range map[string]string{"R-": "R-%", "R_1": `R\_1%`, "a.b/c": "a.b/c%"} {
		if got := likePrefix(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
