// Package civil is calendar days as the contract speaks of them: a "day" in
// business terms is the day in Europe/Rome, written as RFC 3339 full-date.
package civil

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/Rome without relying on the image's zoneinfo
)

// Rome is the time zone of business days.
var Rome = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err) // tzdata is embedded: this cannot fail
	}
	return loc
}()

// Date is a calendar day; its time is midnight UTC so it compares and stores
// as a PostgreSQL date without zone surprises.
type Date time.Time

// Today is the business day of instant now.
func Today(now time.Time) Date {
	y, m, d := now.In(Rome).Date()
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// Bounds is [start, end) of the day in Rome: 23 or 25 hours on the days the
// clocks change.
func (d Date) Bounds() (start, end time.Time) {
	y, m, dd := time.Time(d).Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, Rome), time.Date(y, m, dd+1, 0, 0, 0, 0, Rome)
}

// Of returns the day of t as stored (a date read from PostgreSQL).
func Of(t time.Time) Date {
	y, m, d := t.Date()
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// Ptr converts a nullable date from the database.
func Ptr(t *time.Time) *Date {
	if t == nil {
		return nil
	}
	d := Of(*t)
	return &d
}

// Parse reads an RFC 3339 full-date.
func Parse(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("want a date as YYYY-MM-DD")
	}
	return Date(t), nil
}

// Time is the day as midnight UTC.
func (d Date) Time() time.Time { return time.Time(d) }

func (d Date) String() string { return time.Time(d).Format(time.DateOnly) }

// MarshalJSON writes the full-date.
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON reads a full-date.
func (d *Date) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("want a date as \"YYYY-MM-DD\"")
	}
	v, err := Parse(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
