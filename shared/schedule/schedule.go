// Package schedule decides whether a scheduled call has anything to do.
//
// OpenFaaS Community Edition's cron-connector calls a function through the
// gateway with `X-Connector: cron-connector` and nothing else: no token, no
// secret, no body (its invoker sets no other header). Anyone who can reach
// the gateway can send the same request, so the call cannot be told apart
// and must carry no authority. Instead, each scheduled job declares its
// schedule in code, and a call only wakes it: the job runs for the latest
// instant of its schedule that has passed (the slot), once, whoever calls
// first; every other call for that slot is a no-op that costs one INSERT.
// An outside caller can at most make a due job start a few seconds before
// the connector would, never run it more often or earlier than planned.
package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rdc-interop/faas/shared/db"
)

// parser reads the cron-connector's five-field schedules (UTC).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed cron schedule.
type Schedule struct {
	spec string
	s    cron.Schedule
}

// Parse reads a five-field cron schedule, as in stack.yml's annotations.
func Parse(spec string) (Schedule, error) {
	s, err := parser.Parse(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return Schedule{spec: spec, s: s}, nil
}

// MustParse is Parse for schedules written in code.
func MustParse(spec string) Schedule {
	s, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// String is the schedule as written.
func (s Schedule) String() string { return s.spec }

// Slot is the latest instant of the schedule at or before now (UTC).
func (s Schedule) Slot(now time.Time) time.Time {
	now = now.UTC()
	// Look back further until an instant is found: a minute for "* * * * *",
	// a day for a daily job, about a year for the rarest schedules.
	for _, back := range []time.Duration{time.Minute, time.Hour, 25 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour} {
		t := s.s.Next(now.Add(-back - time.Second))
		if t.After(now) {
			continue
		}
		for {
			next := s.s.Next(t)
			if next.After(now) {
				return t
			}
			t = next
		}
	}
	return time.Time{}
}

// Claim takes the slot of function: true when this call is the first for
// it. Claims older than 40 days are removed on the way.
func Claim(ctx context.Context, q db.DBTX, function string, slot time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO cron_run (funzione, turno) VALUES ($1, $2) ON CONFLICT DO NOTHING`, function, slot)
	if err != nil {
		return false, fmt.Errorf("claim scheduled slot: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if _, err := q.Exec(ctx, `DELETE FROM cron_run WHERE funzione = $1 AND turno < now() - interval '40 days'`, function); err != nil {
		return false, fmt.Errorf("purge old scheduled slots: %w", err)
	}
	return true, nil
}

// Release gives a slot back after its run failed, so the next call runs it.
func Release(ctx context.Context, q db.DBTX, function string, slot time.Time) error {
	if _, err := q.Exec(ctx, `DELETE FROM cron_run WHERE funzione = $1 AND turno = $2`, function, slot); err != nil {
		return fmt.Errorf("release scheduled slot: %w", err)
	}
	return nil
}
