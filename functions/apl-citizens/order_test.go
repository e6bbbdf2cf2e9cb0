package function

import (
	"strings"
	"testing"
	"time"
)

// TestCursorRoundTrip: a cursor reads back as the position it was made
// from, under its own order only.
func TestCursorRoundTrip(t *testing.T) {
	born := time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)
	chosen := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)
	o := func(key, dir, words string) order { x, _ := parseOrder(key, dir, words); return x }
	cases := []struct {
		name string
		o    order
		p    position
	}{
		{"id", o("", "", ""), position{key: int64(7), id: 7}},
		{"id descending", o("ID", "DECRESCENTE", ""), position{key: int64(7), id: 7}},
		{"age", o("ETA", "", ""), position{key: born, id: 40}},
		{"education", o("TITOLO_STUDIO", "DECRESCENTE", ""), position{key: int16(4), id: 60}},
		{"choice", o("DATA_SCELTA", "", ""), position{key: chosen, id: 80}},
		{"relevance", o("PERTINENZA", "", "cuoco"), position{key: float32(0.0607927), id: 100}},
	}
	others := []order{o("", "", ""), o("ID", "DECRESCENTE", ""), o("ETA", "", ""), o("ETA", "DECRESCENTE", ""), o("TITOLO_STUDIO", "", ""),
		o("DATA_SCELTA", "DECRESCENTE", ""), o("PERTINENZA", "", "cuoco"), o("PERTINENZA", "", "muratore"), o("PERTINENZA", "CRESCENTE", "cuoco")}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.o.encode(c.p)
			got, err := c.o.decode(s)
			if err != nil || got.id != c.p.id || got.key != c.p.key && !sameTime(got.key, c.p.key) {
				t.Fatalf("%q: %+v, %v", s, got, err)
			}
			for _, other := range others {
				if other == c.o {
					continue
				}
				if _, err := other.decode(s); err == nil {
					t.Errorf("%q made under %+v is taken under %+v", s, c.o, other)
				}
			}
		})
	}
}

func sameTime(a, b any) bool {
	x, ok1 := a.(time.Time)
	y, ok2 := b.(time.Time)
	return ok1 && ok2 && x.Equal(y)
}

func TestCursorRefused(t *testing.T) {
	age, _ := parseOrder("ETA", "", "")
	good := age.encode(position{key: time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), id: 40})
	for _, s := range []string{"", "0", "-1", "abc", good + "=", good + "\n", strings.Repeat("A", 200),
		age.encode(position{key: time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC), id: 0})} {
		if _, err := age.decode(s); err == nil {
			t.Errorf("%q taken", s)
		}
	}
}

// TestOrderSQL: the clause each order writes; ties always by id ascending.
func TestOrderSQL(t *testing.T) {
	for _, c := range []struct {
		key, dir, words, orderBy, after string
	}{
		{"", "", "", " ORDER BY s.componente_id", " AND s.componente_id > @after_id"},
		{"ID", "DECRESCENTE", "", " ORDER BY s.componente_id DESC", " AND s.componente_id < @after_id"},
		{"ETA", "", "", " ORDER BY m.data_nascita DESC, m.id", " AND (m.data_nascita < @after_key OR (m.data_nascita = @after_key AND m.id > @after_id))"},
		{"ETA", "DECRESCENTE", "", " ORDER BY m.data_nascita, m.id", " AND (m.data_nascita > @after_key OR (m.data_nascita = @after_key AND m.id > @after_id))"},
		{"TITOLO_STUDIO", "", "", " ORDER BY m.titolo_studio, m.id", " AND (m.titolo_studio > @after_key OR (m.titolo_studio = @after_key AND m.id > @after_id))"},
		{"DATA_SCELTA", "DECRESCENTE", "", " ORDER BY s.scelta_il DESC, m.id", " AND (s.scelta_il < @after_key OR (s.scelta_il = @after_key AND m.id > @after_id))"},
		{"PERTINENZA", "", "x", " ORDER BY " + rankSQL + " DESC, m.id", " AND (" + rankSQL + " < @after_key OR (" + rankSQL + " = @after_key AND m.id > @after_id))"},
	} {
		o, bad := parseOrder(c.key, c.dir, c.words)
		if len(bad) > 0 || o.orderBy() != c.orderBy || o.after() != c.after {
			t.Errorf("%s %s: %q %q %v", c.key, c.dir, o.orderBy(), o.after(), bad)
		}
	}
}
