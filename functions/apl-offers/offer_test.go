package function

import (
	"strings"
	"testing"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
)

func date(s string) *civil.Date {
	d, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return &d
}

func ptr(s string) *string { return &s }

func TestOfferCheck(t *testing.T) {
	r := refs{branches: map[string]bool{"F1": true}, comuni: map[string]bool{"058091": true}, education: map[string]bool{"DIPLOMA": true}}
	good := func() offer {
		return offer{RiferimentoAPL: "2026/A-1", Filiale: "F1", Titolo: "Magazziniere", Descrizione: "Turni", Comune: "058091",
			NumeroPosti: 2, TitoloStudioMinimo: ptr("DIPLOMA"), Stato: Pubblicata, DataPubblicazione: date("2026-11-01"), DataFinePubblicazione: date("2026-12-01")}
	}
	cases := []struct {
		name   string
		change func(o *offer)
		fields []string // the fields named, in order; none when valid
	}{
		{"valid", func(o *offer) {}, nil},
		{"a draft needs no dates", func(o *offer) { o.Stato, o.DataPubblicazione, o.DataFinePubblicazione = Bozza, nil, nil }, nil},
		{"no reference", func(o *offer) { o.RiferimentoAPL = "" }, []string{"riferimento_apl"}},
		{"reference with a space", func(o *offer) { o.RiferimentoAPL = "A 1" }, []string{"riferimento_apl"}},
		{"reference too long", func(o *offer) { o.RiferimentoAPL = strings.Repeat("a", 65) }, []string{"riferimento_apl"}},
		{"another branch", func(o *offer) { o.Filiale = "F2" }, []string{"filiale"}},
		{"no title", func(o *offer) { o.Titolo = "" }, []string{"titolo"}},
		{"title of 201 characters", func(o *offer) { o.Titolo = strings.Repeat("è", 201) }, []string{"titolo"}},
		{"title of 200 characters", func(o *offer) { o.Titolo = strings.Repeat("è", 200) }, nil},
		{"unknown comune", func(o *offer) { o.Comune = "999999" }, []string{"comune"}},
		{"comune not a code", func(o *offer) { o.Comune = "Roma" }, []string{"comune"}},
		{"no posts", func(o *offer) { o.NumeroPosti = 0 }, []string{"numero_posti"}},
		{"unknown education", func(o *offer) { o.TitoloStudioMinimo = ptr("MASTER") }, []string{"titolo_studio_minimo"}},
		{"expired cannot be set", func(o *offer) { o.Stato = Scaduta }, []string{"stato"}},
		{"unknown state", func(o *offer) { o.Stato = "APERTA" }, []string{"stato"}},
		{"published without a date", func(o *offer) { o.DataPubblicazione = nil }, []string{"data_pubblicazione"}},
		{"ends before it starts", func(o *offer) { o.DataFinePubblicazione = date("2026-10-01") }, []string{"data_fine_pubblicazione"}},
		{"everything wrong", func(o *offer) { *o = offer{} }, []string{"riferimento_apl", "filiale", "titolo", "descrizione", "comune", "numero_posti", "stato"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := good()
			c.change(&o)
			var got []string
			for _, e := range o.check(r) {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(c.fields, ",") {
				t.Fatalf("fields %v, want %v", got, c.fields)
			}
		})
	}
}

func TestPatchApply(t *testing.T) {
	today := *date("2026-11-23")
	published := stored{offer: offer{Stato: Pubblicata, DataPubblicazione: date("2026-10-01"), DataFinePubblicazione: date("2026-12-31")}}
	expired := stored{offer: offer{Stato: Scaduta, DataPubblicazione: date("2026-10-01"), DataFinePubblicazione: date("2026-11-01")}}
	closed := stored{offer: offer{Stato: Chiusa, DataPubblicazione: date("2026-10-01")}}
	draft := stored{offer: offer{Stato: Bozza}}
	cases := []struct {
		name     string
		o        stored
		p        offerPatch
		wantKind problem.Kind // 0: applied
		stato    string
		end      string
	}{
		{"suspend", published, offerPatch{Stato: ptr(Sospesa)}, 0, Sospesa, "2026-12-31"},
		{"move the end", published, offerPatch{DataFinePubblicazione: optionalDate{true, date("2027-01-31")}}, 0, Pubblicata, "2027-01-31"},
		{"remove the end", published, offerPatch{DataFinePubblicazione: optionalDate{true, nil}}, 0, Pubblicata, ""},
		{"republish an expired offer", expired, offerPatch{DataFinePubblicazione: optionalDate{true, date("2026-12-15")}}, 0, Pubblicata, "2026-12-15"},
		{"republish with the end in the past", expired, offerPatch{Stato: ptr(Pubblicata)}, problem.Invalid, "", ""},
		{"end before the start", published, offerPatch{DataFinePubblicazione: optionalDate{true, date("2026-09-01")}}, problem.Invalid, "", ""},
		{"set expired", published, offerPatch{Stato: ptr(Scaduta)}, problem.Invalid, "", ""},
		{"publish a draft without a date", draft, offerPatch{Stato: ptr(Pubblicata)}, problem.Invalid, "", ""},
		{"reopen a closed offer", closed, offerPatch{Stato: ptr(Pubblicata)}, problem.Conflict, "", ""},
		{"close an expired offer", expired, offerPatch{Stato: ptr(Chiusa)}, 0, Chiusa, "2026-11-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stato, end, err := c.p.apply(c.o, today)
			if c.wantKind != 0 {
				if problem.KindOf(err) != c.wantKind {
					t.Fatalf("got %s %v, %v; want an error of kind %v", stato, end, err, c.wantKind)
				}
				return
			}
			got := ""
			if end != nil {
				got = end.String()
			}
			if err != nil || stato != c.stato || got != c.end {
				t.Fatalf("got %s %s, %v; want %s %s", stato, got, err, c.stato, c.end)
			}
		})
	}
}
