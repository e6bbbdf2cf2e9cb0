package civil

import (
	"encoding/json"
	"testing"
	"time"
)

func TestToday(t *testing.T) {
	t.Parallel()
	tests := []struct {
		instant string
		want    string
	}{
		{"2026-03-01T10:00:00Z", "2026-03-01"},
		{"2026-02-28T23:30:00Z", "2026-03-01"}, // 00:30 in Rome (CET, +1)
		{"2026-07-31T22:30:00Z", "2026-08-01"}, // 00:30 in Rome (CEST, +2)
		{"2026-07-31T21:59:59Z", "2026-07-31"},
	}
	for _, tt := range tests {
		now, _ := time.Parse(time.RFC3339, tt.instant)
		if got := Today(now).String(); got != tt.want {
			t.Errorf("Today(%s) = %s, want %s", tt.instant, got, tt.want)
		}
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	var d Date
	if err := json.Unmarshal([]byte(`"2026-03-01"`), &d); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	if string(b) != `"2026-03-01"` {
		t.Fatalf("round trip: %s", b)
	}
	for _, bad := range []string{`"2026-3-1"`, `20260301`, `"2026-02-30"`, `""`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		day   string
		start string // UTC
		hours float64
	}{
		{"2026-01-15", "2026-01-14T23:00:00Z", 24},
		{"2026-07-15", "2026-07-14T22:00:00Z", 24},
		{"2026-03-29", "2026-03-28T23:00:00Z", 23}, // clocks forward
		{"2026-10-25", "2026-10-24T22:00:00Z", 25}, // clocks back
	} {
		d, err := Parse(c.day)
		if err != nil {
			t.Fatal(err)
		}
		start, end := d.Bounds()
		if got := start.UTC().Format(time.RFC3339); got != c.start || end.Sub(start).Hours() != c.hours {
			t.Errorf("%s: starts %s, lasts %v hours; want %s, %v", c.day, got, end.Sub(start).Hours(), c.start, c.hours)
		}
	}
}
