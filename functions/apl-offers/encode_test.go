package function

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rdc-interop/faas/shared/civil"
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

// rawRow encodes o's columns as PostgreSQL sends offerColumns to pgx: text
// as it is, the rest in binary.
func rawRow(t *testing.T, m *pgtype.Map, o stored) [][]byte {
	t.Helper()
	enc := func(oid uint32, v any) []byte {
		b, err := m.Encode(oid, pgtype.BinaryFormatCode, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	text := func(s *string) []byte {
		if s == nil {
			return nil
		}
		return []byte(*s)
	}
	day := func(d *civil.Date) []byte {
		if d == nil {
			return nil
		}
		return enc(pgtype.DateOID, d.Time())
	}
	return [][]byte{[]byte(o.IDOfferta), []byte(o.RiferimentoAPL), []byte(o.Filiale), []byte(o.Titolo), []byte(o.Descrizione),
		[]byte(o.Comune), text(o.Qualifica), text(o.TipoContratto), enc(pgtype.Int4OID, int32(o.NumeroPosti)), text(o.TitoloStudioMinimo),
		[]byte(o.Stato), day(o.DataPubblicazione), day(o.DataFinePubblicazione), enc(pgtype.TimestamptzOID, o.CreatoIl),
		enc(pgtype.TimestamptzOID, o.AggiornatoIl)}
}

// scanRaw is what stored.scan reads from the same bytes: pgx's own codecs.
func scanRaw(t *testing.T, m *pgtype.Map, v [][]byte) stored {
	t.Helper()
	var s stored
	var from, to *time.Time
	dst := []any{&s.IDOfferta, &s.RiferimentoAPL, &s.Filiale, &s.Titolo, &s.Descrizione, &s.Comune, &s.Qualifica, &s.TipoContratto,
		&s.NumeroPosti, &s.TitoloStudioMinimo, &s.Stato, &from, &to, &s.CreatoIl, &s.AggiornatoIl}
	oids := []uint32{pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.BPCharOID, pgtype.TextOID,
		pgtype.TextOID, pgtype.Int4OID, pgtype.TextOID, pgtype.TextOID, pgtype.DateOID, pgtype.DateOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID}
	for i := range dst {
		format := int16(pgtype.BinaryFormatCode)
		if oids[i] == pgtype.TextOID || oids[i] == pgtype.BPCharOID {
			format = pgtype.TextFormatCode
		}
		if err := m.Scan(oids[i], format, v[i], dst[i]); err != nil {
			t.Fatalf("column %d: %v", i, err)
		}
	}
	s.DataPubblicazione, s.DataFinePubblicazione = civil.Ptr(from), civil.Ptr(to)
	return s
}

// TestAppendRawOffer: a row appended from its raw bytes reads exactly as
// the offer scanned from them and appended (the list's two paths), and
// what the raw path does not decode is left to the scan.
func TestAppendRawOffer(t *testing.T) {
	m := pgtype.NewMap()
	for _, text := range []string{"", "Magazziniere", `virgolette " e \ barre`, "a\nb\r\tc\b\f", "\x00\x01\x1f\x7f", "<b>&amp;</b>",
		"caffè, €, 日本", "riga\u2028riga\u2029", "non UTF-8 \xff\xfe fine", "\xe2\x82", "emoji 🙂", "fine \xf0\x9f"} {
		o := sampleOffer(text)
		o.DataFinePubblicazione = date("2026-11-30")
		stato := "DIPLOMA"
		o.TitoloStudioMinimo = &stato
		for _, o := range []stored{o, func() stored {
			o.Qualifica, o.TipoContratto, o.TitoloStudioMinimo, o.DataPubblicazione, o.DataFinePubblicazione = nil, nil, nil, nil, nil
			return o
		}()} {
			v := rawRow(t, m, o)
			s := scanRaw(t, m, v)
			want := appendOffer([]byte("x"), &s)
			got, ok := appendRawOffer([]byte("x"), v)
			if !ok || !bytes.Equal(got, want) {
				t.Errorf("%q: ok %v\n got %s\nwant %s", text, ok, got, want)
			}
		}
	}
	o := sampleOffer("x")
	for name, v := range map[string][][]byte{
		"infinite date": func() [][]byte { v := rawRow(t, m, o); v[11] = []byte{0x7f, 0xff, 0xff, 0xff}; return v }(),
		"infinite instant": func() [][]byte {
			v := rawRow(t, m, o)
			v[13] = []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			return v
		}(),
		"null title": func() [][]byte { v := rawRow(t, m, o); v[3] = nil; return v }(),
		"short":      rawRow(t, m, o)[:14],
	} {
		if got, ok := appendRawOffer([]byte("x"), v); ok || string(got) != "x" {
			t.Errorf("%s: ok %v, %s", name, ok, got)
		}
	}
}

func TestRawColumns(t *testing.T) {
	fds := make([]pgconn.FieldDescription, 15)
	for i := range fds {
		fds[i] = pgconn.FieldDescription{DataTypeOID: pgtype.TextOID}
	}
	fds[5].DataTypeOID = pgtype.BPCharOID
	fds[8] = pgconn.FieldDescription{DataTypeOID: pgtype.Int4OID, Format: pgtype.BinaryFormatCode}
	for _, i := range []int{11, 12} {
		fds[i] = pgconn.FieldDescription{DataTypeOID: pgtype.DateOID, Format: pgtype.BinaryFormatCode}
	}
	for _, i := range []int{13, 14} {
		fds[i] = pgconn.FieldDescription{DataTypeOID: pgtype.TimestamptzOID, Format: pgtype.BinaryFormatCode}
	}
	if !rawColumns(fds) {
		t.Fatal("offerColumns not read raw")
	}
	fds[13].Format = pgtype.TextFormatCode
	if rawColumns(fds) || rawColumns(fds[:14]) {
		t.Fatal("a text timestamptz, or a missing column, read raw")
	}
}

// FuzzAppendRawOffer: for any text, the raw path writes what the scan and
// appendOffer write from the same bytes.
func FuzzAppendRawOffer(f *testing.F) {
	for _, s := range []string{"", "a\"b", "<&>", "\u2028", "\xff", "\x00", "\xf0\x9f"} {
		f.Add(s)
	}
	m := pgtype.NewMap()
	f.Fuzz(func(t *testing.T, s string) {
		v := rawRow(t, m, sampleOffer(s))
		o := scanRaw(t, m, v)
		want := appendOffer(nil, &o)
		if got, ok := appendRawOffer(nil, v); !ok || !bytes.Equal(got, want) {
			t.Fatalf("%q: ok %v\n got %s\nwant %s", s, ok, got, want)
		}
	})
}
