package function

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
)

func TestSearchCheck(t *testing.T) {
	tn := apl.Tenant{APL: "1", Role: apl.Operator, Branches: []string{"A"}}
	today, _ := civil.Parse("2026-11-23")
	n := func(v int) *int { return &v }
	s := func(v string) *string { return &v }
	cases := []struct {
		name   string
		in     searchRequest
		fields string
		check  func(q query) bool
	}{
		{"nothing asked", searchRequest{}, "", func(q query) bool {
			return q.limit == defaultLimit && q.bornBy == nil && q.bornAfter == nil && q.keywords == "" && len(q.branches) == 1
		}},
		// 30 to 40: born on or before 1996-11-23, and after 1985-11-23.
		{"age range", searchRequest{EtaMinima: n(30), EtaMassima: n(40)}, "", func(q query) bool {
			return q.bornBy.Equal(time.Date(1996, 11, 23, 0, 0, 0, 0, time.UTC)) && q.bornAfter.Equal(time.Date(1985, 11, 23, 0, 0, 0, 0, time.UTC))
		}},
		{"keywords trimmed", searchRequest{ParoleChiave: s("  muratore  ")}, "", func(q query) bool { return q.keywords == "muratore" }},
		{"cursor and limit", searchRequest{Cursor: "42", Limit: n(10)}, "", func(q query) bool { return q.after != nil && q.after.id == 42 && q.limit == 10 }},
		{"order by age, descending", searchRequest{Ordinamento: "ETA", Verso: "DECRESCENTE"}, "", func(q query) bool { return q.order.key == byAge && q.order.desc }},
		{"relevance, most relevant first", searchRequest{Ordinamento: "PERTINENZA", ParoleChiave: s("cuoco")}, "", func(q query) bool {
			return q.order.key == byRelevance && q.order.desc && q.order.tag != ""
		}},
		{"relevance without keywords", searchRequest{Ordinamento: "PERTINENZA"}, "ordinamento", nil},
		{"relevance with blank keywords", searchRequest{Ordinamento: "PERTINENZA", ParoleChiave: s("   ")}, "ordinamento", nil},
		{"unknown order", searchRequest{Ordinamento: "eta"}, "ordinamento", nil},
		{"unknown direction", searchRequest{Verso: "ASC"}, "verso", nil},
		{"an id cursor under another order", searchRequest{Ordinamento: "ETA", Cursor: "42"}, "cursor", nil},
		{"too young", searchRequest{EtaMinima: n(15)}, "eta_minima", nil},
		{"too old", searchRequest{EtaMassima: n(101)}, "eta_massima", nil},
		{"range upside down", searchRequest{EtaMinima: n(40), EtaMassima: n(30)}, "eta_massima", nil},
		{"another branch", searchRequest{Filiale: "B"}, "filiale", nil},
		{"long keywords", searchRequest{ParoleChiave: s(strings.Repeat("a", 201))}, "parole_chiave", nil},
		{"cursor not ours", searchRequest{Cursor: "042"}, "cursor", nil},
		{"limit zero", searchRequest{Limit: n(0)}, "limit", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := c.in.check(tn, today)
			if c.fields == "" {
				if err != nil || !c.check(q) {
					t.Fatalf("%+v, %v", q, err)
				}
				return
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || len(pe.Fields) == 0 || pe.Fields[0].Field != c.fields {
				t.Fatalf("want field %s, got %v", c.fields, err)
			}
		})
	}
}

func TestNoteCheck(t *testing.T) {
	for _, c := range []struct {
		in    noteRequest
		field string
	}{
		{noteRequest{Testo: "Colloquio positivo", Esito: "POSITIVO"}, ""},
		{noteRequest{Testo: "  ", Esito: "POSITIVO"}, "testo"},
		{noteRequest{Testo: strings.Repeat("x", maxNote+1), Esito: "NEGATIVO"}, "testo"},
		{noteRequest{Testo: "ok", Esito: "FORSE"}, "esito"},
	} {
		err := c.in.check()
		if c.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.in, err)
			}
			continue
		}
		if pe := (*problem.Error)(nil); !errors.As(err, &pe) || pe.Fields[0].Field != c.field {
			t.Errorf("%+v: want field %s, got %v", c.in, c.field, err)
		}
	}
}
