package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rdc-interop/faas/shared/problem"
)

type fuzzTarget struct {
	CodiceFiscale string  `json:"codice_fiscale"`
	Motivazione   *string `json:"motivazione"`
	N             int     `json:"n"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, ct, body string
		status         int
		field          string
	}{
		{"ok", "application/json", `{"codice_fiscale":"X","n":1}`, 0, ""},
		{"charset ok", "application/json; charset=utf-8", `{"n":1}`, 0, ""},
		{"wrong type", "application/json", `{"n":"1"}`, 400, "n"},
		{"unknown field", "application/json", `{"x":1}`, 400, "x"},
		{"two values", "application/json", `{} {}`, 400, ""},
		{"empty", "application/json", ``, 400, ""},
		{"truncated", "application/json", `{"n":`, 400, ""},
		{"not an object", "application/json", `[1]`, 400, ""},
		{"text", "text/plain", `{}`, 415, ""},
		{"no content type", "", `{}`, 415, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"codice_fiscale":"RSSMRA85T10A562S"}`, `{"motivazione":null}`, `{"n":1e400}`, `{`, `[]`, `{"n":1}{}`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body))
		r.Header.Set("Content-Type", "application/json")
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		var v fuzzTarget
		if err := DecodeJSON(r, &v); err != nil {
			if s := problem.Status(err); s < 400 || s > 499 {
				t.Fatalf("status %d for %q: %v", s, body, err)
			}
		}
	})
}
