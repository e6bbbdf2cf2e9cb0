package function

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/db"
	"github.com/rdc-interop/faas/shared/keyset"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Page sizes: a page is one index range scan, so the largest stays a
// matter of milliseconds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Query is a page asked of either question: a range of days (Europe/Rome),
// the position after the previous page, and the page's size.
type Query struct {
	From, To *time.Time // at in [From, To): dal at 00:00, the day after al at 00:00
	After    *keyset.After[int64]
	Limit    int
}

// Params are the query parameters of both questions.
var Params = []string{"dal", "al", "cursor", "limit"}

// ParseQuery reads a page's parameters; every bad one is named, except a
// parameter neither question takes (its name is the caller's, and could be
// a codice fiscale).
func ParseQuery(q url.Values) (Query, error) {
	out := Query{Limit: DefaultLimit}
	errs := web.QueryErrors(q, Params...)
	if len(errs) > 0 {
		return out, problem.Fields(errs)
	}
	var dayErrs []problem.FieldError
	out.From, out.To, dayErrs = web.QueryDays(q, "dal", "al")
	errs = append(errs, dayErrs...)
	if v := q.Get("cursor"); v != "" {
		c, err := keyset.Parse[int64](v)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: "cursor", Code: "invalid", Detail: "not a cursor this question gave"})
		} else {
			out.After = &c
		}
	}
	if n, fe := web.QueryLimit(q, out.Limit, MaxLimit); fe != nil {
		errs = append(errs, *fe)
	} else {
		out.Limit = n
	}
	if len(errs) > 0 {
		return out, problem.Fields(errs)
	}
	return out, nil
}

// ValidClientID reports whether id may name a client in the client
// question: a short token of safe characters that is no codice fiscale,
// as the trail's client ids are ("-" is the trail's own, for what no
// client asked).
func ValidClientID(id string) bool { return web.SaneRequestID(id) }

// Operator is the person behind a call, as its tracking evidence named
// them (migration 018).
type Operator struct {
	ID    string  `json:"id"`
	Ruolo *string `json:"ruolo"`
	Sede  *string `json:"sede"`
	LoA   *string `json:"loa"`
}

// Access is one record of the trail: when, who (client, organisation,
// operator) and which exchange (function, action, outcome, status).
type Access struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id"`
	ClientID  string    `json:"client_id"`
	Org       string    `json:"org"`
	Operatore *Operator `json:"operatore"`
	Function  string    `json:"function"`
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	Status    int       `json:"status"`
	NucleoID  *int64    `json:"nucleo_id"`
}

// Activity is a record of the client question: an Access and the person
// it concerned, as the trail holds them (the keyed reference, or null).
type Activity struct {
	Access
	SubjectRef *string `json:"subject_ref"`
}

// SubjectPage answers who accessed a person.
type SubjectPage struct {
	SubjectRef string   `json:"subject_ref"`
	Items      []Access `json:"items"`
	NextCursor *string  `json:"next_cursor"`
}

// ClientPage answers what a client did.
type ClientPage struct {
	ClientID   string     `json:"client_id"`
	Items      []Activity `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

// The two questions' queries: newest first, so the first page is the
// latest and a walk through the pages is stable (what is recorded while
// it goes on comes before its first page, not inside it). Only the bounds
// asked are written in, so each is one range scan of its index, backwards,
// stopping after the page (migration 028): audit_log_subject_at_idx
// (subject_ref, at, id) and audit_log_client_at_idx (client_id, at, id).
const (
	columns    = `id, at, request_id, client_id, org, function, action, outcome, status, nucleo_id, operatore_id, operatore_ruolo, operatore_sede, operatore_loa`
	subjectSQL = `SELECT ` + columns + ` FROM audit_log WHERE subject_ref = @key`
	clientSQL  = `SELECT ` + columns + `, subject_ref FROM audit_log WHERE client_id = @key`
)

// SQL is the statement and arguments of a page: base (subjectSQL or
// clientSQL) with q's bounds, order and limit. One row more than the page
// tells whether another follows.
func (q Query) SQL(base, key string) (string, pgx.NamedArgs) {
	sql, args := base, pgx.NamedArgs{"key": key, "limit": q.Limit + 1}
	if q.From != nil {
		sql += ` AND at >= @from`
		args["from"] = *q.From
	}
	if q.To != nil {
		sql += ` AND at < @to`
		args["to"] = *q.To
	}
	if q.After != nil {
		sql += ` AND (at, id) < (@after_at, @after_id)`
		args["after_at"], args["after_id"] = q.After.At, q.After.ID
	}
	return sql + ` ORDER BY at DESC, id DESC LIMIT @limit`, args
}

// SubjectSQL is the statement of a page of who accessed the person whose
// reference is ref.
func (q Query) SubjectSQL(ref string) (string, pgx.NamedArgs) { return q.SQL(subjectSQL, ref) }

// ClientSQL is the statement of a page of what client did.
func (q Query) ClientSQL(client string) (string, pgx.NamedArgs) { return q.SQL(clientSQL, client) }

// Subject reads a page of the records about the person whose keyed
// reference is ref.
func Subject(ctx context.Context, conn db.DBTX, ref string, q Query) (SubjectPage, error) {
	sql, args := q.SubjectSQL(ref)
	p := SubjectPage{SubjectRef: ref, Items: []Access{}}
	err := read(ctx, conn, sql, args, false, func(r *record) { p.Items = append(p.Items, r.access()) })
	if err != nil {
		return p, fmt.Errorf("read the accesses to a person: %w", err)
	}
	if len(p.Items) > q.Limit {
		p.Items = p.Items[:q.Limit]
		p.NextCursor = cursor(p.Items[q.Limit-1])
	}
	return p, nil
}

// Client reads a page of the records of client.
func Client(ctx context.Context, conn db.DBTX, client string, q Query) (ClientPage, error) {
	sql, args := q.ClientSQL(client)
	p := ClientPage{ClientID: client, Items: []Activity{}}
	err := read(ctx, conn, sql, args, true, func(r *record) {
		p.Items = append(p.Items, Activity{Access: r.access(), SubjectRef: r.subject})
	})
	if err != nil {
		return p, fmt.Errorf("read a client's records: %w", err)
	}
	if len(p.Items) > q.Limit {
		p.Items = p.Items[:q.Limit]
		p.NextCursor = cursor(p.Items[q.Limit-1].Access)
	}
	return p, nil
}

// record is a row as scanned: columns, then subject_ref when asked.
type record struct {
	a                      Access
	user, role, place, loa *string
	subject                *string
}

func (r *record) targets(subject bool) []any {
	a := &r.a
	t := []any{&a.ID, &a.At, &a.RequestID, &a.ClientID, &a.Org, &a.Function, &a.Action, &a.Outcome, &a.Status, &a.NucleoID,
		&r.user, &r.role, &r.place, &r.loa}
	if subject {
		t = append(t, &r.subject)
	}
	return t
}

func (r *record) access() Access {
	a := r.a
	a.At = a.At.UTC()
	if r.user != nil {
		a.Operatore = &Operator{ID: *r.user, Ruolo: r.role, Sede: r.place, LoA: r.loa}
	}
	return a
}

func read(ctx context.Context, conn db.DBTX, sql string, args pgx.NamedArgs, subject bool, each func(*record)) error {
	rows, err := conn.Query(ctx, sql, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r record
		if err := rows.Scan(r.targets(subject)...); err != nil {
			return err
		}
		each(&r)
	}
	return rows.Err()
}

func cursor(a Access) *string {
	s := keyset.After[int64]{At: a.At, ID: a.ID}.String()
	return &s
}
