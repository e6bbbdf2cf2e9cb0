package function

import (
	"strconv"
	"time"
	"unicode/utf8"

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
func appendString(b []byte, s string) []byte {
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
		r, size := utf8.DecodeRuneInString(s[i:])
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
