package function

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rdc-interop/faas/shared/feed"
)

// Codes of the cf package's tests: two people, one of them also spelt
// omocodically, and the first with a wrong check letter.
const (
	rossi      = "RSSMRA85T10A562S"
	rossiOmo   = "RSSMRA85T10A56NH" // the same person as rossi
	bianchi    = "BNCLRA90A41H501F"
	rossiWrong = "RSSMRA85T10A562T"
)

func pattoData() map[string]any {
	return map[string]any{
		"protocollo_domanda":  "INPS-2024-000123",
		"stato":               "SOTTOSCRITTO",
		"data_sottoscrizione": "2024-03-01",
		"data_fine":           "2025-03-01",
		"ambito":              "Ambito RM 1",
		"componenti":          []any{rossi, bianchi},
	}
}

// with returns the valid data changed by set: a nil value removes a field.
func with(set map[string]any) []byte {
	d := pattoData()
	for k, v := range set {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodePatto(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		v, err := decodePatto("P-1", with(nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != len(pattoKind.Columns) {
			t.Fatalf("%d values for %d columns", len(v), len(pattoKind.Columns))
		}
		signed := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
		if v[0] != "INPS-2024-000123" || v[1] != "SOTTOSCRITTO" || !v[2].(*time.Time).Equal(signed) || v[4] != "Ambito RM 1" {
			t.Fatalf("values %v", v)
		}
		if m := v[5].([]string); len(m) != 2 || m[0] != rossi || m[1] != bianchi {
			t.Fatalf("members %v", m)
		}
	})
	t.Run("being defined: no dates", func(t *testing.T) {
		v, err := decodePatto("P-1", with(map[string]any{"stato": "IN_DEFINIZIONE", "data_sottoscrizione": nil, "data_fine": nil}))
		if err != nil {
			t.Fatal(err)
		}
		if v[2].(*time.Time) != nil || v[3].(*time.Time) != nil {
			t.Fatalf("dates %v %v", v[2], v[3])
		}
	})
	t.Run("omocodic member stored canonical", func(t *testing.T) {
		v, err := decodePatto("P-1", with(map[string]any{"componenti": []any{rossiOmo}}))
		if err != nil {
			t.Fatal(err)
		}
		if m := v[5].([]string); len(m) != 1 || m[0] != rossi {
			t.Fatalf("members %v", m)
		}
	})
	t.Run("ambito of 100 bytes", func(t *testing.T) {
		if _, err := decodePatto("P-1", with(map[string]any{"ambito": strings.Repeat("è", maxAmbito/2)})); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ends on the day it is signed", func(t *testing.T) {
		if _, err := decodePatto("P-1", with(map[string]any{"stato": "CONCLUSO", "data_fine": "2024-03-01"})); err != nil {
			t.Fatal(err)
		}
	})

	many := make([]any, maxMembers+1)
	for i := range many {
		many[i] = rossi
	}
	for _, tc := range []struct {
		name        string
		set         map[string]any
		field, code string
	}{
		{"wrong check letter of a member", map[string]any{"componenti": []any{bianchi, rossiWrong}}, "componenti[1]", "invalid"},
		{"member twice", map[string]any{"componenti": []any{rossi, bianchi, rossi}}, "componenti[2]", "invalid"},
		{"member twice, once omocodic", map[string]any{"componenti": []any{rossi, rossiOmo}}, "componenti[1]", "invalid"},
		{"no member", map[string]any{"componenti": []any{}}, "componenti", "required"},
		{"members missing", map[string]any{"componenti": nil}, "componenti", "required"},
		{"too many members", map[string]any{"componenti": many}, "componenti", "invalid"},
		{"member not a string", map[string]any{"componenti": []any{1}}, "componenti", "type"},
		{"missing protocol", map[string]any{"protocollo_domanda": nil}, "protocollo_domanda", "required"},
		{"bad protocol", map[string]any{"protocollo_domanda": "INPS 2024"}, "protocollo_domanda", "invalid"},
		{"missing state", map[string]any{"stato": nil}, "stato", "required"},
		{"bad state", map[string]any{"stato": "FIRMATO"}, "stato", "invalid"},
		{"signed without a date", map[string]any{"data_sottoscrizione": nil}, "data_sottoscrizione", "required"},
		{"concluded without a date", map[string]any{"stato": "CONCLUSO", "data_sottoscrizione": nil, "data_fine": nil}, "data_sottoscrizione", "required"},
		{"bad signing date", map[string]any{"data_sottoscrizione": "2024-02-30"}, "data_sottoscrizione", "invalid"},
		{"signing date as an instant", map[string]any{"data_sottoscrizione": "2024-03-01T00:00:00Z"}, "data_sottoscrizione", "invalid"},
		{"bad end date", map[string]any{"data_fine": "01/03/2025"}, "data_fine", "invalid"},
		{"ends before it is signed", map[string]any{"data_fine": "2024-02-29"}, "data_fine", "invalid"},
		{"missing ambito", map[string]any{"ambito": nil}, "ambito", "required"},
		{"empty ambito", map[string]any{"ambito": ""}, "ambito", "required"},
		{"ambito over 100 bytes", map[string]any{"ambito": strings.Repeat("x", maxAmbito+1)}, "ambito", "invalid"},
		{"ambito with a line break", map[string]any{"ambito": "Ambito\nRM 1"}, "ambito", "control_character"},
		{"unknown field", map[string]any{"nucleo": "1"}, "", "unknown"},
		{"state not a string", map[string]any{"stato": 3}, "stato", "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertReject(t, decodePatto, "P-1", with(tc.set), tc.field, tc.code)
		})
	}
	t.Run("not an object", func(t *testing.T) {
		_, err := decodePatto("P-1", []byte(`[1]`))
		var rj *feed.Reject
		if !errors.As(err, &rj) {
			t.Fatalf("err %v, want a reject", err)
		}
	})
}

func assertReject(t *testing.T, decode func(string, []byte) ([]any, error), key string, dati []byte, field, code string) {
	t.Helper()
	v, err := decode(key, dati)
	var rj *feed.Reject
	if !errors.As(err, &rj) {
		t.Fatalf("got %v, %v; want a reject of %s %s", v, err, field, code)
	}
	if rj.Field != field || rj.Code != code {
		t.Fatalf("reject %s %s, want %s %s", rj.Field, rj.Code, field, code)
	}
}

func TestSourceKey(t *testing.T) {
	for _, k := range []string{"P-1", "gepi:patto/2024.17"} {
		if got, err := sourceKey(k); err != nil || got != k {
			t.Errorf("%q: %q, %v", k, got, err)
		}
	}
	for _, k := range []string{"", "P 1", "P\n1", strings.Repeat("a", 101)} {
		if _, err := sourceKey(k); err == nil {
			t.Errorf("%q accepted", k)
		}
	}
}

func FuzzDecodePatto(f *testing.F) {
	f.Add("P-1", with(nil))
	f.Add("P-1", with(map[string]any{"stato": "IN_DEFINIZIONE", "data_sottoscrizione": nil}))
	f.Add("P-1", with(map[string]any{"componenti": []any{rossi, rossiOmo}}))
	f.Add("P-1", []byte(`{"componenti":null}`))
	f.Add("", []byte(`{}`))
	f.Add("P-2", with(map[string]any{"data_fine": nil}))
	f.Fuzz(func(t *testing.T, key string, dati []byte) {
		v, err := decodePatto(key, dati)
		if err != nil {
			var rj *feed.Reject
			if !errors.As(err, &rj) {
				t.Fatalf("error %v is not a reject", err)
			}
			return
		}
		if len(v) != len(pattoKind.Columns) {
			t.Fatalf("%d values for %d columns", len(v), len(pattoKind.Columns))
		}
	})
}
