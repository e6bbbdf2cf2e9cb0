package test

import (
	"net/http"
	"slices"
	"testing"
)

type orderedPage struct {
	Items []struct {
		IDCittadino int64 `json:"id_cittadino"`
		Eta         int   `json:"eta"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// orderedSearch walks every page of a search (small pages, so that many
// cursors are made) and returns the ids in the order given, and the
// cursors.
func orderedSearch(t *testing.T, tok string, body map[string]any) (ids []int64, cursors []string) {
	t.Helper()
	body["limit"] = 25
	for pages := 0; ; pages++ {
		r := postJSON(t, h.URL(citizensFn, "/search"), tok, body)
		if r.status != http.StatusOK {
			t.Fatalf("search %v: %d %s", body, r.status, r.body)
		}
		if pages == 0 {
			conformsToOpenAPI(t, "/function/apl-citizens/search", "post", r)
		}
		var p orderedPage
		decodeInto(t, r, &p)
		for _, c := range p.Items {
			ids = append(ids, c.IDCittadino)
		}
		if p.NextCursor == nil {
			return ids, cursors
		}
		cursors = append(cursors, *p.NextCursor)
		body["cursor"] = *p.NextCursor
		if pages > 1000 {
			t.Fatal("the cursor never ends")
		}
	}
}

// TestAplSearchOrder: each order, both ways, walked across pages, is the
// order the data set has when sorted here (ties by id ascending), and no
// citizen is lost or repeated across pages.
func TestAplSearchOrder(t *testing.T) {
	master := token(t, "apl-1001-master")
	const where = `s.apl_id = '1001' AND s.filiale = '1001-MI01'`
	const rank = `ts_rank(p.tsv, websearch_to_tsquery('italian', 'cuoco OR muratore OR autista'))`
	cases := []struct {
		name     string
		body     map[string]any
		cond, by string
	}{
		{"default", map[string]any{}, where, "m.id"},
		{"id descending", map[string]any{"ordinamento": "ID", "verso": "DECRESCENTE"}, where, "m.id DESC"},
		{"youngest first", map[string]any{"ordinamento": "ETA"}, where, "m.data_nascita DESC, m.id"},
		{"oldest first", map[string]any{"ordinamento": "ETA", "verso": "DECRESCENTE"}, where, "m.data_nascita, m.id"},
		{"least education first", map[string]any{"ordinamento": "TITOLO_STUDIO", "verso": "CRESCENTE"}, where, "m.titolo_studio, m.id"},
		{"most education first", map[string]any{"ordinamento": "TITOLO_STUDIO", "verso": "DECRESCENTE"}, where, "m.titolo_studio DESC, m.id"},
		{"earliest choice first", map[string]any{"ordinamento": "DATA_SCELTA"}, where, "s.scelta_il, m.id"},
		{"latest choice first", map[string]any{"ordinamento": "DATA_SCELTA", "verso": "DECRESCENTE"}, where, "s.scelta_il DESC, m.id"},
		{"most relevant first", map[string]any{"ordinamento": "PERTINENZA", "parole_chiave": "cuoco OR muratore OR autista"},
			where + ` AND p.tsv @@ websearch_to_tsquery('italian', 'cuoco OR muratore OR autista')`, rank + " DESC, m.id"},
		{"least relevant first", map[string]any{"ordinamento": "PERTINENZA", "verso": "CRESCENTE", "parole_chiave": "cuoco OR muratore OR autista"},
			where + ` AND p.tsv @@ websearch_to_tsquery('italian', 'cuoco OR muratore OR autista')`, rank + ", m.id"},
		{"age with a filter", map[string]any{"ordinamento": "ETA", "titolo_studio_minimo": "DIPLOMA"}, where + ` AND m.titolo_studio >= 4`, "m.data_nascita DESC, m.id"},
	}
	cursors := map[string][]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.body["filiale"] = "1001-MI01"
			got, cs := orderedSearch(t, master, c.body)
			want := int64s(t, `SELECT m.id FROM scelta_apl s JOIN componente m ON m.id = s.componente_id LEFT JOIN profilo p ON p.componente_id = m.id
				WHERE `+c.cond+` ORDER BY `+c.by)
			if len(cs) < 2 {
				t.Fatalf("%d citizens make %d pages: paging is not exercised", len(want), len(cs)+1)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d citizens in the function's order, %d here; first %v, want %v", len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
			}
			cursors[c.name] = cs
		})
	}

	// A cursor made under one order is refused under any other.
	url := h.URL(citizensFn, "/search")
	refused := func(name string, body map[string]any) {
		t.Helper()
		body["filiale"] = "1001-MI01"
		m := assertProblem(t, postJSON(t, url, master, body), http.StatusBadRequest)
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != "cursor" {
			t.Errorf("%s: errors %v", name, m["errors"])
		}
	}
	first := func(name string) string {
		if len(cursors[name]) == 0 {
			t.Fatalf("no cursor from %s", name)
		}
		return cursors[name][0]
	}
	refused("an id cursor by age", map[string]any{"ordinamento": "ETA", "cursor": first("default")})
	refused("an age cursor by id", map[string]any{"cursor": first("youngest first")})
	refused("an age cursor by education", map[string]any{"ordinamento": "TITOLO_STUDIO", "cursor": first("youngest first")})
	refused("an age cursor the other way", map[string]any{"ordinamento": "ETA", "verso": "DECRESCENTE", "cursor": first("youngest first")})
	refused("a choice cursor by age", map[string]any{"ordinamento": "ETA", "cursor": first("earliest choice first")})
	refused("a relevance cursor for other words", map[string]any{"ordinamento": "PERTINENZA", "parole_chiave": "cuoco", "cursor": first("most relevant first")})

	// Relevance needs keywords; unknown orders and directions are named.
	for field, body := range map[string]map[string]any{
		"ordinamento": {"ordinamento": "PERTINENZA"},
		"verso":       {"ordinamento": "ETA", "verso": "ASC"},
	} {
		m := assertProblem(t, postJSON(t, url, master, body), http.StatusBadRequest)
		if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: errors %v", field, m["errors"])
		}
	}
	m := assertProblem(t, postJSON(t, url, master, map[string]any{"ordinamento": "PERTINENZA", "parole_chiave": "  "}), http.StatusBadRequest)
	if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != "ordinamento" {
		t.Errorf("blank keywords: errors %v", m["errors"])
	}
	m = assertProblem(t, postJSON(t, url, master, map[string]any{"ordinamento": "eta"}), http.StatusBadRequest)
	if errs, _ := m["errors"].([]any); len(errs) == 0 || errs[0].(map[string]any)["field"] != "ordinamento" {
		t.Errorf("unknown order: errors %v", m["errors"])
	}
}
