package function

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rdc-interop/faas/shared/audit"
	"github.com/rdc-interop/faas/shared/civil"
	"github.com/rdc-interop/faas/shared/conditionality"
	"github.com/rdc-interop/faas/shared/keyset"
	"github.com/rdc-interop/faas/shared/problem"
	"github.com/rdc-interop/faas/shared/web"
)

// Page sizes: the contract leaves them to the function.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// States of the list's stato filter. DA_RISCONTRARE, the default, is what
// INPS has still to take in: it reads those first, acknowledges them, and
// they leave the list.
const (
	daRiscontrare = "DA_RISCONTRARE"
	riscontrato   = "RISCONTRATO"
	tutti         = "TUTTI"
)

// filter is a list request's query, checked.
type filter struct {
	stato    string
	from, to *time.Time // registered in [from, to): dal at 00:00, the day after al at 00:00, Rome time
	after    *keyset.After[uuid.UUID]
	limit    int
}

var known = []string{"stato", "dal", "al", "cursor", "limit"}

// parseFilter reads the query string; every bad parameter is named, except
// one the list does not take (its name is the caller's, and could be a
// codice fiscale).
func parseFilter(q url.Values) (filter, error) {
	f := filter{stato: daRiscontrare, limit: defaultLimit}
	errs := web.QueryErrors(q, known...)
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	bad := func(field, code, detail string) {
		errs = append(errs, problem.FieldError{Field: field, Code: code, Detail: detail})
	}
	switch v := q.Get("stato"); v {
	case "":
	case daRiscontrare, riscontrato, tutti:
		f.stato = v
	default:
		bad("stato", "invalid", "DA_RISCONTRARE, RISCONTRATO or TUTTI")
	}
	var dayErrs []problem.FieldError
	f.from, f.to, dayErrs = web.QueryDays(q, "dal", "al")
	errs = append(errs, dayErrs...)
	if v := q.Get("cursor"); v != "" {
		c, err := keyset.Parse[uuid.UUID](v)
		if err != nil {
			bad("cursor", "invalid", "not a cursor this list gave")
		} else {
			f.after = &c
		}
	}
	if n, fe := web.QueryLimit(q, f.limit, maxLimit); fe != nil {
		errs = append(errs, *fe)
	} else {
		f.limit = n
	}
	if len(errs) > 0 {
		return f, problem.Fields(errs)
	}
	return f, nil
}

// item is one event as INPS lists it: what it was notified of, and
// whether it has acknowledged it.
type item struct {
	conditionality.Notice
	RiscontratoIl *time.Time `json:"riscontrato_il"`
}

type page struct {
	Items      []item  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// listSQL is the events, oldest first, so a cursor also finds those that
// arrive later. Only the filters asked are written into the query, so
// the planner walks the index of the state asked (migration 020).
const listSQL = `
SELECT e.id, m.codice_fiscale, e.tipo, e.data_evento, e.lato, e.segnalante, e.riferimento, e.note, e.creato_il, e.riscontrato_il
FROM evento_condizionalita e
JOIN componente m ON m.id = e.componente_id
WHERE true`

func (x *events) list(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		return err
	}
	sql := listSQL
	args := pgx.NamedArgs{"limit": f.limit + 1} // one more row tells whether another page follows
	switch f.stato {
	case daRiscontrare:
		sql += ` AND e.riscontrato_il IS NULL`
	case riscontrato:
		sql += ` AND e.riscontrato_il IS NOT NULL`
	}
	if f.from != nil {
		sql += ` AND e.creato_il >= @from`
		args["from"] = *f.from
	}
	if f.to != nil {
		sql += ` AND e.creato_il < @to`
		args["to"] = *f.to
	}
	if f.after != nil {
		sql += ` AND (e.creato_il, e.id) > (@after_at, @after_id)`
		args["after_at"], args["after_id"] = f.after.At, f.after.ID
	}
	sql += ` ORDER BY e.creato_il, e.id LIMIT @limit`
	rows, err := x.db.Query(r.Context(), sql, args)
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	p := page{Items: []item{}}
	var ids []uuid.UUID
	for rows.Next() {
		var it item
		var id uuid.UUID
		var day time.Time
		n := &it.Notice
		if err := rows.Scan(&id, &n.CodiceFiscale, &n.Tipo, &day, &n.Lato, &n.Segnalante, &n.Riferimento, &n.Note,
			&n.RegistratoIl, &it.RiscontratoIl); err != nil {
			rows.Close()
			return fmt.Errorf("list events: %w", err)
		}
		n.IDEvento, n.DataEvento, n.RegistratoIl = id.String(), civil.Of(day), n.RegistratoIl.UTC()
		if it.RiscontratoIl != nil {
			utc := it.RiscontratoIl.UTC()
			it.RiscontratoIl = &utc
		}
		p.Items = append(p.Items, it)
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	if len(p.Items) > f.limit {
		p.Items = p.Items[:f.limit]
		next := keyset.After[uuid.UUID]{At: p.Items[f.limit-1].RegistratoIl, ID: ids[f.limit-1]}.String()
		p.NextCursor = &next
	}
	// One record per page: the page's rows are the events INPS was
	// notified of, each already traced when its notification left.
	if err := web.Audit(r, audit.Entry{Action: "conditionality-list", Outcome: fmt.Sprintf("rows:%d", len(p.Items)), Status: http.StatusOK}); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, p)
}
