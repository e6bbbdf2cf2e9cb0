package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rdc-interop/faas/shared/problem"
)

type fuzzTarget struct {
	CodiceFiscale string  `json:"codice_fiscale"`
	Motivazione   *string `json:"motivazione" text:"multiline"`
	N             int     `json:"n"`
	Periodo       *struct {
		Da string `json:"da"`
	} `json:"periodo"`
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ct, body string
		status         int
		field          string
	}{
		{"ok", "application/json", `{"codice_fiscale":"X","n":1}`, 0, ""},
		{"charset ok", "application/json; charset=utf-8", `{"n":1}`, 0, ""},
		{"wrong type", "application/json", `{"n":"1"}`, 400, "n"},
		{"unknown field", "application/json", `{"x":1}`, 400, ""},
		{"known name, wrong level", "application/json", `{"periodo":{"n":1}}`, 400, "n"},
		{"NUL", "application/json", `{"codice_fiscale":"A\u0000B"}`, 400, "codice_fiscale"},
		{"NUL in a multi-line field", "application/json", `{"motivazione":"a\u0000"}`, 400, "motivazione"},
		{"line break in a multi-line field", "application/json", `{"motivazione":"a\r\nb\tc"}`, 0, ""},
		{"line break in a one-line field", "application/json", `{"codice_fiscale":"a\nb"}`, 400, "codice_fiscale"},
		{"nested", "application/json", `{"periodo":{"da":"\u0007"}}`, 400, "periodo.da"},
		{"invalid UTF-8", "application/json", "{\"codice_fiscale\":\"\xff\"}", 400, "codice_fiscale"},
		{"two values", "application/json", `{} {}`, 400, ""},
		{"empty", "application/json", ``, 400, ""},
		{"truncated", "application/json", `{"n":`, 400, ""},
		{"not an object", "application/json", `[1]`, 400, ""},
		{"text", "text/plain", `{}`, 415, ""},
		{"no content type", "", `{}`, 415, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			var v fuzzTarget
			err := DecodeJSON(r, &v)
			if tt.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := problem.Status(err); got != tt.status {
				t.Fatalf("status %d, want %d (%v)", got, tt.status, err)
			}
			if tt.field != "" {
				if b, _ := problem.BodyFor(err, "r"); len(b.Errors) == 0 || b.Errors[0].Field != tt.field {
					t.Fatalf("field not named: %+v", b.Errors)
				}
			}
		})
	}
}

// FuzzDecodeJSON: whatever a partner sends, the decoder either fills the
// value or refuses with a 4xx problem; it never fails as a 500 or panics.
// A value it fills holds only text PostgreSQL can store, and a refusal names
// no member the caller made up.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"codice_fiscale":"RSSMRA85T10A562S"}`, `{"motivazione":null}`, `{"n":1e400}`, `{`, `[]`, `{"n":1}{}`, "\xff",
		`{"codice_fiscale":"\u0000"}`, `{"motivazione":"a\nb"}`, `{"periodo":{"da":"\u009f"}}`, `{"RSSMRA85T10A562S":1}`, "{\"motivazione\":\"\xc0\"}"} {
		f.Add(s)
	}
	known := map[string]bool{"": true, "codice_fiscale": true, "motivazione": true, "n": true, "periodo": true, "da": true}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body))
		r.Header.Set("Content-Type", "application/json")
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		var v fuzzTarget
		err := DecodeJSON(r, &v)
		if err != nil {
			if s := problem.Status(err); s < 400 || s > 499 {
				t.Fatalf("status %d for %q: %v", s, body, err)
			}
			b, _ := problem.BodyFor(err, "r")
			for _, fe := range b.Errors {
				for _, part := range strings.Split(fe.Field, ".") {
					if !known[part] {
						t.Fatalf("%q names %q, not a field of the request", body, fe.Field)
					}
				}
			}
			return
		}
		if !utf8.ValidString(body) {
			t.Fatalf("accepted a body that is not UTF-8: %q", body)
		}
		for _, s := range []string{v.CodiceFiscale, deref(v.Motivazione)} {
			if strings.ContainsRune(s, 0) {
				t.Fatalf("accepted a NUL: %q", body)
			}
		}
		if strings.ContainsAny(v.CodiceFiscale, "\n\r\t\x7f") {
			t.Fatalf("accepted a control character in a one-line field: %q", body)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
