package function

import (
	"bytes"
	"fmt"

	"github.com/xuri/excelize/v2"

	"github.com/rdc-interop/faas/shared/civil"
)

// stateOrder is how the states are listed.
var stateOrder = []string{"BOZZA", "PUBBLICATA", "SOSPESA", "CHIUSA", "SCADUTA"}

// chartBranches is how many branches the summary's chart draws (those with
// the most interest expressions in the 30 days): more lines cannot be told
// apart. The sheet of its data has every branch.
const chartBranches = 10

// summaryNearEnd is how many offers ending soon the summary lists; the
// sheet of its own lists them all.
const summaryNearEnd = 20

// Sheet names, which the chart's ranges and the readers' links use.
const (
	sheetSummary = "Riepilogo"
	sheetSeries  = "Andamento 30 giorni"
	sheetNearEnd = "Offerte in scadenza"
)

// column is a header and its width, in characters.
type column struct {
	name  string
	width float64
}

var trendColumns = []column{{"Ieri", 10}, {"Giorno prima", 13}, {"Ultimi 7 giorni", 15}, {"Ultimi 30 giorni", 16}}

// book writes the workbook: the summary, read by people first, is a plain
// sheet (it holds the chart, which a streamed sheet cannot); the lists are
// streamed, so a large agency's offers are not all held in memory.
type book struct {
	f    *excelize.File
	bold int
}

// workbook writes the report for people: the summary first, with the
// trend of each figure, the chart of the branches' interest expressions
// over 30 days and the offers ending soon; then a sheet per list, each
// with a frozen header of readable names. Every number comes from r, as
// the JSON twin's do.
func (r report) workbook() ([]byte, error) {
	b := &book{f: excelize.NewFile()}
	defer b.f.Close()
	var err error
	if b.bold, err = b.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return nil, err
	}
	if err := b.f.SetSheetName("Sheet1", sheetSummary); err != nil {
		return nil, err
	}
	if err := r.summarySheet(b); err != nil {
		return nil, fmt.Errorf("summary sheet: %w", err)
	}
	branchCols := []column{{"Filiale", 14}, {"Denominazione", 30}, {"Comune", 20}, {"Totale", 10}}
	lists := []struct {
		name string
		cols []column
		rows func(add func(...any) error) error
	}{
		{"Cittadini per filiale", append(branchCols, trendColumns...), func(add func(...any) error) error { return branchRows(add, r.Cittadini) }},
		{"Candidature per filiale", append(branchCols, trendColumns...), func(add func(...any) error) error { return branchRows(add, r.Candidature) }},
		{"Candidature per offerta", append([]column{{"Riferimento offerta", 24}, {"Titolo", 32}, {"Filiale", 14}, {"Totale", 10}}, trendColumns...),
			func(add func(...any) error) error {
				for _, c := range r.PerOfferta {
					t := c.Andamento
					if err := add(c.RiferimentoAPL, c.Titolo, c.Filiale, c.Totale, t.Ieri, t.GiornoPrima, t.Ultimi7, t.Ultimi30); err != nil {
						return err
					}
				}
				return nil
			}},
		{"Offerte per stato", []column{{"Stato", 16}, {"Offerte", 10}}, func(add func(...any) error) error {
			for _, st := range stateOrder {
				if err := add(st, r.OffertePerSt[st]); err != nil {
					return err
				}
			}
			return nil
		}},
		{sheetNearEnd, []column{{"Riferimento offerta", 24}, {"Titolo", 32}, {"Filiale", 14}, {"Fine pubblicazione", 18}}, func(add func(...any) error) error {
			for _, e := range r.InScadenza {
				if err := add(e.RiferimentoAPL, e.Titolo, e.Filiale, e.DataFinePubblicazione.String()); err != nil {
					return err
				}
			}
			return nil
		}},
		{sheetSeries, r.seriesColumns(), func(add func(...any) error) error {
			for k, d := range r.Serie.Giorni {
				row := []any{d.String()}
				for _, s := range r.Serie.Filiali {
					row = append(row, s.Valori[k])
				}
				if err := add(row...); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, l := range lists {
		if err := b.list(l.name, l.cols, l.rows); err != nil {
			return nil, fmt.Errorf("sheet %s: %w", l.name, err)
		}
	}
	var out bytes.Buffer
	if _, err := b.f.WriteTo(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func branchRows(add func(...any) error, rows []branchCount) error {
	for _, c := range rows {
		t := c.Andamento
		if err := add(c.Filiale, c.Denominazione, c.Comune, c.Totale, t.Ieri, t.GiornoPrima, t.Ultimi7, t.Ultimi30); err != nil {
			return err
		}
	}
	return nil
}

// seriesColumns: the day, then a branch per column, in the series' order.
func (r report) seriesColumns() []column {
	cols := []column{{"Giorno", 12}}
	for _, s := range r.Serie.Filiali {
		cols = append(cols, column{s.Filiale + " " + s.label(), 18})
	}
	return cols
}

// list streams one sheet: a frozen bold header, then the rows.
func (b *book) list(name string, cols []column, rows func(add func(...any) error) error) error {
	if _, err := b.f.NewSheet(name); err != nil {
		return err
	}
	sw, err := b.f.NewStreamWriter(name)
	if err != nil {
		return err
	}
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	n := 0
	add := func(values ...any) error {
		n++
		cell, err := excelize.CoordinatesToCellName(1, n)
		if err != nil {
			return err
		}
		return sw.SetRow(cell, values)
	}
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = excelize.Cell{StyleID: b.bold, Value: c.name}
	}
	if err := add(header...); err != nil {
		return err
	}
	if err := rows(add); err != nil {
		return err
	}
	return sw.Flush()
}

// Where the summary's parts are: the figures from row 3, the chart beside
// them, the offers ending soon under the chart.
const (
	summaryFiguresRow = 3
	summaryChartCell  = "H3"
	summaryNearEndRow = 12
)

// summarySheet is the page a super opens: the agency and day, each figure
// with its trend, the chart, the offers ending soon.
func (r report) summarySheet(b *book) error {
	f, sh := b.f, sheetSummary
	set := func(col, row int, v any, bold bool) error {
		cell, err := excelize.CoordinatesToCellName(col, row)
		if err != nil {
			return err
		}
		if err := f.SetCellValue(sh, cell, v); err != nil {
			return err
		}
		if bold {
			return f.SetCellStyle(sh, cell, cell, b.bold)
		}
		return nil
	}
	line := func(row int, bold bool, values ...any) error {
		for i, v := range values {
			if v == nil {
				continue
			}
			if err := set(i+1, row, v, bold); err != nil {
				return err
			}
		}
		return nil
	}
	for i, w := range []float64{42, 12, 10, 13, 15, 16} {
		col, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(sh, col, col, w); err != nil {
			return err
		}
	}
	s := r.Riepilogo
	if err := line(1, true, "Report giornaliero "+r.NomeAPL+" ("+r.APL+") del "+r.Data.String()); err != nil {
		return err
	}
	c, i := s.Andamento.Cittadini, s.Andamento.Candidature
	rows := [][]any{
		{"Voce", "Totale", "Ieri", "Giorno prima", "Ultimi 7 giorni", "Ultimi 30 giorni"},
		{"Cittadini che hanno scelto l'agenzia", s.CittadiniTotali, c.Ieri, c.GiornoPrima, c.Ultimi7, c.Ultimi30},
		{"Manifestazioni di interesse", s.CandidatureTotali, i.Ieri, i.GiornoPrima, i.Ultimi7, i.Ultimi30},
		{"Filiali", s.Filiali},
		{"Offerte pubblicate", s.OffertePubblicate},
		{fmt.Sprintf("Offerte in scadenza entro %d giorni", nearEndDays), s.OfferteInScadenza},
		{"Generato il", r.GeneratoIl.In(civil.Rome).Format("2006-01-02 15:04")},
	}
	for k, row := range rows {
		if err := line(summaryFiguresRow+k, k == 0, row...); err != nil {
			return err
		}
	}
	if err := f.SetPanes(sh, &excelize.Panes{Freeze: true, YSplit: summaryFiguresRow, TopLeftCell: fmt.Sprintf("A%d", summaryFiguresRow+1), ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := r.chart(f); err != nil {
		return err
	}
	row := summaryNearEndRow
	if err := line(row, true, fmt.Sprintf("Offerte in scadenza entro %d giorni", nearEndDays)); err != nil {
		return err
	}
	row++
	if err := line(row, true, "Riferimento offerta", "Titolo", "Filiale", "Fine pubblicazione"); err != nil {
		return err
	}
	for k, e := range r.InScadenza {
		if k == summaryNearEnd {
			row++
			return line(row, false, fmt.Sprintf("… e altre %d nel foglio %s", len(r.InScadenza)-summaryNearEnd, sheetNearEnd))
		}
		row++
		if err := line(row, false, e.RiferimentoAPL, e.Titolo, e.Filiale, e.DataFinePubblicazione.String()); err != nil {
			return err
		}
	}
	if len(r.InScadenza) == 0 {
		return line(row+1, false, "nessuna")
	}
	return nil
}

// chart draws, on the summary, the interest expressions of each of the
// busiest branches on each of the 30 days, from the series' sheet.
func (r report) chart(f *excelize.File) error {
	days := len(r.Serie.Giorni)
	ref := func(col, fromRow, toRow int) string {
		name, _ := excelize.ColumnNumberToName(col)
		return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheetSeries, name, fromRow, name, toRow)
	}
	var lines []excelize.ChartSeries
	for k := range min(chartBranches, len(r.Serie.Filiali)) {
		name, _ := excelize.ColumnNumberToName(k + 2)
		lines = append(lines, excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$1", sheetSeries, name),
			Categories: ref(1, 2, days+1),
			Values:     ref(k+2, 2, days+1),
		})
	}
	if len(lines) == 0 {
		return nil // an agency with no branch: nothing to draw
	}
	return f.AddChart(sheetSummary, summaryChartCell, &excelize.Chart{
		Type:      excelize.Line,
		Series:    lines,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Manifestazioni di interesse per filiale, ultimi 30 giorni"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 380},
	})
}
