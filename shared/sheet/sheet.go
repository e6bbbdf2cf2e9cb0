// Package sheet writes lists as Excel workbooks for the people who read them
// (agency operators, supers): readable column names, a frozen header row,
// set widths. Rows are streamed: the library keeps at most a few MiB in
// memory and spills the rest to a temporary file, so a list of any length
// is exported without loading it.
package sheet

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/xuri/excelize/v2"
)

// MediaType is the workbook's media type, which a client asks for with Accept.
const MediaType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Wanted reports whether the request asks for a workbook rather than JSON.
func Wanted(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == MediaType {
			return true
		}
	}
	return false
}

// Column is a column's header and width (in characters).
type Column struct {
	Name  string
	Width float64
}

// Workbook is one workbook being written, sheet after sheet.
type Workbook struct {
	f   *excelize.File
	sw  *excelize.StreamWriter
	row int
	n   int // sheets started
}

// New starts an empty workbook.
func New() *Workbook { return &Workbook{f: excelize.NewFile()} }

// Sheet ends the sheet being written, if any, and starts another with a
// frozen header row of cols.
func (b *Workbook) Sheet(name string, cols []Column) error {
	if err := b.endSheet(); err != nil {
		return err
	}
	if b.n == 0 {
		if err := b.f.SetSheetName("Sheet1", name); err != nil {
			return fmt.Errorf("sheet %s: %w", name, err)
		}
	} else if _, err := b.f.NewSheet(name); err != nil {
		return fmt.Errorf("sheet %s: %w", name, err)
	}
	b.n++
	sw, err := b.f.NewStreamWriter(name)
	if err != nil {
		return fmt.Errorf("sheet %s: %w", name, err)
	}
	b.sw, b.row = sw, 0
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.Width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	bold, err := b.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = excelize.Cell{StyleID: bold, Value: c.Name}
	}
	return b.Append(header...)
}

// Append adds a row to the current sheet. A nil value is an empty cell.
func (b *Workbook) Append(values ...any) error {
	if b.sw == nil {
		return fmt.Errorf("sheet: a row before any sheet")
	}
	b.row++
	cell, err := excelize.CoordinatesToCellName(1, b.row)
	if err != nil {
		return err
	}
	return b.sw.SetRow(cell, values)
}

func (b *Workbook) endSheet() error {
	if b.sw == nil {
		return nil
	}
	err := b.sw.Flush()
	b.sw = nil
	return err
}

// WriteTo ends the workbook, writes it to w and removes its temporary files.
func (b *Workbook) WriteTo(w io.Writer) (int64, error) {
	defer b.f.Close()
	if err := b.endSheet(); err != nil {
		return 0, err
	}
	return b.f.WriteTo(w)
}

// Close removes the temporary files of a workbook not written.
func (b *Workbook) Close() error { return b.f.Close() }
