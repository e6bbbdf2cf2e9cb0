package function

import (
	"bytes"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/rdc-interop/faas/shared/civil"
)

func day(s string) civil.Date {
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func rome(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, civil.Rome)
	if err != nil {
		panic(err)
	}
	return t
}

// TestWindows: each window starts and ends at a midnight in Rome, the
// days it spans are whole calendar days, across the end of a month, of a
// leap February and of a year, and on the days the clocks change.
func TestWindows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                    string
		day                     string
		prevFirst               string
		weekFirst, monthFirst   string
		dayHours, weekHours     float64
		monthHours              float64
		dayFrom, weekFrom, till string
	}{
		{"ordinary", "2026-06-15", "2026-06-14", "2026-06-09", "2026-05-17", 24, 168, 720, "2026-06-15 00:00", "2026-06-09 00:00", "2026-06-16 00:00"},
		{"first of a month", "2026-03-01", "2026-02-28", "2026-02-23", "2026-01-31", 24, 168, 720, "2026-03-01 00:00", "2026-02-23 00:00", "2026-03-02 00:00"},
		{"first of March, leap year", "2028-03-01", "2028-02-29", "2028-02-24", "2028-02-01", 24, 168, 720, "2028-03-01 00:00", "2028-02-24 00:00", "2028-03-02 00:00"},
		{"first of a year", "2027-01-01", "2026-12-31", "2026-12-26", "2026-12-03", 24, 168, 720, "2027-01-01 00:00", "2026-12-26 00:00", "2027-01-02 00:00"},
		{"last of a month", "2026-04-30", "2026-04-29", "2026-04-24", "2026-04-01", 23 + 1, 168, 720, "2026-04-30 00:00", "2026-04-24 00:00", "2026-05-01 00:00"},
		// 29 March 2026: 02:00 CET becomes 03:00 CEST, the day has 23 hours.
		{"spring forward", "2026-03-29", "2026-03-28", "2026-03-23", "2026-02-28", 23, 167, 719, "2026-03-29 00:00", "2026-03-23 00:00", "2026-03-30 00:00"},
		{"day after spring forward", "2026-03-30", "2026-03-29", "2026-03-24", "2026-03-01", 24, 167, 719, "2026-03-30 00:00", "2026-03-24 00:00", "2026-03-31 00:00"},
		// 25 October 2026: 03:00 CEST becomes 02:00 CET, the day has 25 hours.
		{"fall back", "2026-10-25", "2026-10-24", "2026-10-19", "2026-09-26", 25, 169, 721, "2026-10-25 00:00", "2026-10-19 00:00", "2026-10-26 00:00"},
		{"a month after fall back", "2026-11-24", "2026-11-23", "2026-11-18", "2026-10-26", 24, 168, 720, "2026-11-24 00:00", "2026-11-18 00:00", "2026-11-25 00:00"},
		{"a month over fall back", "2026-11-23", "2026-11-22", "2026-11-17", "2026-10-25", 24, 168, 721, "2026-11-23 00:00", "2026-11-17 00:00", "2026-11-24 00:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ws := windowsOf(day(c.day))
			if ws.Day.First != day(c.day) || ws.Day.Last != day(c.day) || ws.Previous.First != day(c.prevFirst) || ws.Previous.Last != day(c.prevFirst) {
				t.Errorf("day %v..%v, previous %v..%v", ws.Day.First, ws.Day.Last, ws.Previous.First, ws.Previous.Last)
			}
			if ws.Week.First != day(c.weekFirst) || ws.Month.First != day(c.monthFirst) || ws.Week.Last != day(c.day) || ws.Month.Last != day(c.day) {
				t.Errorf("week from %v, month from %v", ws.Week.First, ws.Month.First)
			}
			if !ws.Day.From.Equal(rome(c.dayFrom)) || !ws.Week.From.Equal(rome(c.weekFrom)) || !ws.Day.To.Equal(rome(c.till)) ||
				!ws.Week.To.Equal(ws.Day.To) || !ws.Month.To.Equal(ws.Day.To) || !ws.Previous.To.Equal(ws.Day.From) {
				t.Errorf("bounds: day %v–%v, week from %v, month %v–%v", ws.Day.From, ws.Day.To, ws.Week.From, ws.Month.From, ws.Month.To)
			}
			for _, h := range []struct {
				name string
				w    window
				want float64
			}{{"day", ws.Day, c.dayHours}, {"week", ws.Week, c.weekHours}, {"month", ws.Month, c.monthHours}} {
				if got := h.w.To.Sub(h.w.From).Hours(); got != h.want {
					t.Errorf("%s: %v hours, want %v", h.name, got, h.want)
				}
			}
			if ws.index(ws.Month.First) != 0 || ws.index(day(c.day)) != trendDays-1 || ws.index(civil.Of(ws.Month.First.Time().AddDate(0, 0, -1))) != -1 {
				t.Errorf("index: first %d, last %d", ws.index(ws.Month.First), ws.index(day(c.day)))
			}
		})
	}
}

// TestTrend: the events of each day count in the windows that hold it.
func TestTrend(t *testing.T) {
	t.Parallel()
	ws := windowsOf(day("2026-03-01"))
	cases := []struct {
		name   string
		perDay map[civil.Date]int
		want   trend
	}{
		{"none", nil, trend{}},
		{"the day", map[civil.Date]int{day("2026-03-01"): 3}, trend{Ieri: 3, Ultimi7: 3, Ultimi30: 3}},
		{"the day before, in February", map[civil.Date]int{day("2026-02-28"): 2}, trend{GiornoPrima: 2, Ultimi7: 2, Ultimi30: 2}},
		{"first of the week", map[civil.Date]int{day("2026-02-23"): 1}, trend{Ultimi7: 1, Ultimi30: 1}},
		{"just before the week", map[civil.Date]int{day("2026-02-22"): 1}, trend{Ultimi30: 1}},
		{"first of the month", map[civil.Date]int{day("2026-01-31"): 4}, trend{Ultimi30: 4}},
		{"before the month", map[civil.Date]int{day("2026-01-30"): 5}, trend{}},
		{"after the day", map[civil.Date]int{day("2026-03-02"): 5}, trend{}},
		{"mixed", map[civil.Date]int{day("2026-03-01"): 1, day("2026-02-28"): 2, day("2026-02-25"): 4, day("2026-02-10"): 8},
			trend{Ieri: 1, GiornoPrima: 2, Ultimi7: 7, Ultimi30: 15}},
	}
	for _, c := range cases {
		if got := ws.trendOf(c.perDay); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// sample is a report of two branches, one with a town, and an offer each.
func sample() report {
	d := day("2026-03-29")
	ws := windowsOf(d)
	branches := []branch{{"1001-MI01", "Milano Centro", "Milano"}, {"1001-RM01", "Roma Termini", ""}}
	citizens := gather([]counted{
		{key: "1001-MI01", n: 10},
		{key: "1001-MI01", day: ptr(rome("2026-03-29 10:00")), n: 2},
		{key: "1001-RM01", day: ptr(rome("2026-03-28 10:00")), n: 1},
	})
	offers := map[string]offerCount{
		"o1": {IDOfferta: "o1", RiferimentoAPL: "R1", Titolo: "Magazziniere", Filiale: "1001-MI01"},
		"o2": {IDOfferta: "o2", RiferimentoAPL: "R2", Titolo: "Cuoco", Filiale: "1001-RM01"},
		"o3": {IDOfferta: "o3", RiferimentoAPL: "R3", Titolo: "Nessuno", Filiale: "1001-RM01"},
	}
	interests := gather([]counted{
		{key: "o1", n: 100},
		{key: "o1", day: ptr(time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)), n: 3},
		{key: "o2", day: ptr(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), n: 7},
		{key: "o2", day: ptr(time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC)), n: 1},
	})
	r := report{APL: "1001", NomeAPL: "Agenzia Uno", Data: d, OffertePerSt: map[string]int{"PUBBLICATA": 2},
		InScadenza: []nearEnd{{IDOfferta: "o2", RiferimentoAPL: "R2", Titolo: "Cuoco", Filiale: "1001-RM01", DataFinePubblicazione: day("2026-04-02")}}}
	r.assemble(ws, branches, citizens, offers, interests)
	return r
}

func ptr[T any](v T) *T { return &v }

func TestAssemble(t *testing.T) {
	t.Parallel()
	r := sample()
	s := r.Riepilogo
	if s.Filiali != 2 || s.CittadiniTotali != 13 || s.CittadiniNuovi != 2 || s.CandidatureTotali != 111 || s.CandidatureNuove != 3 || s.OfferteInScadenza != 1 {
		t.Errorf("summary %+v", s)
	}
	if s.Andamento.Cittadini != (trend{Ieri: 2, GiornoPrima: 1, Ultimi7: 3, Ultimi30: 3}) || s.Andamento.Candidature != (trend{Ieri: 3, Ultimi7: 4, Ultimi30: 11}) {
		t.Errorf("trend %+v", s.Andamento)
	}
	if len(r.PerOfferta) != 2 || r.PerOfferta[0].RiferimentoAPL != "R1" || r.PerOfferta[1].Andamento != (trend{Ultimi7: 1, Ultimi30: 8}) {
		t.Errorf("offers %+v", r.PerOfferta)
	}
	if r.Candidature[1].Denominazione != "Roma Termini" || r.Candidature[1].Totale != 8 || r.Cittadini[0].Comune != "Milano" {
		t.Errorf("branches %+v %+v", r.Cittadini, r.Candidature)
	}
	// The series: 30 days ending on the day, the busiest branch first.
	if len(r.Serie.Giorni) != trendDays || r.Serie.Giorni[trendDays-1] != r.Data || r.Serie.Giorni[0] != day("2026-02-28") {
		t.Fatalf("days %v", r.Serie.Giorni)
	}
	if f := r.Serie.Filiali; f[0].Filiale != "1001-RM01" || f[0].Valori[1] != 7 || f[0].Valori[24] != 1 || f[1].Valori[29] != 3 {
		t.Errorf("series %+v", f)
	}
}

// TestWorkbook: the summary comes first with the trend and the chart; the
// series' sheet has a column per branch.
func TestWorkbook(t *testing.T) {
	t.Parallel()
	out, err := sample().workbook()
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) != 7 || sheets[0] != sheetSummary {
		t.Fatalf("sheets %v", sheets)
	}
	rows, _ := f.GetRows(sheetSummary)
	if rows[3][0] != "Cittadini che hanno scelto l'agenzia" || rows[3][1] != "13" || rows[4][2] != "3" || rows[4][5] != "11" {
		t.Errorf("summary rows %q", rows)
	}
	series, _ := f.GetRows(sheetSeries)
	if len(series) != trendDays+1 || series[0][1] != "1001-RM01 Roma Termini" || series[0][2] != "1001-MI01 Milano Centro (Milano)" || series[2][1] != "7" {
		t.Errorf("series rows %q", series)
	}
	if !bytes.Contains(out, []byte("xl/charts/chart1.xml")) {
		t.Error("no chart")
	}
}
