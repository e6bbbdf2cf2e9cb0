package function

import (
	"fmt"
	"testing"
	"time"
)

func padData() map[string]any {
	return map[string]any{
		"codice_fiscale":  rossi,
		"sottoscritto_il": "2024-05-02T10:30:00+02:00",
		"scelte": []any{
			map[string]any{"apl": "1001", "filiale": "1001-RM01"},
			map[string]any{"apl": "1002", "filiale": "1002-TO01"},
			map[string]any{"apl": "1003", "filiale": "1003-NA01"},
		},
	}
}

func TestDecodePAD(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		v, err := decodePAD(rossi, changed(padData(), nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != len(padKind.Columns) {
			t.Fatalf("%d values for %d columns", len(v), len(padKind.Columns))
		}
		if at := v[0].(time.Time); !at.Equal(time.Date(2024, 5, 2, 8, 30, 0, 0, time.UTC)) || at.Location() != time.UTC {
			t.Fatalf("signed %v", at)
		}
		apl, branches := v[1].([]string), v[2].([]string)
		if fmt.Sprint(apl) != "[1001 1002 1003]" || fmt.Sprint(branches) != "[1001-RM01 1002-TO01 1003-NA01]" {
			t.Fatalf("choices %v %v", apl, branches)
		}
	})
	t.Run("omocodic spelling of the key's person", func(t *testing.T) {
		if _, err := decodePAD(rossi, changed(padData(), map[string]any{"codice_fiscale": rossiOmo})); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no choice", func(t *testing.T) {
		v, err := decodePAD(rossi, changed(padData(), map[string]any{"scelte": []any{}}))
		if err != nil {
			t.Fatal(err)
		}
		if a := v[1].([]string); a == nil || len(a) != 0 {
			t.Fatalf("apl %#v, want an empty array", a)
		}
	})

	many := make([]any, maxChoices+1)
	for i := range many {
		many[i] = map[string]any{"apl": fmt.Sprint(1001 + i), "filiale": "F"}
	}
	for _, tc := range []struct {
		name        string
		set         map[string]any
		field, code string
	}{
		{"wrong check letter", map[string]any{"codice_fiscale": rossiWrong}, "codice_fiscale", "invalid"},
		{"another person than the key's", map[string]any{"codice_fiscale": bianchi}, "codice_fiscale", "invalid"},
		{"missing codice fiscale", map[string]any{"codice_fiscale": nil}, "codice_fiscale", "required"},
		{"missing signing instant", map[string]any{"sottoscritto_il": nil}, "sottoscritto_il", "required"},
		{"signing date without a time", map[string]any{"sottoscritto_il": "2024-05-02"}, "sottoscritto_il", "invalid"},
		{"signing instant without a zone", map[string]any{"sottoscritto_il": "2024-05-02T10:30:00"}, "sottoscritto_il", "invalid"},
		{"signing instant in 1999", map[string]any{"sottoscritto_il": "1999-12-31T23:59:59Z"}, "sottoscritto_il", "invalid"},
		{"impossible day", map[string]any{"sottoscritto_il": "2024-02-30T10:00:00Z"}, "sottoscritto_il", "invalid"},
		{"missing choices", map[string]any{"scelte": nil}, "scelte", "required"},
		{"too many choices", map[string]any{"scelte": many}, "scelte", "invalid"},
		{"agency twice", map[string]any{"scelte": []any{
			map[string]any{"apl": "1001", "filiale": "1001-RM01"}, map[string]any{"apl": "1001", "filiale": "1001-MI01"},
		}}, "scelte[1].apl", "invalid"},
		{"missing agency", map[string]any{"scelte": []any{map[string]any{"filiale": "1001-RM01"}}}, "scelte[0].apl", "required"},
		{"missing branch", map[string]any{"scelte": []any{map[string]any{"apl": "1001"}}}, "scelte[0].filiale", "required"},
		{"bad branch", map[string]any{"scelte": []any{map[string]any{"apl": "1001", "filiale": "1001 RM01"}}}, "scelte[0].filiale", "invalid"},
		{"unknown field of a choice", map[string]any{"scelte": []any{map[string]any{"apl": "1001", "filiale": "F", "x": 1}}}, "", "unknown"},
		{"choice not an object", map[string]any{"scelte": []any{"1001"}}, "scelte", "type"},
		{"unknown field", map[string]any{"stato": "FIRMATO"}, "", "unknown"},
		{"field at the wrong level", map[string]any{"apl": "1001"}, "apl", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertReject(t, decodePAD, rossi, changed(padData(), tc.set), tc.field, tc.code)
		})
	}
}

func FuzzDecodePAD(f *testing.F) {
	fuzzDecode(f, padKind, changed(padData(), nil), changed(padData(), map[string]any{"scelte": []any{}}),
		changed(padData(), map[string]any{"codice_fiscale": rossiOmo}))
}
