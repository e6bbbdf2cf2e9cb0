package function

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func sampleOffer(text string) stored {
	q, tc := text, "tempo "+text
	return stored{IDOfferta: "0192f0c4-6c1e-7a3b-8f00-000000000001",
		offer: offer{RiferimentoAPL: "R-1", Filiale: "1001-RM01", Titolo: text, Descrizione: text + "\n" + text, Comune: "058091",
			Qualifica: &q, TipoContratto: &tc, NumeroPosti: 12, Stato: Pubblicata, DataPubblicazione: date("2026-10-01")},
		CreatoIl:     time.Date(2026, 12, 3, 7, 50, 12, 123456000, time.UTC),
		AggiornatoIl: time.Date(2026, 12, 3, 8, 50, 12, 0, time.FixedZone("CET", 3600))}
}

// TestAppendOffer: the list's hand-written encoding is json.Marshal's,
// byte for byte, whatever the text holds.
func TestAppendOffer(t *testing.T) {
	for _, text := range []string{
		"", "Magazziniere", `virgolette " e \ barre`, "a\nb\r\tc\b\f", "\x00\x01\x1f\x7f", "<b>&amp;</b>", "caffè, €, 日本",
		"riga\u2028riga\u2029", "non UTF-8 \xff\xfe fine", "\xe2\x82", "emoji 🙂",
	} {
		o := sampleOffer(text)
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendOffer(nil, &o); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", text, got, want)
		}
	}
	o := sampleOffer("x")
	o.Qualifica, o.TipoContratto, o.DataPubblicazione = nil, nil, nil
	want, _ := json.Marshal(o)
	if got := appendOffer(nil, &o); !bytes.Equal(got, want) {
		t.Errorf("nulls:\n got %s\nwant %s", got, want)
	}
}

// FuzzAppendOffer: for any text, the same bytes as json.Marshal.
func FuzzAppendOffer(f *testing.F) {
	for _, s := range []string{"", "a\"b", "<&>", "\u2028", "\xff", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o := sampleOffer(s)
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendOffer(nil, &o); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}
