package function

import (
	"errors"
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
	draftEnd := stored{offer: offer{Stato: Bozza, DataFinePubblicazione: date("2026-12-01")}}
	suspended := stored{offer: offer{Stato: Sospesa, DataPubblicazione: date("2026-10-01")}}
	start := func(d string) optionalDate { return optionalDate{true, date(d)} }
	cases := []struct {
		name     string
		o        stored
		p        offerPatch
		wantKind problem.Kind // 0: applied
		field    string       // the field named, for problem.Invalid
		stato    string
		from     string
		end      string
	}{
		{"suspend", published, offerPatch{Stato: ptr(Sospesa)}, 0, "", Sospesa, "2026-10-01", "2026-12-31"},
		{"move the end", published, offerPatch{DataFinePubblicazione: start("2027-01-31")}, 0, "", Pubblicata, "2026-10-01", "2027-01-31"},
		{"remove the end", published, offerPatch{DataFinePubblicazione: optionalDate{true, nil}}, 0, "", Pubblicata, "2026-10-01", ""},
		{"republish an expired offer", expired, offerPatch{DataFinePubblicazione: start("2026-12-15")}, 0, "", Pubblicata, "2026-10-01", "2026-12-15"},
		{"republish with the end in the past", expired, offerPatch{Stato: ptr(Pubblicata)}, problem.Invalid, "data_fine_pubblicazione", "", "", ""},
		{"end before the start", published, offerPatch{DataFinePubblicazione: start("2026-09-01")}, problem.Invalid, "data_fine_pubblicazione", "", "", ""},
		{"set expired", published, offerPatch{Stato: ptr(Scaduta)}, problem.Invalid, "stato", "", "", ""},
		{"publish a draft without a date", draft, offerPatch{Stato: ptr(Pubblicata)}, problem.Invalid, "data_pubblicazione", "", "", ""},
		{"reopen a closed offer", closed, offerPatch{Stato: ptr(Pubblicata)}, problem.Conflict, "", "", "", ""},
		{"close an expired offer", expired, offerPatch{Stato: ptr(Chiusa)}, 0, "", Chiusa, "2026-10-01", "2026-11-01"},
		// Publishing a draft (issue 15).
		{"publish a draft with its start", draft, offerPatch{Stato: ptr(Pubblicata), DataPubblicazione: start("2026-11-23")}, 0, "", Pubblicata, "2026-11-23", ""},
		{"publish a draft from a future day", draft, offerPatch{Stato: ptr(Pubblicata), DataPubblicazione: start("2026-12-01"),
			DataFinePubblicazione: start("2026-12-31")}, 0, "", Pubblicata, "2026-12-01", "2026-12-31"},
		{"a draft gets its start and stays a draft", draft, offerPatch{DataPubblicazione: start("2026-12-01")}, 0, "", Bozza, "2026-12-01", ""},
		{"publish with a null start", draft, offerPatch{Stato: ptr(Pubblicata), DataPubblicazione: optionalDate{true, nil}}, problem.Invalid, "data_pubblicazione", "", "", ""},
		{"a start after the stored end", draftEnd, offerPatch{Stato: ptr(Pubblicata), DataPubblicazione: start("2026-12-02")}, problem.Invalid, "data_fine_pubblicazione", "", "", ""},
		{"a start after the end sent", draft, offerPatch{Stato: ptr(Pubblicata), DataPubblicazione: start("2026-12-02"),
			DataFinePubblicazione: start("2026-12-01")}, problem.Invalid, "data_fine_pubblicazione", "", "", ""},
		{"publish a draft whose end has passed", draft, offerPatch{Stato: ptr(Pubblicata), DataPubblicazione: start("2026-10-01"),
			DataFinePubblicazione: start("2026-11-01")}, problem.Invalid, "data_fine_pubblicazione", "", "", ""},
		{"move a published offer's start", published, offerPatch{DataPubblicazione: start("2026-10-02")}, problem.Conflict, "", "", "", ""},
		{"remove a published offer's start", published, offerPatch{DataPubblicazione: optionalDate{true, nil}}, problem.Conflict, "", "", "", ""},
		{"move a suspended offer's start", suspended, offerPatch{DataPubblicazione: start("2026-10-02")}, problem.Conflict, "", "", "", ""},
		{"the same start is no change", published, offerPatch{DataPubblicazione: start("2026-10-01"), Stato: ptr(Sospesa)}, 0, "", Sospesa, "2026-10-01", "2026-12-31"},
		{"a closed offer's start", closed, offerPatch{DataPubblicazione: start("2026-10-05")}, problem.Conflict, "", "", "", ""},
	}
	day := func(d *civil.Date) string {
		if d == nil {
			return ""
		}
		return d.String()
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.p.apply(c.o, today)
			if c.wantKind != 0 {
				if problem.KindOf(err) != c.wantKind {
					t.Fatalf("got %+v, %v; want an error of kind %v", got, err, c.wantKind)
				}
				var pe *problem.Error
				if c.field != "" && (!errors.As(err, &pe) || len(pe.Fields) == 0 || pe.Fields[0].Field != c.field) {
					t.Fatalf("error %v, want field %s named first", err, c.field)
				}
				return
			}
			if err != nil || got.stato != c.stato || day(got.from) != c.from || day(got.to) != c.end {
				t.Fatalf("got %s %s %s, %v; want %s %s %s", got.stato, day(got.from), day(got.to), err, c.stato, c.from, c.end)
			}
		})
	}
}
