package function

import (
	"strings"
	"testing"
)

// TestDecodeOfferText: an item whose text PostgreSQL cannot store (or that
// is not printable) is that item's error, with the field named, before any
// SQL; a description may hold line breaks, a title may not.
func TestDecodeOfferText(t *testing.T) {
	base := `"riferimento_apl":"R-1","filiale":"F1","comune":"058091","numero_posti":1,"stato":"BOZZA"`
	cases := []struct {
		name, item string
		fields     string // the fields named, in order; "" when decoded
	}{
		{"clean", `{` + base + `,"titolo":"Magazziniere","descrizione":"Turni\r\ndiurni\tsabato"}`, ""},
		{"NUL in the title", `{` + base + `,"titolo":"Magazz\u0000iniere","descrizione":"d"}`, "titolo"},
		{"line break in the title", `{` + base + `,"titolo":"a\nb","descrizione":"d"}`, "titolo"},
		{"NUL in the description", `{` + base + `,"titolo":"t","descrizione":"a\u0000"}`, "descrizione"},
		{"C1 in the qualification", `{` + base + `,"titolo":"t","descrizione":"d","qualifica":"\u0085"}`, "qualifica"},
		{"NUL in a code", `{` + base + `,"titolo":"t","descrizione":"d","titolo_studio_minimo":"\u0000"}`, "titolo_studio_minimo"},
		{"not UTF-8", "{" + base + ",\"titolo\":\"caff\xe8\",\"descrizione\":\"d\"}", "titolo"},
		{"several", `{` + base + `,"titolo":"\u0000","descrizione":"\u0001","tipo_contratto":"\u007f"}`, "titolo,descrizione,tipo_contratto"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := decodeOffer([]byte(c.item))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != c.fields {
				t.Fatalf("fields %v, want %q", got, c.fields)
			}
		})
	}
	t.Run("a bad reference is not repeated in the result", func(t *testing.T) {
		o, errs := decodeOffer([]byte(`{"riferimento_apl":"R\u0000","titolo":"t"}`))
		if len(errs) == 0 || o.RiferimentoAPL != "" {
			t.Fatalf("reference %q, errors %v", o.RiferimentoAPL, errs)
		}
	})
}
