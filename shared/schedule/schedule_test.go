package schedule

import (
	"testing"
	"time"
)

func TestSlot(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		spec, now, want string
	}{
		{"* * * * *", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"},
		{"* * * * *", "2026-03-01T10:00:59Z", "2026-03-01T10:00:00Z"},
		{"30 1 * * *", "2026-03-01T01:29:59Z", "2026-02-28T01:30:00Z"},
		{"30 1 * * *", "2026-03-01T01:30:00Z", "2026-03-01T01:30:00Z"},
		{"30 1 * * *", "2026-03-01T23:00:00Z", "2026-03-01T01:30:00Z"},
		{"0 3 * * *", "2026-01-01T02:00:00Z", "2025-12-31T03:00:00Z"},
		{"0 0 1 * *", "2026-03-15T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"0 0 1 1 *", "2026-06-15T00:00:00Z", "2026-01-01T00:00:00Z"},
		// A time in another zone is read as the same instant in UTC.
		{"30 1 * * *", "2026-03-01T03:00:00+01:00", "2026-03-01T01:30:00Z"},
	} {
		got := MustParse(tc.spec).Slot(at(tc.now))
		if !got.Equal(at(tc.want)) {
			t.Errorf("%q at %s: slot %s, want %s", tc.spec, tc.now, got.Format(time.RFC3339), tc.want)
		}
	}
}

func TestParseRefusesBadSchedules(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"", "* * * *", "61 * * * *", "* * * * * *", "every day"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("%q parsed", spec)
		}
	}
}
