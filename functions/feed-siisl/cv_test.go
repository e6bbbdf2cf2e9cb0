package function

import (
	"strings"
	"testing"
)

func cvData() map[string]any {
	return map[string]any{
		"codice_fiscale": rossi,
		"testo":          "Esperienza come magazziniere per 5 anni.\nCompetenze:\tpatente B, uso del muletto.\r\n",
	}
}

func TestDecodeCV(t *testing.T) {
	t.Run("valid, on several lines", func(t *testing.T) {
		v, err := decodeCV(rossi, changed(cvData(), nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != len(cvKind.Columns) || v[0] != cvData()["testo"] {
			t.Fatalf("values %q", v)
		}
	})
	t.Run("the longest", func(t *testing.T) {
		if _, err := decodeCV(rossi, changed(cvData(), map[string]any{"testo": strings.Repeat("a", maxCV)})); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name        string
		set         map[string]any
		field, code string
	}{
		{"wrong check letter", map[string]any{"codice_fiscale": rossiWrong}, "codice_fiscale", "invalid"},
		{"another person than the key's", map[string]any{"codice_fiscale": bianchi}, "codice_fiscale", "invalid"},
		{"missing text", map[string]any{"testo": nil}, "testo", "required"},
		{"blank text", map[string]any{"testo": " \n\t "}, "testo", "required"},
		{"text too long", map[string]any{"testo": strings.Repeat("a", maxCV+1)}, "testo", "invalid"},
		{"NUL in the text", map[string]any{"testo": "a\x00b"}, "testo", "control_character"},
		{"text not a string", map[string]any{"testo": []any{"a"}}, "testo", "type"},
		{"unknown field", map[string]any{"pdf": "…"}, "", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertReject(t, decodeCV, rossi, changed(cvData(), tc.set), tc.field, tc.code)
		})
	}
}

func FuzzDecodeCV(f *testing.F) {
	fuzzDecode(f, cvKind, changed(cvData(), nil), changed(cvData(), map[string]any{"testo": " "}))
}
