package function

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/rdc-interop/faas/shared/civil"
)

// pdfType is the media type of a PDF answer, which a client asks for with Accept.
const pdfType = "application/pdf"

// pdfWanted reports whether the request asks for a PDF rather than JSON.
func pdfWanted(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == pdfType {
			return true
		}
	}
	return false
}

// document is a PDF being written: A4, one column, Helvetica.
//
// Helvetica is one of the PDF core fonts, which every reader has and which
// therefore need not be embedded; but a core font is a one-byte font in
// WinAnsiEncoding (cp1252), and fpdf writes a Go string's bytes as they
// are: the UTF-8 of "è" would print as "Ã¨". Every text goes through tr,
// fpdf's cp1252 translator, which maps the Italian accented letters (and
// all of Latin-1, € and the typographic quotes) to their cp1252 byte. A
// character cp1252 lacks prints as "."; embedding a full TrueType font
// instead would cost a font file in the image and ~100 KiB a document for
// letters Italian CVs do not use.
type document struct {
	f  *fpdf.Fpdf
	tr func(string) string
}

func newDocument(title string, made time.Time) *document {
	f := fpdf.New("P", "mm", "A4", "")
	d := &document{f: f, tr: f.UnicodeTranslatorFromDescriptor("cp1252")}
	f.SetTitle(title, true)
	f.SetCreator("SIISL", true)
	f.SetCreationDate(made)
	f.SetMargins(20, 20, 20)
	f.SetAutoPageBreak(true, 20)
	f.AliasNbPages("")
	f.SetFooterFunc(func() {
		f.SetY(-15)
		f.SetFont("Helvetica", "", 8)
		f.CellFormat(0, 10, d.tr(fmt.Sprintf("%s - pagina %d di {nb}", title, f.PageNo())), "", 0, "C", false, 0, "")
	})
	f.AddPage()
	f.SetFont("Helvetica", "B", 16)
	f.MultiCell(0, 8, d.tr(title), "", "L", false)
	f.Ln(4)
	return d
}

// heading starts a section.
func (d *document) heading(s string) {
	d.f.Ln(3)
	d.f.SetFont("Helvetica", "B", 12)
	d.f.MultiCell(0, 7, d.tr(s), "B", "L", false)
	d.f.Ln(2)
}

// field is one "label: value" line.
func (d *document) field(label, value string) {
	d.f.SetFont("Helvetica", "B", 10)
	d.f.CellFormat(55, 6, d.tr(label), "", 0, "L", false, 0, "")
	d.f.SetFont("Helvetica", "", 10)
	d.f.MultiCell(0, 6, d.tr(value), "", "L", false)
}

// text is a paragraph, wrapped; its line breaks are kept.
func (d *document) text(s string) {
	d.f.SetFont("Helvetica", "", 10)
	d.f.MultiCell(0, 5, d.tr(s), "", "L", false)
}

// bytes ends the document. It is made whole before anything is sent, so
// that a failure is still a problem answer, not half a file.
func (d *document) bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := d.f.Output(&b); err != nil {
		return nil, fmt.Errorf("write pdf: %w", err)
	}
	return b.Bytes(), nil
}

// sendPDF writes a document as a download. The name is fixed: a filename
// ends up in the browser's history and download folder, so it holds no
// personal data, not even the citizen's id.
func sendPDF(w http.ResponseWriter, body []byte, name string) error {
	h := w.Header()
	h.Set("Content-Type", pdfType)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// romeTime is an instant as an Italian reader expects it.
func romeTime(t time.Time) string { return t.In(civil.Rome).Format("02/01/2006 15:04") }

// romeDay is a day as an Italian reader expects it.
func romeDay(t time.Time) string { return t.In(civil.Rome).Format("02/01/2006") }
