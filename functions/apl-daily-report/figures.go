package function

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/civil"
)

// nearEndDays is how far ahead "near the end of publication" looks.
const nearEndDays = 7

// trendDays is the longest window of the figures and the chart's span.
const trendDays = 30

// report is one agency's day, in the JSON twin's shape; the workbook shows
// the same figures, the summary with its chart first.
type report struct {
	APL          string         `json:"apl"`
	NomeAPL      string         `json:"denominazione_apl"`
	Data         civil.Date     `json:"data"`
	GeneratoIl   time.Time      `json:"generato_il"`
	Riepilogo    summary        `json:"riepilogo"`
	Cittadini    []branchCount  `json:"cittadini_per_filiale"`
	Candidature  []branchCount  `json:"candidature_per_filiale"`
	PerOfferta   []offerCount   `json:"candidature_per_offerta"`
	OffertePerSt map[string]int `json:"offerte_per_stato"`
	InScadenza   []nearEnd      `json:"offerte_in_scadenza"`
	Serie        series         `json:"candidature_30_giorni"`
}

// summary is also the report's riepilogo column, answered by GET /reports
// and told to the webhooks: the day's figures and their trend.
type summary struct {
	Filiali           int `json:"filiali"`
	CittadiniTotali   int `json:"cittadini_totali"`
	CittadiniNuovi    int `json:"cittadini_nuovi"`
	CandidatureTotali int `json:"candidature_totali"`
	CandidatureNuove  int `json:"candidature_nuove"`
	OffertePubblicate int `json:"offerte_pubblicate"`
	OfferteInScadenza int `json:"offerte_in_scadenza"`
	// Andamento: the new citizens and interest expressions of the day, of
	// the day before, and of the last 7 and 30 days (the day included).
	Andamento struct {
		Cittadini   trend `json:"cittadini"`
		Candidature trend `json:"candidature"`
	} `json:"andamento"`
}

// trend counts what happened in each window of a report's day.
type trend struct {
	Ieri        int `json:"ieri"`
	GiornoPrima int `json:"giorno_prima"`
	Ultimi7     int `json:"ultimi_7_giorni"`
	Ultimi30    int `json:"ultimi_30_giorni"`
}

func (t *trend) add(o trend) {
	t.Ieri += o.Ieri
	t.GiornoPrima += o.GiornoPrima
	t.Ultimi7 += o.Ultimi7
	t.Ultimi30 += o.Ultimi30
}

// branch is how a branch is named for people: its code, its name and its
// town (the comune's name; "" when the branch has none).
type branch struct {
	Filiale       string `json:"filiale"`
	Denominazione string `json:"denominazione"`
	Comune        string `json:"comune"`
}

// label is the branch as the chart's legend and the sheets show it.
func (b branch) label() string {
	if b.Comune == "" || b.Comune == b.Denominazione {
		return b.Denominazione
	}
	return b.Denominazione + " (" + b.Comune + ")"
}

type branchCount struct {
	branch
	Totale    int   `json:"totale"`
	Nuovi     int   `json:"nuovi"` // of the day: Andamento.Ieri, kept for the readers of the first version
	Andamento trend `json:"andamento"`
}

type offerCount struct {
	IDOfferta      string `json:"id_offerta"`
	RiferimentoAPL string `json:"riferimento_apl"`
	Titolo         string `json:"titolo"`
	Filiale        string `json:"filiale"`
	Totale         int    `json:"totale"`
	Nuove          int    `json:"nuove"`
	Andamento      trend  `json:"andamento"`
}

type nearEnd struct {
	IDOfferta             string     `json:"id_offerta"`
	RiferimentoAPL        string     `json:"riferimento_apl"`
	Titolo                string     `json:"titolo"`
	Filiale               string     `json:"filiale"`
	DataFinePubblicazione civil.Date `json:"data_fine_pubblicazione"`
}

// series is the interest expressions of each branch on each of the last
// 30 days, oldest first: the chart's data. Filiali are ordered by their
// 30 days' total, most first; the chart draws the first chartBranches.
type series struct {
	Giorni  []civil.Date   `json:"giorni"`
	Filiali []branchSeries `json:"filiali"`
}

type branchSeries struct {
	branch
	Valori []int `json:"valori"`
}

// window is [From, To) in Rome, and the same as days: [First, Last].
type window struct {
	From, To    time.Time
	First, Last civil.Date
}

// windows are the spans a report's figures count over: its day, the day
// before, and the 7 and 30 days that end with it. Each bound is a midnight
// in Rome, so a window holds 23 or 25 hours more or less when it spans a
// change of the clocks, and days, not 24-hour periods, make it up.
type windows struct {
	Day, Previous, Week, Month window
}

func windowsOf(day civil.Date) windows {
	span := func(days int) window {
		first := civil.Of(day.Time().AddDate(0, 0, 1-days))
		from, _ := first.Bounds()
		_, to := day.Bounds()
		return window{From: from, To: to, First: first, Last: day}
	}
	prev := civil.Of(day.Time().AddDate(0, 0, -1))
	pf, pt := prev.Bounds()
	return windows{Day: span(1), Previous: window{From: pf, To: pt, First: prev, Last: prev}, Week: span(7), Month: span(trendDays)}
}

// in says whether a day falls in the window.
func (w window) in(d civil.Date) bool {
	return !d.Time().Before(w.First.Time()) && !d.Time().After(w.Last.Time())
}

// trendOf counts per window the events of each day (days before the month
// or after the day are no window's).
func (ws windows) trendOf(perDay map[civil.Date]int) trend {
	var t trend
	for d, n := range perDay {
		if ws.Day.in(d) {
			t.Ieri += n
		}
		if ws.Previous.in(d) {
			t.GiornoPrima += n
		}
		if ws.Week.in(d) {
			t.Ultimi7 += n
		}
		if ws.Month.in(d) {
			t.Ultimi30 += n
		}
	}
	return t
}

// index is d's place among the month's days, or -1 outside it.
func (ws windows) index(d civil.Date) int {
	if !ws.Month.in(d) {
		return -1
	}
	// Days at midnight UTC: whole multiples of 24 hours apart.
	return int(d.Time().Sub(ws.Month.First.Time()) / (24 * time.Hour))
}

// The figures, across every branch of the agency, as of the end of the day
// (@end), with the days of the last month (from @month) counted apart, by
// their day in Rome, and the earlier ones together (day NULL). An offer's
// state is its present one, but read as SCADUTA when its publication had
// ended before the day; the offers a day has not yet seen created are left
// out.
const (
	branchesSQL = `
SELECT f.codice, f.denominazione, coalesce(c.nome, '')
FROM apl_filiale f LEFT JOIN comune c ON c.codice_istat = f.comune
WHERE f.apl_id = @apl ORDER BY f.codice`

	citizensSQL = `
SELECT s.filiale, CASE WHEN s.scelta_il >= @month THEN (s.scelta_il AT TIME ZONE 'Europe/Rome')::date END, count(*)
FROM scelta_apl s
WHERE s.apl_id = @apl AND s.scelta_il < @end
GROUP BY 1, 2`

	offersSQL = `
SELECT o.id::text, o.riferimento_apl, o.titolo, o.filiale FROM offerta o WHERE o.apl_id = @apl`

	// One pass over the interest expressions gives every offer's figures,
	// its branch's, and the chart's.
	interestsSQL = `
SELECT mi.offerta_id::text, CASE WHEN mi.creata_il >= @month THEN (mi.creata_il AT TIME ZONE 'Europe/Rome')::date END, count(*)
FROM offerta o JOIN manifestazione_interesse mi ON mi.offerta_id = o.id AND mi.creata_il < @end
WHERE o.apl_id = @apl
GROUP BY 1, 2`

	offerStatesSQL = `
SELECT CASE WHEN o.stato = 'PUBBLICATA' AND o.data_fine_pubblicazione < @day::date THEN 'SCADUTA' ELSE o.stato END, count(*)
FROM offerta o WHERE o.apl_id = @apl AND o.creato_il < @end
GROUP BY 1`

	nearEndSQL = `
SELECT o.id::text, o.riferimento_apl, o.titolo, o.filiale, o.data_fine_pubblicazione
FROM offerta o
WHERE o.apl_id = @apl AND o.stato = 'PUBBLICATA' AND o.creato_il < @end
  AND o.data_fine_pubblicazione > @day::date AND o.data_fine_pubblicazione <= @day::date + @near::int
ORDER BY o.data_fine_pubblicazione, o.riferimento_apl`
)

// counted is one (key, day) group of citizensSQL or interestsSQL.
type counted struct {
	key string
	day *time.Time // nil: before the month
	n   int
}

// byDay gathers groups per key: the total, and the counts of the month's days.
type byDay struct {
	total int
	days  map[civil.Date]int
}

func gather(rows []counted) map[string]*byDay {
	out := map[string]*byDay{}
	for _, c := range rows {
		b := out[c.key]
		if b == nil {
			b = &byDay{days: map[civil.Date]int{}}
			out[c.key] = b
		}
		b.total += c.n
		if c.day != nil {
			b.days[civil.Of(*c.day)] += c.n
		}
	}
	return out
}

// figures reads an agency's day in one snapshot.
func figures(ctx context.Context, tx pgx.Tx, apl string, day civil.Date) (report, error) {
	ws := windowsOf(day)
	args := pgx.NamedArgs{"apl": apl, "month": ws.Month.From, "end": ws.Day.To, "day": day.Time(), "near": nearEndDays}
	r := report{APL: apl, Data: day, OffertePerSt: map[string]int{"BOZZA": 0, "PUBBLICATA": 0, "SOSPESA": 0, "CHIUSA": 0, "SCADUTA": 0}}
	var branches []branch
	var citizens, interests []counted
	offers := map[string]offerCount{}
	b := &pgx.Batch{}
	b.Queue(`SELECT denominazione FROM apl WHERE id = $1`, apl).QueryRow(func(row pgx.Row) error { return row.Scan(&r.NomeAPL) })
	b.Queue(branchesSQL, args).Query(func(rows pgx.Rows) error {
		var f branch
		_, err := pgx.ForEachRow(rows, []any{&f.Filiale, &f.Denominazione, &f.Comune}, func() error { branches = append(branches, f); return nil })
		return err
	})
	groups := func(sql string, into *[]counted) {
		b.Queue(sql, args).Query(func(rows pgx.Rows) error {
			var c counted
			_, err := pgx.ForEachRow(rows, []any{&c.key, &c.day, &c.n}, func() error { *into = append(*into, c); return nil })
			return err
		})
	}
	groups(citizensSQL, &citizens)
	b.Queue(offersSQL, args).Query(func(rows pgx.Rows) error {
		var o offerCount
		_, err := pgx.ForEachRow(rows, []any{&o.IDOfferta, &o.RiferimentoAPL, &o.Titolo, &o.Filiale}, func() error { offers[o.IDOfferta] = o; return nil })
		return err
	})
	groups(interestsSQL, &interests)
	b.Queue(offerStatesSQL, args).Query(func(rows pgx.Rows) error {
		var state string
		var n int
		_, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error { r.OffertePerSt[state] = n; return nil })
		return err
	})
	b.Queue(nearEndSQL, args).Query(func(rows pgx.Rows) error {
		var e nearEnd
		var end time.Time
		_, err := pgx.ForEachRow(rows, []any{&e.IDOfferta, &e.RiferimentoAPL, &e.Titolo, &e.Filiale, &end}, func() error {
			e.DataFinePubblicazione = civil.Of(end)
			r.InScadenza = append(r.InScadenza, e)
			return nil
		})
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return r, fmt.Errorf("report figures: %w", err)
	}
	r.assemble(ws, branches, gather(citizens), offers, gather(interests))
	return r, nil
}

// assemble turns the groups into the report's lists: the branches' figures
// (their interests are their offers'), the offers', the chart's series and
// the summary.
func (r *report) assemble(ws windows, branches []branch, citizens map[string]*byDay, offers map[string]offerCount, interests map[string]*byDay) {
	perBranch := map[string]*byDay{}
	for id, g := range interests {
		o, ok := offers[id]
		if !ok {
			continue // an offer of another agency cannot be joined: never
		}
		o.Totale, o.Andamento = g.total, ws.trendOf(g.days)
		o.Nuove = o.Andamento.Ieri
		r.PerOfferta = append(r.PerOfferta, o)
		pb := perBranch[o.Filiale]
		if pb == nil {
			pb = &byDay{days: map[civil.Date]int{}}
			perBranch[o.Filiale] = pb
		}
		pb.total += g.total
		for d, n := range g.days {
			pb.days[d] += n
		}
	}
	slices.SortFunc(r.PerOfferta, func(a, b offerCount) int {
		return cmp.Or(cmp.Compare(a.RiferimentoAPL, b.RiferimentoAPL), cmp.Compare(a.IDOfferta, b.IDOfferta))
	})
	for d := ws.Month.First; !d.Time().After(ws.Month.Last.Time()); d = civil.Of(d.Time().AddDate(0, 0, 1)) {
		r.Serie.Giorni = append(r.Serie.Giorni, d)
	}
	count := func(b branch, g *byDay) branchCount {
		c := branchCount{branch: b}
		if g != nil {
			c.Totale, c.Andamento = g.total, ws.trendOf(g.days)
			c.Nuovi = c.Andamento.Ieri
		}
		return c
	}
	s := &r.Riepilogo
	for _, b := range branches {
		c := count(b, citizens[b.Filiale])
		r.Cittadini = append(r.Cittadini, c)
		s.CittadiniTotali += c.Totale
		s.Andamento.Cittadini.add(c.Andamento)
		i := count(b, perBranch[b.Filiale])
		r.Candidature = append(r.Candidature, i)
		s.CandidatureTotali += i.Totale
		s.Andamento.Candidature.add(i.Andamento)
		line := branchSeries{branch: b, Valori: make([]int, len(r.Serie.Giorni))}
		if g := perBranch[b.Filiale]; g != nil {
			for d, n := range g.days {
				if k := ws.index(d); k >= 0 {
					line.Valori[k] += n
				}
			}
		}
		r.Serie.Filiali = append(r.Serie.Filiali, line)
	}
	month := func(v []int) (n int) {
		for _, x := range v {
			n += x
		}
		return n
	}
	slices.SortStableFunc(r.Serie.Filiali, func(a, b branchSeries) int { return cmp.Compare(month(b.Valori), month(a.Valori)) })
	s.Filiali = len(branches)
	s.CittadiniNuovi = s.Andamento.Cittadini.Ieri
	s.CandidatureNuove = s.Andamento.Candidature.Ieri
	s.OffertePubblicate = r.OffertePerSt["PUBBLICATA"]
	s.OfferteInScadenza = len(r.InScadenza)
}
