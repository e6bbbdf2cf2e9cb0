package function

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rdc-interop/faas/shared/apl"
	"github.com/rdc-interop/faas/shared/problem"
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

// codeLike is the shape of a codice fiscale: what an error must never repeat.
var codeLike = regexp.MustCompile(`(?i)[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)

// FuzzParseList: any query string is a filter or a 400 naming only the
// list's own parameters, never a panic or another error; an accepted filter
// is within its bounds, its cursor reads back to itself, and no error
// repeats a codice fiscale sent (the list's details are fixed prose).
func FuzzParseList(f *testing.F) {
	f.Add("")
	f.Add("stato=PUBBLICATA&filiale=1001-RM01&pubblicazione_dal=2026-01-01&pubblicazione_al=2026-01-31&riferimento=R-*&limit=10")
	f.Add("cursor=AZLwxGweejuPAAAAAAAAAQ")
	f.Add("riferimento=a%00b")
	f.Add("RSSMRA85T10A562S=1")
	f.Add("riferimento=RSSMRA85T10A562S*&cursor=RSSMRA85T10A562S&stato=RSSMRA85T10A562S")
	f.Add("limit=-1&limit=2")
	f.Add("pubblicazione_al=2026-02-30")
	tenant := apl.Tenant{APL: "1001", Role: apl.Operator, Branches: []string{"1001-RM01"}}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := parseList(q, tenant)
		if err != nil {
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Kind != problem.Invalid || len(pe.Fields) == 0 {
				t.Fatalf("not a 400 naming fields: %v", err)
			}
			for _, fe := range pe.Fields {
				if fe.Code == "" || fe.Detail == "" {
					t.Fatalf("an error without code or detail: %+v", fe)
				}
				if fe.Field != "" && !slices.Contains(listParams, fe.Field) {
					t.Fatalf("a field named that is not the list's: %+v", fe)
				}
				if codeLike.MatchString(fe.Detail) {
					t.Fatalf("a codice fiscale repeated: %+v", fe)
				}
			}
			return
		}
		if fl.limit < 1 || fl.limit > maxLimit || len(fl.branches) != 1 || fl.branches[0] != "1001-RM01" {
			t.Fatalf("filter out of bounds: %+v", fl)
		}
		if fl.after != nil && offerCursor(*fl.after) != q.Get("cursor") {
			t.Fatalf("cursor %q read as another", q.Get("cursor"))
		}
		for _, s := range []*string{fl.rif, fl.prefix} {
			if s != nil && !reference.MatchString(*s) {
				t.Fatalf("reference %q accepted", *s)
			}
		}
	})
}

// FuzzDecodePatch: any PATCH body decodes to a patch or to a 4xx, never a
// panic; applied to any kind of offer a decoded patch gives a change the
// table's CHECKs accept, or a 400/409.
func FuzzDecodePatch(f *testing.F) {
	f.Add([]byte(`{"stato":"PUBBLICATA","data_pubblicazione":"2026-11-23"}`))
	f.Add([]byte(`{"data_pubblicazione":null,"data_fine_pubblicazione":"2026-12-01"}`))
	f.Add([]byte(`{"stato":"SCADUTA"}`))
	f.Add([]byte(`{"stato":"a\u0000"}`))
	f.Add([]byte(`{"titolo":"x"}`))
	f.Add([]byte(`{"data_pubblicazione":"2026-02-30"}`))
	f.Add([]byte(`null`))
	today := *date("2026-11-23")
	offers := []stored{
		{offer: offer{Stato: Bozza}},
		{offer: offer{Stato: Bozza, DataFinePubblicazione: date("2026-12-01")}},
		{offer: offer{Stato: Pubblicata, DataPubblicazione: date("2026-10-01"), DataFinePubblicazione: date("2026-12-31")}},
		{offer: offer{Stato: Scaduta, DataPubblicazione: date("2026-10-01"), DataFinePubblicazione: date("2026-11-01")}},
		{offer: offer{Stato: Sospesa, DataPubblicazione: date("2026-10-01")}},
		{offer: offer{Stato: Chiusa}},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePatch(b)
		if err != nil {
			if k := problem.KindOf(err); k != problem.Invalid && k != problem.Unprocessable {
				t.Fatalf("a decoding error of kind %v: %v", k, err)
			}
			return
		}
		for _, o := range offers {
			c, err := p.apply(o, today)
			if err != nil {
				if k := problem.KindOf(err); k != problem.Invalid && k != problem.Conflict {
					t.Fatalf("%s: an error of kind %v: %v", o.Stato, k, err)
				}
				continue
			}
			if !storedStates[c.stato] || c.stato == Pubblicata && c.from == nil ||
				c.from != nil && c.to != nil && c.to.Time().Before(c.from.Time()) {
				t.Fatalf("%s: a change the table refuses: %+v", o.Stato, c)
			}
			if o.Stato == Chiusa && (c.stato != Chiusa || !sameDate(c.from, o.DataPubblicazione) || !sameDate(c.to, o.DataFinePubblicazione)) {
				t.Fatalf("a closed offer changed: %+v", c)
			}
			if o.Stato != Bozza && !sameDate(c.from, o.DataPubblicazione) {
				t.Fatalf("%s: the start moved: %+v", o.Stato, c)
			}
		}
	})
}
