package function

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/civil"
)

// nearEndDays is how far ahead "near the end of publication" looks.
const nearEndDays = 7

// report is one agency's day, in the JSON twin's shape; the workbook has a
// sheet per list, the summary first.
type report struct {
	APL          string         `json:"apl"`
	Data         civil.Date     `json:"data"`
	GeneratoIl   time.Time      `json:"generato_il"`
	Riepilogo    summary        `json:"riepilogo"`
	Cittadini    []branchCount  `json:"cittadini_per_filiale"`
	Candidature  []branchCount  `json:"candidature_per_filiale"`
	PerOfferta   []offerCount   `json:"candidature_per_offerta"`
	OffertePerSt map[string]int `json:"offerte_per_stato"`
	InScadenza   []nearEnd      `json:"offerte_in_scadenza"`
}

type summary struct {
	Filiali           int `json:"filiali"`
	CittadiniTotali   int `json:"cittadini_totali"`
	CittadiniNuovi    int `json:"cittadini_nuovi"`
	CandidatureTotali int `json:"candidature_totali"`
	CandidatureNuove  int `json:"candidature_nuove"`
	OffertePubblicate int `json:"offerte_pubblicate"`
	OfferteInScadenza int `json:"offerte_in_scadenza"`
}

type branchCount struct {
	Filiale string `json:"filiale"`
	Totale  int    `json:"totale"`
	Nuovi   int    `json:"nuovi"`
}

type offerCount struct {
	IDOfferta      string `json:"id_offerta"`
	RiferimentoAPL string `json:"riferimento_apl"`
	Titolo         string `json:"titolo"`
	Filiale        string `json:"filiale"`
	Totale         int    `json:"totale"`
	Nuove          int    `json:"nuove"`
}

type nearEnd struct {
	IDOfferta             string     `json:"id_offerta"`
	RiferimentoAPL        string     `json:"riferimento_apl"`
	Titolo                string     `json:"titolo"`
	Filiale               string     `json:"filiale"`
	DataFinePubblicazione civil.Date `json:"data_fine_pubblicazione"`
}

// The figures, across every branch of the agency, as of the end of the day
// (@start, @end: its bounds; @day: its date). An offer's state is its
// present one, but read as SCADUTA when its publication had ended before
// the day; the offers a day has not yet seen created are left out.
const (
	citizensSQL = `
SELECT f.codice, count(s.componente_id) FILTER (WHERE s.scelta_il < @end),
       count(s.componente_id) FILTER (WHERE s.scelta_il >= @start AND s.scelta_il < @end)
FROM apl_filiale f LEFT JOIN scelta_apl s ON s.filiale = f.codice AND s.apl_id = f.apl_id
WHERE f.apl_id = @apl
GROUP BY f.codice ORDER BY f.codice`

	interestsByOfferSQL = `
SELECT o.id::text, o.riferimento_apl, o.titolo, o.filiale, count(*), count(*) FILTER (WHERE mi.creata_il >= @start)
FROM offerta o JOIN manifestazione_interesse mi ON mi.offerta_id = o.id AND mi.creata_il < @end
WHERE o.apl_id = @apl
GROUP BY o.id ORDER BY o.riferimento_apl`

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

// figures reads an agency's day in one snapshot.
func figures(ctx context.Context, tx pgx.Tx, apl string, day civil.Date) (report, error) {
	start, end := day.Bounds()
	args := pgx.NamedArgs{"apl": apl, "start": start, "end": end, "day": day.Time(), "near": nearEndDays}
	r := report{APL: apl, Data: day, OffertePerSt: map[string]int{"BOZZA": 0, "PUBBLICATA": 0, "SOSPESA": 0, "CHIUSA": 0, "SCADUTA": 0}}
	b := &pgx.Batch{}
	counts := func(sql string, into *[]branchCount) {
		b.Queue(sql, args).Query(func(rows pgx.Rows) error {
			var c branchCount
			_, err := pgx.ForEachRow(rows, []any{&c.Filiale, &c.Totale, &c.Nuovi}, func() error { *into = append(*into, c); return nil })
			return err
		})
	}
	counts(citizensSQL, &r.Cittadini)
	b.Queue(interestsByOfferSQL, args).Query(func(rows pgx.Rows) error {
		var c offerCount
		_, err := pgx.ForEachRow(rows, []any{&c.IDOfferta, &c.RiferimentoAPL, &c.Titolo, &c.Filiale, &c.Totale, &c.Nuove},
			func() error { r.PerOfferta = append(r.PerOfferta, c); return nil })
		return err
	})
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
	// The branches' interest counts are the sums of their offers': one pass
	// over the interest expressions, not two.
	byBranch := map[string]*branchCount{}
	for _, c := range r.Cittadini {
		r.Candidature = append(r.Candidature, branchCount{Filiale: c.Filiale})
	}
	for i := range r.Candidature {
		byBranch[r.Candidature[i].Filiale] = &r.Candidature[i]
	}
	for _, o := range r.PerOfferta {
		if b := byBranch[o.Filiale]; b != nil {
			b.Totale += o.Totale
			b.Nuovi += o.Nuove
		}
	}
	s := &r.Riepilogo
	s.Filiali = len(r.Cittadini)
	for _, c := range r.Cittadini {
		s.CittadiniTotali += c.Totale
		s.CittadiniNuovi += c.Nuovi
	}
	for _, c := range r.Candidature {
		s.CandidatureTotali += c.Totale
		s.CandidatureNuove += c.Nuovi
	}
	s.OffertePubblicate = r.OffertePerSt["PUBBLICATA"]
	s.OfferteInScadenza = len(r.InScadenza)
	return r, nil
}
