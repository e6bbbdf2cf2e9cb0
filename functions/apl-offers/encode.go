package function

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rdc-interop/faas/shared/civil"
)

// The list writes its pages by hand, row by row as they are read, rather
// than collecting []stored for encoding/json: reflection and the
// intermediate slice were most of the function's own cost per page (make
// bench -only apl-offers-list). The output is byte for byte what
// json.Marshal gives for stored (TestAppendOffer, FuzzAppendOffer), so a
// listed offer reads exactly like GET /{id}'s.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does by
// default: quotes, backslashes and control characters, HTML's <, > and &,
// U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
// It takes a column's raw bytes as they are (appendRawOffer) as well as a
// string.
func appendString[S string | []byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// At most UTFMax bytes: for raw bytes the conversion stays on the stack.
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

func appendDate(b []byte, d *civil.Date) []byte {
	if d == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = d.Time().AppendFormat(b, time.DateOnly)
	return append(b, '"')
}

func appendInstant(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendOffer appends o as json.Marshal writes a stored offer.
func appendOffer(b []byte, o *stored) []byte {
	b = append(b, `{"id_offerta":`...)
	b = appendString(b, o.IDOfferta)
	b = append(b, `,"riferimento_apl":`...)
	b = appendString(b, o.RiferimentoAPL)
	b = append(b, `,"filiale":`...)
	b = appendString(b, o.Filiale)
	b = append(b, `,"titolo":`...)
	b = appendString(b, o.Titolo)
	b = append(b, `,"descrizione":`...)
	b = appendString(b, o.Descrizione)
	b = append(b, `,"comune":`...)
	b = appendString(b, o.Comune)
	b = append(b, `,"qualifica":`...)
	b = appendOptString(b, o.Qualifica)
	b = append(b, `,"tipo_contratto":`...)
	b = appendOptString(b, o.TipoContratto)
	b = append(b, `,"numero_posti":`...)
	b = strconv.AppendInt(b, int64(o.NumeroPosti), 10)
	b = append(b, `,"titolo_studio_minimo":`...)
	b = appendOptString(b, o.TitoloStudioMinimo)
	b = append(b, `,"stato":`...)
	b = appendString(b, o.Stato)
	b = append(b, `,"data_pubblicazione":`...)
	b = appendDate(b, o.DataPubblicazione)
	b = append(b, `,"data_fine_pubblicazione":`...)
	b = appendDate(b, o.DataFinePubblicazione)
	b = append(b, `,"creato_il":`...)
	b = appendInstant(b, o.CreatoIl)
	b = append(b, `,"aggiornato_il":`...)
	b = appendInstant(b, o.AggiornatoIl)
	return append(b, '}')
}

// The list appends its rows from the bytes PostgreSQL sent (rows.RawValues)
// rather than scanning each into a stored first: the scan's allocations
// and conversions were half of the function's own cost per row (make bench
// -only apl-offers-list -cpuprofile). It reads the binary forms pgx asks
// for, as pgx's own codecs decode them; a query whose columns come in
// another form (rawColumns), or a value outside what is decoded here
// (infinity, years past 9999, a NULL where none is stored), goes through
// stored.scan and appendOffer instead, so the bytes written are the same
// either way (TestAppendRawOffer).

// rawColumns tells whether a query's columns are offerColumns in the forms
// appendRawOffer reads: text (either format: a text value's binary form is
// its text), and integer, date and timestamptz in binary.
func rawColumns(fds []pgconn.FieldDescription) bool {
	if len(fds) != 15 {
		return false
	}
	for i, fd := range fds {
		var ok bool
		switch i {
		case 8:
			ok = fd.DataTypeOID == pgtype.Int4OID && fd.Format == pgtype.BinaryFormatCode
		case 11, 12:
			ok = fd.DataTypeOID == pgtype.DateOID && fd.Format == pgtype.BinaryFormatCode
		case 13, 14:
			ok = fd.DataTypeOID == pgtype.TimestamptzOID && fd.Format == pgtype.BinaryFormatCode
		default:
			ok = fd.DataTypeOID == pgtype.TextOID || fd.DataTypeOID == pgtype.VarcharOID || fd.DataTypeOID == pgtype.BPCharOID
		}
		if !ok {
			return false
		}
	}
	return true
}

// appendRawOffer appends a row of offerColumns (in the forms rawColumns
// checked) as appendOffer would the stored offer scanned from it. It
// returns b unchanged and false for a row it does not decode.
func appendRawOffer(b []byte, v [][]byte) ([]byte, bool) {
	if len(v) != 15 || v[0] == nil || v[1] == nil || v[2] == nil || v[3] == nil || v[4] == nil || v[5] == nil || v[10] == nil ||
		len(v[8]) != 4 || len(v[13]) != 8 || len(v[14]) != 8 {
		return b, false
	}
	from, ok := rawDate(v[11])
	if !ok {
		return b, false
	}
	to, ok := rawDate(v[12])
	if !ok {
		return b, false
	}
	created, ok := rawInstant(v[13])
	if !ok {
		return b, false
	}
	updated, ok := rawInstant(v[14])
	if !ok {
		return b, false
	}
	b = append(b, `{"id_offerta":`...)
	b = appendString(b, v[0])
	b = append(b, `,"riferimento_apl":`...)
	b = appendString(b, v[1])
	b = append(b, `,"filiale":`...)
	b = appendString(b, v[2])
	b = append(b, `,"titolo":`...)
	b = appendString(b, v[3])
	b = append(b, `,"descrizione":`...)
	b = appendString(b, v[4])
	b = append(b, `,"comune":`...)
	b = appendString(b, v[5])
	b = append(b, `,"qualifica":`...)
	b = appendRawOptString(b, v[6])
	b = append(b, `,"tipo_contratto":`...)
	b = appendRawOptString(b, v[7])
	b = append(b, `,"numero_posti":`...)
	b = strconv.AppendInt(b, int64(int32(binary.BigEndian.Uint32(v[8]))), 10)
	b = append(b, `,"titolo_studio_minimo":`...)
	b = appendRawOptString(b, v[9])
	b = append(b, `,"stato":`...)
	b = appendString(b, v[10])
	b = append(b, `,"data_pubblicazione":`...)
	b = appendRawDate(b, from)
	b = append(b, `,"data_fine_pubblicazione":`...)
	b = appendRawDate(b, to)
	b = append(b, `,"creato_il":`...)
	b = appendInstant(b, created)
	b = append(b, `,"aggiornato_il":`...)
	b = appendInstant(b, updated)
	return append(b, '}'), true
}

func appendRawOptString(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return appendString(b, v)
}

// rawDate reads a binary date (days from 2000-01-01) as pgx does; a zero
// time is NULL. Infinity and years outside 1-9999 are not read here.
func rawDate(v []byte) (time.Time, bool) {
	if v == nil {
		return time.Time{}, true
	}
	if len(v) != 4 {
		return time.Time{}, false
	}
	days := int32(binary.BigEndian.Uint32(v))
	if days == math.MaxInt32 || days == math.MinInt32 {
		return time.Time{}, false
	}
	t := time.Date(2000, 1, 1+int(days), 0, 0, 0, 0, time.UTC)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func appendRawDate(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.DateOnly)
	return append(b, '"')
}

// rawInstant reads a binary timestamptz (microseconds from 2000-01-01 UTC)
// as pgx does, in the local time zone (pgx's default, no ScanLocation).
func rawInstant(v []byte) (time.Time, bool) {
	const y2k = 946_684_800 * 1_000_000
	us := int64(binary.BigEndian.Uint64(v))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, false
	}
	t := time.Unix(y2k/1_000_000+us/1_000_000, (y2k%1_000_000*1_000)+(us%1_000_000*1_000))
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}
