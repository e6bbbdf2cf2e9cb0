package function

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeOffer: any item of a bulk call decodes to an offer or to named
// field errors, never a panic; a decoded offer holds only text PostgreSQL
// can store and survives a round trip with the same verdict.
func FuzzDecodeOffer(f *testing.F) {
	f.Add([]byte(`{"riferimento_apl":"R-1","filiale":"F1","titolo":"t","descrizione":"d","comune":"058091","numero_posti":1,"stato":"BOZZA"}`))
	f.Add([]byte(`{"numero_posti":"uno"}`))
	f.Add([]byte(`{"data_pubblicazione":"2026-02-30"}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"altro":1}`))
	f.Add([]byte(`{"titolo":"a\u0000b","descrizione":"riga\nriga"}`))
	f.Add([]byte("{\"titolo\":\"\xff\"}"))
	r := refs{branches: map[string]bool{"F1": true}, comuni: map[string]bool{"058091": true}, education: map[string]bool{"DIPLOMA": true}}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, errs := decodeOffer(b)
		if errs != nil {
			for _, e := range errs {
				if e.Code == "" || e.Detail == "" {
					t.Fatalf("an error without code or detail: %+v", e)
				}
			}
			return
		}
		for _, s := range []string{o.RiferimentoAPL, o.Filiale, o.Titolo, o.Descrizione, o.Comune, o.Stato} {
			if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
				t.Fatalf("decoded text PostgreSQL cannot store: %q", s)
			}
		}
		again, _ := json.Marshal(o)
		o2, errs := decodeOffer(again)
		if errs != nil {
			t.Fatalf("a decoded offer does not decode again: %v", errs)
		}
		if !reflect.DeepEqual(o.check(r), o2.check(r)) {
			t.Fatal("the verdict changed over a round trip")
		}
	})
}
