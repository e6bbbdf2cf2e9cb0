package function

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

const offer = "0f8fad5b-d9cb-469f-a165-70867728950e"

func interesseData() map[string]any {
	return map[string]any{"codice_fiscale": rossiOmo, "offerta": offer, "creata_il": "2024-06-01T09:00:00.123Z"}
}

func TestDecodeInteresse(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		v, err := decodeInteresse("I-1", changed(interesseData(), nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != len(interesseKind.Columns) {
			t.Fatalf("%d values for %d columns", len(v), len(interesseKind.Columns))
		}
		if v[0] != rossi || v[1] != uuid.MustParse(offer) || !v[2].(time.Time).Equal(time.Date(2024, 6, 1, 9, 0, 0, 123e6, time.UTC)) {
			t.Fatalf("values %v", v)
		}
	})
	t.Run("offer in capitals", func(t *testing.T) {
		if _, err := decodeInteresse("I-1", changed(interesseData(), map[string]any{"offerta": "0F8FAD5B-D9CB-469F-A165-70867728950E"})); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name        string
		set         map[string]any
		field, code string
	}{
		{"wrong check letter", map[string]any{"codice_fiscale": rossiWrong}, "codice_fiscale", "invalid"},
		{"missing codice fiscale", map[string]any{"codice_fiscale": nil}, "codice_fiscale", "required"},
		{"missing offer", map[string]any{"offerta": nil}, "offerta", "required"},
		{"bad offer", map[string]any{"offerta": "0f8fad5b"}, "offerta", "invalid"},
		{"offer in braces", map[string]any{"offerta": "{" + offer + "}"}, "offerta", "invalid"},
		{"offer as a URN", map[string]any{"offerta": "urn:uuid:" + offer}, "offerta", "invalid"},
		{"offer without dashes", map[string]any{"offerta": "0f8fad5bd9cb469fa16570867728950e"}, "offerta", "invalid"},
		{"missing instant", map[string]any{"creata_il": nil}, "creata_il", "required"},
		{"bad instant", map[string]any{"creata_il": "2024-06-01 09:00:00"}, "creata_il", "invalid"},
		{"instant is a date", map[string]any{"creata_il": "2024-06-01"}, "creata_il", "invalid"},
		{"instant not a string", map[string]any{"creata_il": 1717232400}, "creata_il", "type"},
		{"unknown field", map[string]any{"stato": "ATTIVA"}, "", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertReject(t, decodeInteresse, "I-1", changed(interesseData(), tc.set), tc.field, tc.code)
		})
	}
}

func FuzzDecodeInteresse(f *testing.F) {
	fuzzDecode(f, interesseKind, changed(interesseData(), nil), changed(interesseData(), map[string]any{"offerta": "{" + offer + "}"}))
}
