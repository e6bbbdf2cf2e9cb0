package web

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/problem"
)

// QueryLimit reads a list's page size from limit: def when absent, else a
// number from 1 to most, written plainly (no sign, no leading zero).
func QueryLimit(q url.Values, def, most int) (int, *problem.FieldError) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most || v != strconv.Itoa(n) {
		return def, &problem.FieldError{Field: "limit", Code: "invalid", Detail: fmt.Sprintf("from 1 to %d", most)}
	}
	return n, nil
}

// QueryDays reads a range of days (Europe/Rome) from the parameters from
// and to, both included: the first instant of from and the first after
// to, nil where a parameter is absent. A day's bounds are Rome's, so the
// day of a change of the clocks lasts 23 or 25 hours.
func QueryDays(q url.Values, from, to string) (start, end *time.Time, errs []problem.FieldError) {
	day := func(name string, next bool) *time.Time {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		d, err := civil.Parse(v)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: name, Code: "invalid", Detail: "a date, YYYY-MM-DD"})
			return nil
		}
		first, after := d.Bounds()
		if next {
			return &after
		}
		return &first
	}
	start, end = day(from, false), day(to, true)
	if start != nil && end != nil && !end.After(*start) {
		errs = append(errs, problem.FieldError{Field: to, Code: "invalid", Detail: "before " + from})
	}
	return start, end, errs
}
