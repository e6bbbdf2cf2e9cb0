package synth

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The COPY sources hand pgx pointers to the fields of one reused row, so a row
// costs no allocation: a pointer fits in an interface as is, where a string,
// an int64 or a time.Time would be boxed on the heap every time. fastCodec,
// registered on the loader's own connections, encodes these pointer types
// straight into the binary COPY format and leaves every other value to the
// codec it wraps.

// day is a calendar day, counted from 1970-01-01; noDay is NULL.
type day int32

const noDay day = math.MinInt32

// pgEpoch is 2000-01-01, the origin of PostgreSQL's binary dates.
const pgEpoch = 10957

func dayOf(t time.Time) day {
	y, m, d := t.Date()
	return day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func (d day) time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// cents is an amount with two decimals (numeric(n,2)); negative is NULL.
type cents int64

// permille is a number with three decimals (numeric(4,3)); negative is NULL.
type permille int64

// optText is a nullable text: "" is NULL.
type optText string

// optInt32 is a nullable integer: 0 is NULL.
type optInt32 int32

// fastCodec wraps the codec pgx has for a type with direct encoders for the
// pointer types above.
type fastCodec struct {
	pgtype.Codec
}

func (c fastCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch oid {
		case pgtype.TextOID, pgtype.BPCharOID, pgtype.VarcharOID:
			switch value.(type) {
			case *string:
				return encodeFunc(encodeString)
			case *optText:
				return encodeFunc(encodeOptText)
			}
		case pgtype.Int8OID:
			if _, ok := value.(*int64); ok {
				return encodeFunc(encodeInt64)
			}
		case pgtype.Int2OID:
			if _, ok := value.(*int16); ok {
				return encodeFunc(encodeInt16)
			}
		case pgtype.Int4OID:
			if _, ok := value.(*optInt32); ok {
				return encodeFunc(encodeOptInt32)
			}
		case pgtype.BoolOID:
			if _, ok := value.(*bool); ok {
				return encodeFunc(encodeBool)
			}
		case pgtype.DateOID:
			if _, ok := value.(*day); ok {
				return encodeFunc(encodeDay)
			}
		case pgtype.NumericOID:
			switch value.(type) {
			case *cents:
				return encodeFunc(encodeCents)
			case *permille:
				return encodeFunc(encodePermille)
			}
		}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

type encodeFunc func(value any, buf []byte) ([]byte, error)

func (f encodeFunc) Encode(value any, buf []byte) ([]byte, error) { return f(value, buf) }

func encodeString(v any, buf []byte) ([]byte, error) {
	return append(buf, *v.(*string)...), nil
}

func encodeOptText(v any, buf []byte) ([]byte, error) {
	s := *v.(*optText)
	if s == "" {
		return nil, nil
	}
	return append(buf, s...), nil
}

func encodeInt64(v any, buf []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint64(buf, uint64(*v.(*int64))), nil
}

func encodeInt16(v any, buf []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint16(buf, uint16(*v.(*int16))), nil
}

func encodeOptInt32(v any, buf []byte) ([]byte, error) {
	n := *v.(*optInt32)
	if n == 0 {
		return nil, nil
	}
	return binary.BigEndian.AppendUint32(buf, uint32(n)), nil
}

func encodeBool(v any, buf []byte) ([]byte, error) {
	if *v.(*bool) {
		return append(buf, 1), nil
	}
	return append(buf, 0), nil
}

func encodeDay(v any, buf []byte) ([]byte, error) {
	d := *v.(*day)
	if d == noDay {
		return nil, nil
	}
	return binary.BigEndian.AppendUint32(buf, uint32(int32(d)-pgEpoch)), nil
}

func encodeCents(v any, buf []byte) ([]byte, error) {
	return appendNumeric(buf, int64(*v.(*cents)), 2), nil
}

func encodePermille(v any, buf []byte) ([]byte, error) {
	return appendNumeric(buf, int64(*v.(*permille)), 3), nil
}

var pow10 = [...]int64{1, 10, 100, 1000, 10000}

// appendNumeric writes v·10^-scale (scale 0..4) in the binary numeric format:
// ndigits, weight, sign, dscale, then base-10000 digits, most significant
// first. A negative v is NULL (no amount here is negative).
func appendNumeric(buf []byte, v int64, scale int) []byte {
	if v < 0 {
		return nil
	}
	ip, fp := v/pow10[scale], v%pow10[scale]
	frac := fp * pow10[4-scale] // the one fractional base-10000 digit
	var groups [5]uint16        // integer digits, least significant first
	n := 0
	for x := ip; x > 0; x /= 10000 {
		groups[n] = uint16(x % 10000)
		n++
	}
	ndigits, weight := n, n-1
	if frac != 0 {
		ndigits++
	}
	if ndigits == 0 {
		weight = 0
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(ndigits))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, 0) // sign: positive
	buf = binary.BigEndian.AppendUint16(buf, uint16(scale))
	for i := n - 1; i >= 0; i-- {
		buf = binary.BigEndian.AppendUint16(buf, groups[i])
	}
	if frac != 0 {
		buf = binary.BigEndian.AppendUint16(buf, uint16(frac))
	}
	return buf
}

// registerFastCodecs installs fastCodec for the types the loader writes on the
// connection's type map (the loader's own connections only).
func registerFastCodecs(conn *pgx.Conn) {
	m := conn.TypeMap()
	for _, oid := range []uint32{
		pgtype.TextOID, pgtype.BPCharOID, pgtype.VarcharOID, pgtype.Int8OID, pgtype.Int2OID,
		pgtype.Int4OID, pgtype.BoolOID, pgtype.DateOID, pgtype.NumericOID,
	} {
		t, ok := m.TypeForOID(oid)
		if !ok {
			continue
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: fastCodec{t.Codec}})
	}
}

// rowSource is a pgx.CopyFromSource over the rows one table gets from a range
// of households: it walks the households and asks the table for its rows of
// each. The values slice is built once and points at the table's row fields.
type rowSource struct {
	w        *walker
	t        table
	n, i     int
	vals     []any
	rows     int64
	err      error
	progress func(delta int64)
}

// table is what a COPY needs to know about one target table.
type table interface {
	name() string
	columns() []string
	values() []any                  // pointers to the row fields, in column order
	rowsOf(h *household) int        // rows the household gives
	fill(h *household, i int) error // load row i of the household into the fields
}

func (s *rowSource) Next() bool {
	for s.i >= s.n {
		if !s.w.next() {
			return false
		}
		s.n, s.i = s.t.rowsOf(&s.w.h), 0
	}
	if err := s.t.fill(&s.w.h, s.i); err != nil {
		s.err = err
		return false
	}
	s.i++
	s.rows++
	if s.progress != nil && s.rows%progressEvery == 0 {
		s.progress(progressEvery)
	}
	return true
}

const progressEvery = 1 << 16

func (s *rowSource) Values() ([]any, error) { return s.vals, nil }

func (s *rowSource) Err() error { return s.err }
