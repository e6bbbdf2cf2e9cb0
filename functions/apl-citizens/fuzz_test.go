package function

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/civil"
)

// FuzzParseID: a path segment is a citizen's id only in the form a search
// writes it, never a panic.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "042", "-1", "+7", "RSSMRA85T10A562S", "1\x00", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseID(s)
		if ok && (n < 1 || parseIDString(n) != s) {
			t.Fatalf("%q read as %d", s, n)
		}
	})
}

// parseIDString writes an id as a search's default order does.
func parseIDString(n int64) string {
	o, _ := parseOrder("", "", "")
	return o.encode(position{id: n})
}

// FuzzCursor: any cursor, under any order, is refused or reads back as a
// position that writes the very same cursor.
func FuzzCursor(f *testing.F) {
	age, _ := parseOrder("ETA", "", "")
	f.Add("ETA", "", "", age.encode(position{key: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), id: 3}))
	f.Add("", "", "", "42")
	f.Add("PERTINENZA", "", "cuoco", "UEVSVElORU5aQTpEOjA6MC4xOjU")
	f.Add("DATA_SCELTA", "DECRESCENTE", "", "!!")
	f.Add("TITOLO_STUDIO", "CRESCENTE", "", "VElUT0xPX1NUVURJTzpBOi06NDo5")
	f.Fuzz(func(t *testing.T, key, dir, words, cursor string) {
		o, bad := parseOrder(key, dir, words)
		if len(bad) > 0 {
			return
		}
		p, err := o.decode(cursor)
		if err != nil {
			return
		}
		if p.id < 1 || o.encode(p) != cursor {
			t.Fatalf("%q under %+v read as %+v", cursor, o, p)
		}
	})
}

// FuzzSearchCheck: any request members give a query or named field errors;
// a query's cursor belongs to its order.
func FuzzSearchCheck(f *testing.F) {
	f.Add("ETA", "DECRESCENTE", "cuoco", "", 30, 40)
	f.Add("PERTINENZA", "", "", "42", 0, 0)
	f.Add("x\x00", "\xff", "\"muratore\" -autista", "abc", 16, 100)
	tn := apl.Tenant{APL: "1", Role: apl.Master, Branches: []string{"A"}}
	today, _ := civil.Parse("2026-12-03")
	f.Fuzz(func(t *testing.T, key, dir, words, cursor string, lo, hi int) {
		in := searchRequest{Ordinamento: key, Verso: dir, ParoleChiave: &words, Cursor: cursor, EtaMinima: &lo, EtaMassima: &hi}
		q, err := in.check(tn, today)
		if err != nil {
			return
		}
		if q.order.key == byRelevance && strings.TrimSpace(q.keywords) == "" {
			t.Fatal("relevance without keywords")
		}
		if q.after != nil && q.order.encode(*q.after) != cursor {
			t.Fatalf("cursor %q kept under another order", cursor)
		}
	})
}

// FuzzNoteFilter: any query string gives a filter or named errors, and a
// filter holds only known values.
func FuzzNoteFilter(f *testing.F) {
	f.Add("esito=POSITIVO&dal=2026-01-01&al=2026-01-31&limit=10&cursor=5", false)
	f.Add("filiale=B", true)
	f.Add("esito=%00&x=1", false)
	f.Add("dal=2026-13-01;al=", false)
	tn := apl.Tenant{APL: "1", Role: apl.Master, Branches: []string{"A", "B"}}
	f.Fuzz(func(t *testing.T, raw string, citizen bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		nf, err := parseNoteFilter(q, tn, citizen)
		if err != nil {
			return
		}
		if nf.outcome != "" && !outcomes[nf.outcome] || nf.limit < 1 || nf.limit > maxLimit || nf.after < 0 {
			t.Fatalf("%q gave %+v", raw, nf)
		}
		for _, b := range nf.branches {
			if !tn.Sees(b) {
				t.Fatalf("%q reaches branch %q", raw, b)
			}
		}
	})
}
