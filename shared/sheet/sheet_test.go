package sheet

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestWorkbookRoundTrip(t *testing.T) {
	t.Parallel()
	b := New()
	if err := b.Sheet("Riepilogo", []Column{{"Voce", 20}, {"Valore", 10}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Append("offerte", 3); err != nil {
		t.Fatal(err)
	}
	if err := b.Sheet("Elenco", []Column{{"Numero", 8}, {"Nota", 30}}); err != nil {
		t.Fatal(err)
	}
	const n = 20000 // beyond what one in-memory chunk holds in some runs
	for i := range n {
		if err := b.Append(i, nil); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if _, err := b.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&out)
	if err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	if got := f.GetSheetList(); len(got) != 2 || got[0] != "Riepilogo" || got[1] != "Elenco" {
		t.Fatalf("sheets %v", got)
	}
	rows, _ := f.GetRows("Elenco")
	if len(rows) != n+1 || rows[0][0] != "Numero" || rows[0][1] != "Nota" || rows[n][0] != strconv.Itoa(n-1) {
		t.Fatalf("%d rows, header %v, last %v", len(rows), rows[0], rows[len(rows)-1])
	}
	panes, err := f.GetPanes("Elenco")
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("header not frozen: %+v %v", panes, err)
	}
}

func TestWanted(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"":                               false,
		"application/json":               false,
		MediaType:                        true,
		"application/json, " + MediaType: true,
		MediaType + ";q=0.9, */*;q=0.1":  true,
		"application/vnd.ms-excel":       false,
	}
	for accept, want := range cases {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", accept)
		if Wanted(r) != want {
			t.Errorf("Accept %q: %v", accept, !want)
		}
	}
}
