package function

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/problem"
)

// code is a valid codice fiscale; omocode one of its omocodic variants.
const code = "RSSMRA85T10A562S"

func post(body, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/subject", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestParseSubject(t *testing.T) {
	t.Parallel()
	omocode, err := cf.Variant(cf.Code(code), 3)
	if err != nil {
		t.Fatal(err)
	}
	valid := []string{
		`{"codice_fiscale":"` + code + `"}`,
		`{"codice_fiscale":"` + strings.ToLower(code) + `"}`,
		`{"codice_fiscale":"RSS MRA 85T10 A562S"}`,
		`{"codice_fiscale":"` + string(omocode) + `"}`,
	}
	for _, body := range valid {
		got, err := parseSubject(post(body, "application/json"))
		if err != nil || got != code {
			t.Errorf("%s: %q, %v", body, got, err)
		}
	}
	cases := []struct {
		body, contentType string
		kind              problem.Kind
		field             string // the field named, if any
	}{
		{`{"codice_fiscale":"RSSMRA85T10A562X"}`, "application/json", problem.Invalid, "codice_fiscale"},
		{`{"codice_fiscale":""}`, "application/json", problem.Invalid, "codice_fiscale"},
		{`{"codice_fiscale":null}`, "application/json", problem.Invalid, "codice_fiscale"},
		{`{}`, "application/json", problem.Invalid, "codice_fiscale"},
		{`{"codice_fiscale":42}`, "application/json", problem.Invalid, "codice_fiscale"},
		{`{"codice_fiscale":"` + code + `","dal":"2026-01-01"}`, "application/json", problem.Invalid, ""},
		{`{"` + code + `":1}`, "application/json", problem.Invalid, ""},
		{`{"codice_fiscale":"` + code + `"} {}`, "application/json", problem.Invalid, ""},
		{`[]`, "application/json", problem.Invalid, ""},
		{``, "application/json", problem.Invalid, ""},
		{`{"codice_fiscale":"` + code + `"}`, "text/plain", problem.UnsupportedMediaType, ""},
		{`{"codice_fiscale":"` + code + `"}`, "", problem.UnsupportedMediaType, ""},
	}
	for _, c := range cases {
		_, err := parseSubject(post(c.body, c.contentType))
		var pe *problem.Error
		if !errors.As(err, &pe) || pe.Kind != c.kind {
			t.Errorf("%s: %v, want kind %v", c.body, err, c.kind)
			continue
		}
		if c.field != "" && (len(pe.Fields) != 1 || pe.Fields[0].Field != c.field) {
			t.Errorf("%s: fields %+v, want %s", c.body, pe.Fields, c.field)
		}
		assertNoCode(t, pe)
	}
}

// assertNoCode: what a refusal shows the caller holds no codice fiscale.
func assertNoCode(t *testing.T, pe *problem.Error) {
	t.Helper()
	shown := pe.Detail
	for _, fe := range pe.Fields {
		shown += " " + fe.Field + " " + fe.Code + " " + fe.Detail
	}
	if cf.MaskAll(shown) != shown || strings.Contains(strings.ToUpper(shown), "RSSMRA") {
		t.Errorf("the refusal repeats a code: %q", shown)
	}
}

// FuzzParseSubject: any body is a canonical, valid code or a 4xx that
// names no value sent; never a panic.
func FuzzParseSubject(f *testing.F) {
	f.Add(`{"codice_fiscale":"` + code + `"}`)
	f.Add(`{"codice_fiscale":"rss mra 85t10 a562s"}`)
	f.Add(`{"codice_fiscale":"RSSMRA85T10A56NS"}`)
	f.Add(`{"codice_fiscale":"12345678903"}`)
	f.Add(`{"codice_fiscale":"RSSMRA85T10A562X"}`)
	f.Add(`{"RSSMRA85T10A562S":"x"}`)
	f.Add(`{"codice_fiscale":"\u0000"}`)
	f.Add("{\"codice_fiscale\":\"\xff\"}")
	f.Add(`{"codice_fiscale":["` + code + `"]}`)
	f.Add(`{"codice_fiscale":"` + code + `"}{}`)
	f.Fuzz(func(t *testing.T, body string) {
		got, err := parseSubject(post(body, "application/json"))
		if err == nil {
			again, perr := cf.Parse(string(got))
			if perr != nil || again != got || again.Canonical() != got {
				t.Fatalf("%q gave %q, not a canonical code", body, got)
			}
			return
		}
		var pe *problem.Error
		if !errors.As(err, &pe) || problem.Status(err) != http.StatusBadRequest {
			t.Fatalf("%q: %v, want a 400", body, err)
		}
		shown := pe.Detail
		for _, fe := range pe.Fields {
			shown += " " + fe.Field + " " + fe.Detail
		}
		if cf.MaskAll(shown) != shown {
			t.Fatalf("%q: the refusal repeats a code: %q", body, shown)
		}
		if !utf8.ValidString(shown) {
			t.Fatalf("%q: the refusal is not UTF-8: %q", body, shown)
		}
	})
}
