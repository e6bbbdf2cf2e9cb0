package function

import (
	"bytes"
	"compress/zlib"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pdfText is the text a PDF shows: its content streams inflated, the
// strings of their text operators unescaped and decoded from cp1252
// (Latin-1 is all a test needs), joined by spaces. A reader shows what the
// operators draw, so this is what a person would read, in order.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	var out []string
	// The end of line before endstream stays in the capture: zlib stops at
	// its checksum and ignores it, while a pattern taking an optional \r
	// there took the checksum's last byte whenever it was 0x0D, and the
	// stream no longer inflated (one PDF in 256, as the time in it varied).
	streams := regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`)
	for _, m := range streams.FindAllSubmatch(pdf, -1) {
		zr, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue // not a compressed content stream
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			continue
		}
		for _, s := range regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`).FindAllSubmatch(b, -1) {
			out = append(out, latin1(unescape(s[1])))
		}
	}
	return strings.Join(strings.Fields(strings.Join(out, " ")), " ")
}

func unescape(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		out = append(out, b[i])
	}
	return out
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func TestCVPDF(t *testing.T) {
	c := cvAnswer{Cognome: "D'Agostino", Nome: "Niccolò", education: "diploma di scuola secondaria superiore", Filiale: "1001-RM01",
		Testo:        "Esperienza come cuoco (trattoria) per 3 anni. Competenze: HACCP, cucina tradizionale, disponibilità a trasferte.",
		AggiornatoIl: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	b, err := cvPDF(c, time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", b[:min(len(b), 16)])
	}
	text := pdfText(t, b)
	for _, want := range []string{"Curriculum vitae", "D'Agostino Niccolò", "diploma di scuola secondaria superiore", "01/05/2026",
		"Esperienza come cuoco (trattoria) per 3 anni. Competenze: HACCP, cucina tradizionale, disponibilità a trasferte."} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF does not show %q; it shows %q", want, text)
		}
	}
}

func TestPADPDF(t *testing.T) {
	a := padAnswer{Cognome: "Rossi", Nome: "Mario", CodiceFiscale: "RSSMRA85T10A562S", Nascita: time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC),
		SottoscrittoIl: time.Date(2026, 1, 7, 9, 30, 0, 0, time.UTC), Agenzia: "Agenzia Uno", Filiale: "1001-RM01", FilialeNome: "Roma centro",
		SceltaIl: time.Date(2026, 1, 7, 9, 30, 0, 0, time.UTC)}
	b, err := padPDF(a, time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, b)
	for _, want := range []string{"Patto di attivazione digitale", "Rossi Mario", "RSSMRA85T10A562S", "10/12/1985",
		"Sottoscritto il 07/01/2026 10:30", "Agenzia Uno", "1001-RM01 - Roma centro", "le altre agenzie scelte dal cittadino non sono comunicate"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF does not show %q; it shows %q", want, text)
		}
	}
}

// TestPDFOutsideCP1252: a letter the core font lacks prints as ".", and
// the document is still made.
func TestPDFOutsideCP1252(t *testing.T) {
	b, err := cvPDF(cvAnswer{Cognome: "Łukasiewicz", Nome: "Zoë", Testo: "Esperienza: 3 anni € ✓"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, b); !strings.Contains(text, ".ukasiewicz Zoë") || !strings.Contains(text, "3 anni \u0080 .") { // € is cp1252's 0x80 (pdfText reads Latin-1); ✓ has no byte
		t.Errorf("shows %q", text)
	}
}

func TestPDFWanted(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                 false,
		"application/json":                 false,
		"application/pdf":                  true,
		"text/html, application/pdf;q=0.9": true,
		"application/pdfx":                 false,
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": false,
	} {
		r, _ := http.NewRequest(http.MethodGet, "/1/cv", nil)
		r.Header.Set("Accept", accept)
		if pdfWanted(r) != want {
			t.Errorf("%q: %v", accept, !want)
		}
	}
}
