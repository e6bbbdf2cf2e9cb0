// Package lookup is what every household look-up shares (did-check,
// patto-check, did-holder-exclusion): a POST naming a person by codice
// fiscale, an answer read from PostgreSQL in one round trip or from the
// cache, and an audit record before the answer leaves. A function using it
// writes only its question: the SQL and the shape of the answer.
package lookup

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/cache"
	"github.com/rdc-interop/faas/shared/cf"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/deps"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Channel is where PostgreSQL announces, at commit, the households whose
// look-up data changed (migration 005): every look-up cache listens to it.
const Channel = "rdc_household_changed"

// cacheTTL only bounds memory: entries are dropped when their data changes.
const cacheTTL = 10 * time.Minute

// Read answers the question for the person whose canonical code is given,
// as of day. It returns the household the person belongs to (for the audit
// trail and the cache's invalidation) and a problem.NotFound error when the
// person is in no household.
type Read[T any] func(ctx context.Context, canonical cf.Code, day civil.Date) (nucleo int64, answer T, err error)

// Lookup is one function's question, cached and audited.
type Lookup[T any] struct {
	action   string
	read     Read[T]
	db       *pgxpool.Pool
	subjects audit.Subjects
	cache    *cache.Cache[cached[T]]
}

// New prepares the look-up named action (the audit action and the cache's
// key space); bg follows its invalidations once the function is built.
func New[T any](p *deps.Set, bg *web.Background, action string, read Read[T]) *Lookup[T] {
	l := &Lookup[T]{
		action:   action,
		read:     read,
		db:       p.DB,
		subjects: p.Subjects,
		cache:    cache.New[cached[T]](cacheTTL, p.Log),
	}
	bg.Go(func(ctx context.Context) { l.cache.Listen(ctx, p.DB, Channel, l.staleKeys) })
	return l
}

// Result is an answer and what it answers.
type Result[T any] struct {
	Code cf.Code // the code as sent, normalised (upper case, no spaces)
	// Answer may be the cache's own value, shared with other requests:
	// read it, do not modify it.
	Answer T
	At     time.Time // when the answer was true: verificato_il
}

type request struct {
	CodiceFiscale string `json:"codice_fiscale"`
}

// cached is an answer as kept in the cache, with its household for the
// audit record.
type cached[T any] struct {
	Nucleo int64
	Answer T
}

// Do reads the request body, answers it and leaves the audit record. An
// unknown person is audited too (someone asked about them) and is a 404.
func (l *Lookup[T]) Do(r *http.Request) (Result[T], error) {
	var in request
	if err := web.DecodeJSON(r, &in); err != nil {
		return Result[T]{}, err
	}
	code, err := cf.Parse(in.CodiceFiscale)
	if err != nil {
		return Result[T]{}, problem.Field("codice_fiscale", "invalid", "not a valid codice fiscale")
	}
	now := time.Now().UTC().Truncate(time.Second)
	ref := l.subjects.Ref(string(code.Canonical()))

	c, err := l.answer(r.Context(), code.Canonical(), ref, civil.Today(now))
	if problem.KindOf(err) == problem.NotFound {
		if aerr := web.Audit(r, audit.Entry{Action: l.action, SubjectRef: ref, Outcome: "not_found", Status: http.StatusNotFound}); aerr != nil {
			return Result[T]{}, aerr
		}
		return Result[T]{}, problem.New(problem.NotFound, "the codice fiscale is not in any RdC household")
	}
	if err != nil {
		return Result[T]{}, err
	}
	if err := web.Audit(r, audit.Entry{Action: l.action, SubjectRef: ref, NucleoID: c.Nucleo, Outcome: "found", Status: http.StatusOK}); err != nil {
		return Result[T]{}, err
	}
	return Result[T]{Code: code, Answer: c.Answer, At: now}, nil
}

// answer reads the cache, then PostgreSQL. The key is the business day and
// the subject reference: no codice fiscale in cache keys, and a date that
// turns (a DID declared for tomorrow, a pact ending today) is never hidden by
// yesterday's answer.
func (l *Lookup[T]) answer(ctx context.Context, canonical cf.Code, ref string, day civil.Date) (cached[T], error) {
	key := cacheKey(day, ref)
	if c, ok := l.cache.Get(key); ok {
		return c, nil
	}
	ticket := l.cache.Ticket()
	n, a, err := l.read(ctx, canonical, day)
	if err != nil {
		return cached[T]{}, err
	}
	c := cached[T]{Nucleo: n, Answer: a}
	l.cache.Put(ticket, key, c)
	return c, nil
}

func cacheKey(day civil.Date, ref string) string { return day.String() + ":" + ref }

// staleKeys lists the cache keys of a household whose data changed: every
// member's, for today and yesterday (a day may have just turned).
func (l *Lookup[T]) staleKeys(ctx context.Context, payload string) ([]string, error) {
	id, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return nil, err
	}
	rows, err := l.db.Query(ctx, `SELECT cf_canonico FROM componente WHERE nucleo_id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("query household members: %w", err)
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read household members: %w", err)
	}
	today := civil.Today(time.Now())
	yesterday := civil.Of(today.Time().AddDate(0, 0, -1))
	keys := make([]string, 0, 2*len(codes))
	for _, code := range codes {
		ref := l.subjects.Ref(code)
		keys = append(keys, cacheKey(today, ref), cacheKey(yesterday, ref))
	}
	return keys, nil
}

// Household runs a household query and collects its members: each row holds
// the household id first, then one member, as scan reads them. No row means
// the person is in no household (problem.NotFound). It saves each look-up
// the loop, the error wrapping and the not-found rule.
func Household[M any](ctx context.Context, q db.DBTX, sql string, scan func(pgx.CollectableRow) (nucleo int64, m M, err error), args ...any) (int64, []M, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("query household: %w", err)
	}
	var nucleo int64
	members, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (M, error) {
		n, m, err := scan(row)
		nucleo = n
		return m, err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("read household: %w", err)
	}
	if len(members) == 0 {
		return 0, nil, problem.New(problem.NotFound, "no household")
	}
	return nucleo, members, nil
}
