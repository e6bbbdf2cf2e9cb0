package keyset

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	u := After[uuid.UUID]{At: time.Date(2026, 5, 4, 10, 0, 0, 123000, time.UTC), ID: [16]byte{1, 2, 3}}
	got, err := Parse[uuid.UUID](u.String())
	if err != nil || !got.At.Equal(u.At) || got.ID != u.ID {
		t.Fatalf("%v %v", got, err)
	}
	n := After[int64]{At: time.Date(2026, 5, 1, 10, 0, 0, 123456000, time.UTC), ID: 42}
	gotN, err := Parse[int64](n.String())
	if err != nil || !gotN.At.Equal(n.At) || gotN.ID != 42 {
		t.Fatalf("%v %v", gotN, err)
	}
}

// TestRefused: only the spelling String writes is read, of the right id.
func TestRefused(t *testing.T) {
	t.Parallel()
	u := After[uuid.UUID]{At: time.UnixMicro(1_700_000_000_000_000), ID: uuid.MustParse("0196f1a0-0000-7000-8000-000000000001")}.String()
	n := After[int64]{At: time.UnixMicro(1_700_000_000_000_000), ID: 7}.String()
	enc := func(s string) string { return After[int64]{}.encode(s) }
	for _, bad := range []string{"", "x", u + "=", strings.Repeat("A", 200), "MTcwMA", "LTEuNQ",
		enc("-1.7"), enc("1700.0"), enc("01700.7"), enc("1700.07"),
		enc("1700." + strings.ToUpper("0196f1a0-0000-7000-8000-000000000001"))} {
		if _, err := Parse[uuid.UUID](bad); err == nil {
			t.Errorf("uuid cursor %q accepted", bad)
		}
		if _, err := Parse[int64](bad); err == nil {
			t.Errorf("int cursor %q accepted", bad)
		}
	}
	if _, err := Parse[int64](u); err == nil {
		t.Error("a cursor of a uuid read as one of a number")
	}
	if _, err := Parse[uuid.UUID](n); err == nil {
		t.Error("a cursor of a number read as one of a uuid")
	}
}

// FuzzParse: a cursor from outside parses to what String gives back, or is
// refused; never a panic.
func FuzzParse(f *testing.F) {
	f.Add(After[uuid.UUID]{At: time.UnixMicro(1_700_000_000_000_000), ID: uuid.MustParse("0196f1a0-0000-7000-8000-000000000001")}.String())
	f.Add(After[int64]{At: time.UnixMicro(1_700_000_000_000_000), ID: 7}.String())
	f.Add("")
	f.Add("MTcwMA")
	f.Add("LTEuNQ")
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := Parse[uuid.UUID](s); err == nil && c.String() != s {
			t.Fatalf("%q parses to a cursor that prints as %q", s, c.String())
		}
		if c, err := Parse[int64](s); err == nil && c.String() != s {
			t.Fatalf("%q parses to a cursor that prints as %q", s, c.String())
		}
	})
}
